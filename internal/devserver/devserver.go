// Package devserver is the body of cmd/devserver, shared with the examples
// and the browser tests: it builds a wasm client and serves it, the loader,
// a folder of pages and a Socket.IO endpoint.
package devserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/web"
)

// Config is what a devserver serves. Main reads each field from a flag whose
// default is the value given.
type Config struct {
	Addr string // -addr: where to listen
	Web  string // -web: the folder of pages served at /
	Wasm string // -wasm: the main package built as client.wasm
}

// DefaultWasm is the default client.wasm: the socket.io-client-shaped io().
const DefaultWasm = "github.com/tsunagi/tsunagi/cmd/clientwasm"

// LoopbackOrigins lets any page served from a loopback host connect.
var LoopbackOrigins = []string{"localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", `\[::1\]`, `\[::1\]:*`}

// Handler routes the endpoint, the loader, the wasm files and the pages.
func Handler(io *server.Server, webDir string, a *Assets) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("GET /socket.io/socket.io.js", serveBytes("text/javascript; charset=utf-8", web.Loader))
	mux.Handle("GET /client.wasm", a.Wasm)
	mux.Handle("GET /wasm_exec.js", serveBytes("text/javascript; charset=utf-8", a.WasmExec))
	mux.Handle("/", pages(webDir))
	return mux
}

// Main parses the flags, builds the client, calls setup with the server and
// serves until SIGINT or SIGTERM, then shuts down gracefully.
func Main(def Config, setup func(*server.Server)) {
	cfg := def
	flag.StringVar(&cfg.Addr, "addr", def.Addr, "address to listen on")
	flag.StringVar(&cfg.Web, "web", def.Web, "folder of pages to serve at /")
	flag.StringVar(&cfg.Wasm, "wasm", def.Wasm, "main package to build as client.wasm (GOOS=js GOARCH=wasm)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	if err := Run(cfg, setup); err != nil {
		log.Fatal(err)
	}
}

// Run is Main without the flags.
func Run(cfg Config, setup func(*server.Server)) error {
	log.Printf("building %s as client.wasm …", cfg.Wasm)
	start := time.Now()
	a, err := BuildAssets(cfg.Wasm)
	if err != nil {
		return err
	}
	log.Printf("built client.wasm in %v: %d bytes, %d gzip", time.Since(start).Round(time.Millisecond), len(a.Wasm.Raw), len(a.Wasm.GZ))
	// Brotli at its best takes a while the first time: serve gzip meanwhile.
	go func() {
		start := time.Now()
		if err := a.Wasm.AddBrotli(); err != nil {
			log.Printf("brotli: %v (serving gzip)", err)
			return
		}
		log.Printf("client.wasm brotli: %d bytes (%v)", len(a.Wasm.BR()), time.Since(start).Round(time.Millisecond))
	}()

	io := server.New(&server.Options{
		OriginPatterns: LoopbackOrigins,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	setup(io)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: Handler(io, cfg.Web, a), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	log.Printf("listening on http://%s/", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Printf("shutting down …")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := errors.Join(io.Shutdown(sctx), hs.Shutdown(sctx)); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Printf("bye")
	return nil
}

// pages serves dir, answering 500 with a clear message when it has no index.html.
func pages(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
				msg := fmt.Sprintf("devserver: cannot serve %s: %v\nCreate it, or point -web at a folder that has one.\n", filepath.Join(dir, "index.html"), err)
				log.Print(msg)
				http.Error(w, msg, http.StatusInternalServerError)
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}
