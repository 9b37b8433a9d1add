package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/andybalholm/brotli"
)

// Assets are the files a page needs to run a Go wasm client: client.wasm,
// the wasm_exec.js of the toolchain that built it, and the loader. Make
// them with BuildWasm (or NewAssets) and serve them with Handler or Handle.
type Assets struct {
	Wasm     *Precompressed // client.wasm
	WasmExec *Precompressed // wasm_exec.js of the same toolchain
	Loader   *Precompressed // the loader, served at /socket.io/socket.io.js
}

// The types the assets are served with.
const (
	TypeWasm = "application/wasm"
	TypeJS   = "text/javascript; charset=utf-8"
)

// NewAssets makes Assets of a built client.wasm and its wasm_exec.js, with
// the loader of this package.
func NewAssets(wasm, wasmExec []byte) (*Assets, error) {
	var a Assets
	var err error
	if a.Wasm, err = NewPrecompressed(TypeWasm, wasm); err != nil {
		return nil, err
	}
	if a.WasmExec, err = NewPrecompressed(TypeJS, wasmExec); err != nil {
		return nil, err
	}
	if a.Loader, err = NewPrecompressed(TypeJS, Loader); err != nil {
		return nil, err
	}
	return &a, nil
}

// AddBrotli makes the brotli form of each file (see Precompressed.AddBrotli).
func (a *Assets) AddBrotli() error {
	return errors.Join(a.Wasm.AddBrotli(), a.WasmExec.AddBrotli(), a.Loader.AddBrotli())
}

// Handle registers the assets on mux: GET (and HEAD) of
// /socket.io/socket.io.js, /client.wasm and /wasm_exec.js, under names that
// do not change, so they are served with Cache-Control: no-cache and an
// ETag. The patterns are more specific than "/socket.io/", so the Socket.IO
// endpoint may be registered on the same mux.
func (a *Assets) Handle(mux *http.ServeMux) {
	mux.Handle("GET /socket.io/socket.io.js", a.Loader)
	mux.Handle("GET /client.wasm", a.Wasm)
	mux.Handle("GET /wasm_exec.js", a.WasmExec)
}

// Handler serves the assets as Handle registers them, and 404 otherwise.
func (a *Assets) Handler() http.Handler {
	mux := http.NewServeMux()
	a.Handle(mux)
	return mux
}

// Precompressed is one file compressed ahead of time, served with the
// encoding the request prefers: brotli (once AddBrotli has made it), gzip,
// or none. Its ETag is its content hash.
type Precompressed struct {
	typ     string
	Raw, GZ []byte
	sum     [sha256.Size]byte
	br      atomic.Pointer[[]byte]
}

// NewPrecompressed compresses raw with gzip once, for every request to
// come; typ is its Content-Type.
func NewPrecompressed(typ string, raw []byte) (*Precompressed, error) {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &Precompressed{typ: typ, Raw: raw, GZ: b.Bytes(), sum: sha256.Sum256(raw)}, nil
}

// Hash is the hex SHA-256 of the file.
func (p *Precompressed) Hash() string { return hex.EncodeToString(p.sum[:]) }

// BR is the brotli form, nil until AddBrotli has made it.
func (p *Precompressed) BR() []byte {
	if b := p.br.Load(); b != nil {
		return *b
	}
	return nil
}

// AddBrotli compresses the file with brotli at quality 11, which takes tens
// of seconds for client.wasm, so the result is kept in the user's cache
// directory under the file's SHA-256 and read from there next time. It may
// run while the file is served; until it is done, gzip is served instead.
func (p *Precompressed) AddBrotli() error {
	if p.br.Load() != nil {
		return nil
	}
	var path string
	if dir, err := os.UserCacheDir(); err == nil {
		path = filepath.Join(dir, "tsunagi", "brotli", p.Hash()+".br")
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
		_ = writeFile(path, out) // a cache: without it, the next start compresses again
	}
	return nil
}

// ServeHTTP serves the file under a name that does not change between
// builds: Cache-Control: no-cache, revalidated by ETag.
func (p *Precompressed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.serve(w, r, cacheRevalidate)
}

func (p *Precompressed) serve(w http.ResponseWriter, r *http.Request, cache string) {
	v := variants{
		typ:   p.typ,
		tag:   `"` + p.Hash()[:32] + `"`,
		cache: cache,
		raw:   memory(p.Raw),
		gz:    ptr(memory(p.GZ)),
	}
	if br := p.BR(); br != nil {
		v.br = ptr(memory(br))
	}
	v.serve(w, r)
}

func memory(b []byte) source {
	return source{size: int64(len(b)), open: func() (io.Reader, error) { return bytes.NewReader(b), nil }}
}

func ptr[T any](v T) *T { return &v }
