package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		header string
		br, gz bool
		want   string
	}{
		{"", true, true, ""},
		{"gzip, deflate, br", true, true, "br"},
		{"gzip, deflate, br", false, true, "gzip"},
		{"gzip, deflate, br", false, false, ""},
		{"br;q=0, gzip", true, true, "gzip"},
		{"br;q=0.0, gzip", true, true, "gzip"},
		{"br;q=0.5, gzip", true, true, "gzip"},
		{"br;q=0.9, gzip;q=0.8", true, true, "br"},
		{"br; q=0.001", true, true, "br"},
		{"GZIP", true, true, "gzip"},
		{"*", true, true, "br"},
		{"*;q=0.5, br;q=0", true, true, "gzip"},
		{"gzip;q=0.5, identity", true, true, ""},
		{"identity", true, true, ""},
		{"br;q=2, gzip", true, true, "gzip"}, // malformed element ignored
		{"br;q=x", true, true, ""},
		{"deflate", true, true, ""},
		{",,;q=1,", true, true, ""},
	} {
		if got := negotiate(c.header, c.br, c.gz); got != c.want {
			t.Errorf("negotiate(%q, br %v, gz %v) = %q, want %q", c.header, c.br, c.gz, got, c.want)
		}
	}
}

// fetch does one request to url, with the headers given and no
// transparent decompression.
func fetch(t *testing.T, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer c.CloseIdleConnections()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func decode(t *testing.T, enc string, body []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	switch enc {
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "":
	default:
		t.Fatalf("Content-Encoding %q", enc)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkServed covers what every asset URL does, over a real connection:
// Content-Type, Vary, Cache-Control, the encoding the request prefers, an
// ETag per encoding that If-None-Match turns into 304, and HEAD.
func checkServed(t *testing.T, url, typ, cache string, raw []byte, haveBR bool) {
	t.Helper()
	tags := map[string]string{}
	for _, c := range []struct{ accept, want string }{
		{"gzip, deflate, br, zstd", "br"},
		{"br;q=0, gzip", "gzip"},
		{"br;q=0.5, gzip;q=1", "gzip"},
		{"", ""},
		{"gzip;q=0.1, identity", ""},
	} {
		want := c.want
		if want == "br" && !haveBR {
			want = "gzip"
		}
		res, body := fetch(t, "GET", url, "Accept-Encoding", c.accept)
		h := res.Header
		if res.StatusCode != 200 || h.Get("Content-Type") != typ || h.Get("Vary") != "Accept-Encoding" || h.Get("Cache-Control") != cache {
			t.Fatalf("GET %s (%q): %s, Content-Type %q, Vary %q, Cache-Control %q", url, c.accept, res.Status, h.Get("Content-Type"), h.Get("Vary"), h.Get("Cache-Control"))
		}
		if got := h.Get("Content-Encoding"); got != want {
			t.Fatalf("GET %s with Accept-Encoding %q: Content-Encoding %q, want %q", url, c.accept, got, want)
		}
		if !bytes.Equal(decode(t, want, body), raw) {
			t.Fatalf("GET %s (%q): the body does not decode to the file", url, c.accept)
		}
		if res.ContentLength != int64(len(body)) {
			t.Fatalf("Content-Length %d for %d bytes", res.ContentLength, len(body))
		}
		tag := h.Get("ETag")
		if !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) || len(tag) < 18 {
			t.Fatalf("ETag %q is not a strong entity tag", tag)
		}
		if prev, ok := tags[want]; ok && prev != tag {
			t.Fatalf("two ETags for one encoding: %q, %q", prev, tag)
		}
		tags[want] = tag

		res, body = fetch(t, "GET", url, "Accept-Encoding", c.accept, "If-None-Match", `"nope", W/`+tag)
		if res.StatusCode != http.StatusNotModified || len(body) != 0 || res.Header.Get("ETag") != tag {
			t.Fatalf("If-None-Match %s: %s, %d bytes, ETag %q", tag, res.Status, len(body), res.Header.Get("ETag"))
		}
		res, body = fetch(t, "HEAD", url, "Accept-Encoding", c.accept)
		if res.StatusCode != 200 || len(body) != 0 || res.Header.Get("Content-Encoding") != want || res.Header.Get("ETag") != tag {
			t.Fatalf("HEAD: %s, %d bytes, %q, %q", res.Status, len(body), res.Header.Get("Content-Encoding"), res.Header.Get("ETag"))
		}
	}
	if len(tags) != 3-btoi(!haveBR) {
		t.Fatalf("ETags %v: want one per encoding", tags)
	}
	if res, _ := fetch(t, "GET", url, "If-None-Match", tags["gzip"]); res.StatusCode != 200 {
		t.Fatalf("the gzip ETag matched the identity form: %s", res.Status)
	}
	if res, _ := fetch(t, "POST", url); res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %s", res.Status)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestAssetsHandler: the development assets under their plain names, before
// and after AddBrotli.
func TestAssetsHandler(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	wasm := []byte(strings.Repeat("\x00asm tsunagi client ", 4000))
	a, err := NewAssets(wasm, []byte(strings.Repeat("// wasm_exec.js\n", 300)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	defer hs.Close()
	checkServed(t, hs.URL+"/client.wasm", TypeWasm, "no-cache", wasm, false)
	if err := a.AddBrotli(); err != nil {
		t.Fatal(err)
	}
	checkServed(t, hs.URL+"/client.wasm", TypeWasm, "no-cache", wasm, true)
	checkServed(t, hs.URL+"/wasm_exec.js", TypeJS, "no-cache", a.WasmExec.Raw, true)
	checkServed(t, hs.URL+"/socket.io/socket.io.js", TypeJS, "no-cache", Loader, true)
	if res, _ := fetch(t, "GET", hs.URL+"/other.wasm"); res.StatusCode != 404 {
		t.Fatalf("/other.wasm: %s", res.Status)
	}
	// Another build, another ETag.
	b, _ := NewAssets(append([]byte("x"), wasm...), a.WasmExec.Raw)
	if a.Wasm.Hash() == b.Wasm.Hash() {
		t.Fatal("two files, one hash")
	}
}
