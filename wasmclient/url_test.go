package wasmclient

import (
	"maps"
	"net/url"
	"slices"
	"strings"
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

// parseQuery and encodeQuery read and write queries as net/url does.
func TestQueryMatchesNetURL(t *testing.T) {
	t.Parallel()
	var all []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
	}
	for _, raw := range []string{
		"", "a=1", "a=1&b=2&a=3", "a", "=x", "&&a=1&", "a=1;b=2&c=3", "k=%41%2b%2F+x", "k=%4", "k=%zz&j=1",
		"%=1&b=%", "a+b=c+d", "x=" + url.QueryEscape(string(all)), "é=ü&ü=é%C3%A9",
		strings.Repeat("a=1&", 9999) + "a=1", strings.Repeat("a=1&", 10000) + "a=1",
	} {
		want, _ := url.ParseQuery(raw)
		got := parseQuery(raw)
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("parseQuery(%.40q) = %.200v; net/url: %.200v", raw, got, want)
		}
		if enc := encodeQuery(got); enc != want.Encode() {
			t.Errorf("encodeQuery(%.40q) = %.200q; net/url: %.200q", raw, enc, want.Encode())
		}
	}
	q := map[string][]string{"b": {string(all)}, string(all): {"1", "2"}, "a": {""}}
	if got, want := encodeQuery(q), url.Values(q).Encode(); got != want {
		t.Errorf("encodeQuery = %q; net/url: %q", got, want)
	}
}
