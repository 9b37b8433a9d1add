package wasmclient

import (
	"net"
	"net/url"
	"strings"
)

// ResolveURL turns the first argument of io() into an absolute URL the way
// a page expects, given the page's own address:
//   - "" or a path ("/admin") means the page's origin (and that namespace);
//   - "//host" takes the page's scheme; "host:port" gets one;
//   - a loopback host without a port ("http://localhost") reaches the page's
//     own port when the page is served from a loopback host too, as in the
//     Socket.IO tutorial this project grew from.
func ResolveURL(raw, page string) (string, error) {
	p, err := url.Parse(page)
	if err != nil {
		return "", err
	}
	switch {
	case raw == "":
		raw = p.Scheme + "://" + p.Host + "/"
	case strings.HasPrefix(raw, "//"):
		raw = p.Scheme + ":" + raw
	case strings.HasPrefix(raw, "/"):
		raw = p.Scheme + "://" + p.Host + raw
	case !strings.Contains(raw, "://"):
		raw = p.Scheme + "://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Port() == "" && isLoopback(u.Hostname()) && isLoopback(p.Hostname()) && p.Port() != "" {
		u.Host = net.JoinHostPort(u.Hostname(), p.Port())
	}
	return u.String(), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
