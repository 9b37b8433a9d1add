package web

import (
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Cache-Control values: a name that stays the same across builds must be
// revalidated on each use (cheap: 304 Not Modified by ETag); a
// content-hashed name never changes meaning, so it is cached for a year.
const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
)

// source opens one encoding of a file; size is its length in bytes.
type source struct {
	size int64
	open func() (io.Reader, error)
}

// variants is one file in its encodings, as served under one name.
type variants struct {
	typ   string // Content-Type
	tag   string // ETag of the identity form, from the content hash, quoted
	cache string // Cache-Control
	raw   source
	gz    *source // nil when there is no gzip form
	br    *source // nil when there is no brotli form (yet)
}

// serve answers GET and HEAD with the encoding the request prefers among
// those at hand, and 304 Not Modified when If-None-Match names it. Each
// encoding has its own strong ETag: the content hash with a suffix.
func (v *variants) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Vary", "Accept-Encoding")
	h.Set("Cache-Control", v.cache)
	src, tag := &v.raw, v.tag
	switch negotiate(r.Header.Get("Accept-Encoding"), v.br != nil, v.gz != nil) {
	case "br":
		src, tag = v.br, suffixed(v.tag, "br")
		h.Set("Content-Encoding", "br")
	case "gzip":
		src, tag = v.gz, suffixed(v.tag, "gz")
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", tag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && matchesETag(inm, tag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", v.typ)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.FormatInt(src.size, 10))
	if r.Method == http.MethodHead {
		return
	}
	body, err := src.open()
	if err != nil {
		h.Del("Content-Length")
		h.Del("Content-Encoding")
		h.Del("ETag")
		http.Error(w, "cannot open the file", http.StatusInternalServerError)
		return
	}
	if c, ok := body.(io.Closer); ok {
		defer c.Close()
	}
	_, _ = io.Copy(w, body)
}

// suffixed turns the quoted tag "abc" into "abc-enc".
func suffixed(tag, enc string) string {
	return strings.TrimSuffix(tag, `"`) + "-" + enc + `"`
}

// matchesETag reports whether an If-None-Match header names tag, with the
// weak comparison that RFC 9110 prescribes for it (W/ is ignored).
func matchesETag(header, tag string) bool {
	if strings.TrimSpace(header) == "*" {
		return true
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag {
			return true
		}
	}
	return false
}

// negotiate picks the content coding for an Accept-Encoding header: the
// one with the highest q-value among br (when haveBR), gzip (when haveGZ)
// and identity, preferring them in that order on a tie. A coding that is
// not named takes the q-value of "*" when there is one, else 0; identity
// is also the answer when nothing else is acceptable (it is acceptable
// unless refused, but least preferred when not named). "" means identity.
func negotiate(header string, haveBR, haveGZ bool) string {
	if header == "" {
		return ""
	}
	q := map[string]float64{}
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		v, ok := qValue(params)
		if !ok {
			continue // a malformed element is ignored
		}
		q[name] = v
	}
	get := func(enc string) float64 {
		if v, ok := q[enc]; ok {
			return v
		}
		if v, ok := q["*"]; ok {
			return v
		}
		return 0
	}
	best, bestQ := "", 0.0
	if haveBR && get("br") > bestQ {
		best, bestQ = "br", get("br")
	}
	if haveGZ && get("gzip") > bestQ {
		best, bestQ = "gzip", get("gzip")
	}
	if get("identity") > bestQ {
		best = "" // named, and preferred
	}
	return best // "" also when nothing else is acceptable
}

// qValue reads the q parameter of one Accept-Encoding element: 1 when it
// has none, ok false when it is malformed.
func qValue(params string) (float64, bool) {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return 0, false
		}
		return f, true
	}
	return 1, true
}
