package wasmclient

import "testing"

func TestResolveURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, page, want string }{
		{"http://localhost", "http://127.0.0.1:8124/", "http://localhost:8124"},
		{"http://127.0.0.1", "http://localhost:9000/x.html", "http://127.0.0.1:9000"},
		{"http://localhost:3000", "http://127.0.0.1:8124/", "http://localhost:3000"},
		{"", "http://127.0.0.1:8124/index.html", "http://127.0.0.1:8124/"},
		{"/admin", "http://127.0.0.1:8124/", "http://127.0.0.1:8124/admin"},
		{"//example.com/chat", "https://a.example/", "https://example.com/chat"},
		{"example.com:81", "http://a.example/", "http://example.com:81"},
		{"http://example.com", "http://127.0.0.1:8124/", "http://example.com"},
		{"http://[::1]", "http://[::1]:8124/", "http://[::1]:8124"},
	} {
		got, err := ResolveURL(tc.raw, tc.page)
		if err != nil || got != tc.want {
			t.Errorf("ResolveURL(%q, %q) = %q, %v; want %q", tc.raw, tc.page, got, err, tc.want)
		}
	}
}
