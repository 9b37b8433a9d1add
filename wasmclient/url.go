package wasmclient

import (
	"errors"
	"sort"
	"strings"
)

// link is an absolute URL split as the client needs it. The client parses
// URLs itself, not with net/url, which would add a tenth to client.wasm:
// scheme://host/path?query#fragment, taken as written (no unescaping).
type link struct {
	scheme, host, path, query, fragment string
}

func parseLink(raw string) (link, error) {
	var l link
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/?#") {
		return l, errors.New("tsunagi: URL " + raw + " has no scheme")
	}
	l.scheme = strings.ToLower(scheme)
	rest, l.fragment, _ = strings.Cut(rest, "#")
	rest, l.query, _ = strings.Cut(rest, "?")
	l.host = rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		l.host, l.path = rest[:i], rest[i:]
	}
	if strings.ContainsAny(l.host, " \t\r\n") {
		return l, errors.New("tsunagi: invalid host in URL " + raw)
	}
	return l, nil
}

func (l link) String() string {
	s := l.scheme + "://" + l.host + l.path
	if l.query != "" {
		s += "?" + l.query
	}
	if l.fragment != "" {
		s += "#" + l.fragment
	}
	return s
}

// hostname and port split host as net/url does: "[::1]:80" is "::1" and
// "80"; user information is dropped.
func (l link) hostname() string {
	h, _ := l.splitHost()
	return h
}

func (l link) port() string {
	_, p := l.splitHost()
	return p
}

func (l link) splitHost() (host, port string) {
	h := l.host
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		h = h[i+1:]
	}
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			host, h = h[1:i], h[i+1:]
			_, port, _ = strings.Cut(h, ":")
			return host, port
		}
	}
	host, port, _ = strings.Cut(h, ":")
	return host, port
}

// ResolveURL turns the first argument of io() into an absolute URL the way
// a page expects, given the page's own address:
//   - "" or a path ("/admin") means the page's origin (and that namespace);
//   - "//host" takes the page's scheme; "host:port" gets one;
//   - a loopback host without a port ("http://localhost") reaches the page's
//     own port when the page is served from a loopback host too, as in the
//     Socket.IO tutorial this project grew from.
func ResolveURL(raw, page string) (string, error) {
	p, err := parseLink(page)
	if err != nil {
		return "", err
	}
	switch {
	case raw == "":
		raw = p.scheme + "://" + p.host + "/"
	case strings.HasPrefix(raw, "//"):
		raw = p.scheme + ":" + raw
	case strings.HasPrefix(raw, "/"):
		raw = p.scheme + "://" + p.host + raw
	case !strings.Contains(raw, "://"):
		raw = p.scheme + "://" + raw
	}
	u, err := parseLink(raw)
	if err != nil {
		return "", err
	}
	if u.port() == "" && isLoopback(u.hostname()) && isLoopback(p.hostname()) && p.port() != "" {
		h := u.hostname()
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		u.host = h + ":" + p.port()
	}
	return u.String(), nil
}

// isLoopback reports whether host is localhost or a loopback address:
// 127.x.y.z, ::1, or ::ffff:127.x.y.z.
func isLoopback(host string) bool {
	switch host = strings.ToLower(host); {
	case host == "localhost", host == "::1", host == "0:0:0:0:0:0:0:1":
		return true
	case strings.HasPrefix(host, "::ffff:"):
		host = host[len("::ffff:"):]
	}
	parts := strings.Split(host, ".")
	if len(parts) != 4 || parts[0] != "127" {
		return false
	}
	for _, p := range parts {
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
		}
		if p == "" || len(p) > 3 || n > 255 {
			return false
		}
	}
	return true
}

// parseQuery is url.ParseQuery, errors aside: the pairs it cannot read are
// left out, as there. The client encodes and decodes queries itself: url's
// query functions would add 15 KB to client.wasm.
func parseQuery(s string) map[string][]string {
	m := map[string][]string{}
	if strings.Count(s, "&")+1 > 10000 { // net/url's default limit
		return m
	}
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		if kv == "" || strings.Contains(kv, ";") {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, ok := queryUnescape(k)
		v, ok2 := queryUnescape(v)
		if ok && ok2 {
			m[k] = append(m[k], v)
		}
	}
	return m
}

// encodeQuery is url.Values.Encode: "k=v&…", sorted by key.
func encodeQuery(q map[string][]string) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Sort(sort.StringSlice(keys))
	var b []byte
	for _, k := range keys {
		for _, v := range q[k] {
			if len(b) > 0 {
				b = append(b, '&')
			}
			b = appendQueryEscape(append(appendQueryEscape(b, k), '='), v)
		}
	}
	return string(b)
}

// appendQueryEscape appends url.QueryEscape(s).
func appendQueryEscape(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// queryUnescape is url.QueryUnescape; ok is false where it fails.
func queryUnescape(s string) (string, bool) {
	if !strings.ContainsAny(s, "%+") {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", false
			}
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case '+':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
