package wasmclient

import (
	"net/url"
	"testing"
)

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

// parseLink splits URLs as net/url does, for the URLs a client is given.
func TestParseLinkMatchesNetURL(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"http://localhost", "http://127.0.0.1:8124/", "https://example.com/chat?x=1&y=2#top",
		"ws://[::1]:3000/admin", "HTTP://Example.com/A/b", "http://user:pw@host:81/p?q", "wss://h/?",
		"http://[fe80::1]/", "http://host:80", "http://h/a/b/c?k=v#f?g",
	} {
		l, err := parseLink(raw)
		u, uerr := url.Parse(raw)
		if err != nil || uerr != nil {
			t.Fatalf("%q: %v, net/url: %v", raw, err, uerr)
		}
		if l.scheme != u.Scheme || l.path != u.Path || l.query != u.RawQuery || l.fragment != u.Fragment ||
			l.hostname() != u.Hostname() || l.port() != u.Port() {
			t.Errorf("parseLink(%q) = %+v (host %q port %q); net/url: %+v", raw, l, l.hostname(), l.port(), u)
		}
		if u.RawQuery != "" && l.String() != u.String() {
			t.Errorf("parseLink(%q).String() = %q; net/url: %q", raw, l.String(), u.String())
		}
	}
	for _, bad := range []string{"localhost", "://x", "/path", "http://a b/"} {
		if _, err := parseLink(bad); err == nil {
			t.Errorf("parseLink(%q) succeeded", bad)
		}
	}
	for _, h := range []string{"localhost", "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"} {
		if !isLoopback(h) {
			t.Errorf("isLoopback(%q) = false", h)
		}
	}
	for _, h := range []string{"example.com", "128.0.0.1", "127.0.0", "127.0.0.256", "::2", "10.0.0.1"} {
		if isLoopback(h) {
			t.Errorf("isLoopback(%q) = true", h)
		}
	}
}
