package devserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
)

// Assets are the files built for the browser.
type Assets struct {
	Wasm     *Precompressed // client.wasm
	WasmExec []byte         // wasm_exec.js of the same toolchain
}

// BuildAssets builds pkg for js/wasm and reads the wasm_exec.js of the same
// Go toolchain, so the two always match.
func BuildAssets(pkg string) (*Assets, error) {
	return BuildAssetsContext(context.Background(), pkg)
}

// BuildAssetsContext is BuildAssets with a context that ends the build.
func BuildAssetsContext(ctx context.Context, pkg string) (*Assets, error) {
	dir, err := os.MkdirTemp("", "tsunagi-devserver-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "client.wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	cmd.Stderr = os.Stderr
	// Ended, go build is asked to stop (and to clean up after itself) before
	// it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building %s for js/wasm: %w", pkg, err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	execJS, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return nil, fmt.Errorf("copying wasm_exec.js: %w", err)
	}
	p, err := NewPrecompressed("application/wasm", raw)
	if err != nil {
		return nil, err
	}
	return &Assets{Wasm: p, WasmExec: execJS}, nil
}

// Precompressed serves one file compressed ahead of time: brotli to the
// browsers that accept it (once AddBrotli has made it), gzip to the others.
type Precompressed struct {
	typ     string
	Raw, GZ []byte
	br      atomic.Pointer[[]byte]
}

// NewPrecompressed compresses raw with gzip once, for every request to come.
func NewPrecompressed(typ string, raw []byte) (*Precompressed, error) {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &Precompressed{typ: typ, Raw: raw, GZ: b.Bytes()}, nil
}

// BR is the brotli form, nil until AddBrotli has made it.
func (p *Precompressed) BR() []byte {
	if b := p.br.Load(); b != nil {
		return *b
	}
	return nil
}

// AddBrotli compresses the file with brotli at quality 11, which takes tens
// of seconds for client.wasm, so the result is kept in the user's cache
// directory under the file's SHA-256 and read from there next time.
func (p *Precompressed) AddBrotli() error {
	sum := sha256.Sum256(p.Raw)
	var path string
	if dir, err := os.UserCacheDir(); err == nil {
		path = filepath.Join(dir, "tsunagi", "brotli", hex.EncodeToString(sum[:])+".br")
		if b, err := os.ReadFile(path); err == nil {
			p.br.Store(&b)
			return nil
		}
	}
	var b bytes.Buffer
	w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: 11, LGWin: 22})
	if _, err := w.Write(p.Raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	out := b.Bytes()
	p.br.Store(&out)
	if path != "" && os.MkdirAll(filepath.Dir(path), 0o755) == nil {
		tmp := path + ".tmp"
		if os.WriteFile(tmp, out, 0o644) == nil {
			_ = os.Rename(tmp, path)
		}
	}
	return nil
}

func (p *Precompressed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", p.typ)
	h.Set("Vary", "Accept-Encoding")
	h.Set("Cache-Control", "no-cache")
	body := p.Raw
	accept := r.Header.Get("Accept-Encoding")
	if br := p.BR(); br != nil && acceptsEncoding(accept, "br") {
		h.Set("Content-Encoding", "br")
		body = br
	} else if acceptsEncoding(accept, "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = p.GZ
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func acceptsEncoding(header, enc string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), enc) {
			return !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") || strings.Contains(params, "q=0.")
		}
	}
	return false
}

func serveBytes(typ string, b []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", typ)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	})
}
