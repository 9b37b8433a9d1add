package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// TestPrecompressed: brotli to browsers that accept it, gzip to the others,
// the raw file to the rest; always with Vary and the content type; the
// brotli form is cached on disk for the next start.
func TestPrecompressed(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	raw := []byte(strings.Repeat("tsunagi client.wasm ", 5000))
	p, err := NewPrecompressed("application/wasm", raw)
	if err != nil {
		t.Fatal(err)
	}
	get := func(accept string) (string, []byte) {
		r := httptest.NewRequest("GET", "/client.wasm", nil)
		if accept != "" {
			r.Header.Set("Accept-Encoding", accept)
		}
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if ct, v := w.Header().Get("Content-Type"), w.Header().Get("Vary"); ct != "application/wasm" || v != "Accept-Encoding" {
			t.Fatalf("Content-Type %q, Vary %q", ct, v)
		}
		return w.Header().Get("Content-Encoding"), w.Body.Bytes()
	}
	if enc, _ := get("gzip, deflate, br"); enc != "gzip" {
		t.Fatalf("before AddBrotli: %q, want gzip", enc)
	}
	if err := p.AddBrotli(); err != nil {
		t.Fatal(err)
	}
	enc, body := get("gzip, deflate, br, zstd")
	if enc != "br" {
		t.Fatalf("encoding %q, want br", enc)
	}
	if got, _ := io.ReadAll(brotli.NewReader(bytes.NewReader(body))); !bytes.Equal(got, raw) {
		t.Fatal("brotli body does not decode to the file")
	}
	enc, body = get("gzip")
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if enc != "gzip" || err != nil {
		t.Fatalf("encoding %q, %v", enc, err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, raw) {
		t.Fatal("gzip body does not decode to the file")
	}
	if enc, body = get(""); enc != "" || !bytes.Equal(body, raw) {
		t.Fatalf("no Accept-Encoding: %q, %d bytes", enc, len(body))
	}
	if enc, _ = get("br;q=0, gzip"); enc != "gzip" {
		t.Fatalf("br refused with q=0: got %q", enc)
	}
	// The cached form is used by the next one.
	files, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "tsunagi", "brotli", "*.br"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	q, _ := NewPrecompressed("application/wasm", raw)
	if err := os.WriteFile(files[0], []byte("from the cache"), 0o644); err != nil {
		t.Fatal(err)
	}
	q.AddBrotli()
	if string(q.BR()) != "from the cache" {
		t.Fatal("the cache was not used")
	}
}
