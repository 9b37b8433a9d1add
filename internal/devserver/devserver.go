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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/metrics"
	"github.com/tsunagi/tsunagi/web"
)

// Config is what a devserver serves. Main reads each field from a flag whose
// default is the value given.
type Config struct {
	Addr string // -addr: where to listen
	Web  string // -web: the folder of pages served at /
	Wasm string // -wasm: the main package built as client.wasm
	// -trace: print every handshake and every packet, decoded (trace.go).
	Trace bool
	// -run: a main package to build and run as the server, instead of
	// setup's handlers: it listens on $TSUNAGI_ADDR (or :$PORT), and the
	// devserver proxies to it what it does not serve itself.
	Run     string
	NoWatch bool   // -watch=false: build once, no reload
	Tags    string // -tags: build tags for client.wasm and the -run server
}

// DefaultWasm is the default client.wasm: the socket.io-client-shaped io().
const DefaultWasm = "github.com/tsunagi/tsunagi/cmd/clientwasm"

// LoopbackOrigins lets any page served from a loopback host connect.
var LoopbackOrigins = []string{"localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", `\[::1\]`, `\[::1\]:*`}

// Handler routes the endpoint, the loader, the wasm files and the pages.
func Handler(io *server.Server, webDir string, a *web.Assets) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("GET /metrics", metricsHandler(io))
	a.Handle(mux)
	mux.Handle("/", pages(webDir))
	return mux
}

// metricsHandler serves io's Prometheus metrics (package server/metrics),
// from a registry of its own, in the text format.
func metricsHandler(io *server.Server) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(io))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// Main parses the flags, builds the client, calls setup with the server and
// serves until SIGINT or SIGTERM, then shuts down gracefully.
func Main(def Config, setup func(*server.Server)) {
	cfg := def
	flag.StringVar(&cfg.Addr, "addr", def.Addr, "address to listen on")
	flag.StringVar(&cfg.Web, "web", def.Web, "folder of pages to serve at /")
	flag.StringVar(&cfg.Wasm, "wasm", def.Wasm, "main package to build as client.wasm (GOOS=js GOARCH=wasm)")
	flag.BoolVar(&cfg.Trace, "trace", def.Trace, "print every WebSocket handshake and every Engine.IO and Socket.IO packet, decoded, to stderr")
	flag.StringVar(&cfg.Run, "run", def.Run, "main `package` to build and run as the server, behind the devserver: it listens on $"+EnvAddr+" (host:port) or $"+EnvPort+", the devserver proxies to it")
	watch := flag.Bool("watch", !def.NoWatch, "rebuild on changes, reload the pages, restart the -run server")
	flag.StringVar(&cfg.Tags, "tags", def.Tags, "comma-separated build `tags` for client.wasm and the -run server")
	buildDir := flag.String("build", "", "write a production build of the client assets into `DIR` and exit")
	buildPkg := flag.String("pkg", "", "with -build: also write DIR/embed.go, a Go package `NAME` that embeds the build")
	flag.Parse()
	cfg.NoWatch = !*watch
	log.SetFlags(log.Ltime)
	if *buildDir != "" {
		if err := Build(*buildDir, *buildPkg, cfg, os.Stdout); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := Run(cfg, setup); err != nil {
		log.Fatal(err)
	}
}

// Run is Main without the flags. It binds cfg.Addr before anything else, so
// the port is held from the start (a browser that connects while client.wasm
// builds waits in the listen queue, and ":0" picks a free port without a
// race), then builds and serves. It prints "listening on http://<bound
// address>/" once it serves: that line is the readiness signal that tests
// and scripts wait for. SIGINT or SIGTERM, during the build or after, ends
// it gracefully with a nil error.
func Run(cfg Config, setup func(*server.Server)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close() // in case the build fails; Serve closes it too

	loop, err := newLoop(cfg)
	if err != nil {
		return err
	}
	defer loop.stop() // the -run server ends with the devserver
	watching := loop.startWatching(ctx)
	log.Printf("building %s as client.wasm for http://%s/ …", cfg.Wasm, ln.Addr())
	// A failed first build ends the devserver, unless it watches: then it
	// serves the error until a change fixes it.
	_, err = loop.buildWasm(ctx, true)
	if cfg.Run != "" && (err == nil || !cfg.NoWatch) && ctx.Err() == nil {
		log.Printf("building %s to run as the server …", cfg.Run)
		err = errors.Join(err, loop.startChild(ctx))
	}
	select {
	case <-watching:
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		log.Printf("interrupted while building: bye")
		return nil
	}
	if err != nil && cfg.NoWatch {
		return err
	}

	var io *server.Server // with -run, the user's server is the endpoint
	if cfg.Run == "" {
		io = server.New(&server.Options{
			OriginPatterns: LoopbackOrigins,
			Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
		})
		setup(io)
	}

	hs := &http.Server{Handler: loop.handler(io), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	if cfg.Trace { // the endpoint through a relay that prints what passes
		tr, err := TraceServer(os.Stderr, hs.Handler)
		if err != nil {
			return err
		}
		defer tr.Close() // after shutdown: the server's closes have reached the pages
		hs.Handler = tr.Endpoint(hs.Handler)
	}
	hs.RegisterOnShutdown(loop.reload.Stop) // the pages reconnect to the next devserver
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Printf("listening on http://%s/", ln.Addr())
	if io != nil {
		log.Printf("metrics: http://%s/metrics (Prometheus text format)", ln.Addr())
	}
	go loop.run(ctx)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second SIGINT kills at once, as usual
	log.Printf("shutting down …")
	endpoint := loop.stopChild // with -run, its server ends its sessions
	if io != nil {
		endpoint = io.Shutdown
	}
	if err := shutdown(endpoint, hs, shutdownTimeout); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Printf("bye")
	return nil
}

// shutdownTimeout bounds a graceful shutdown; past it the connections left
// are closed.
const shutdownTimeout = 5 * time.Second

// shutdown stops the Socket.IO endpoint and the HTTP server at once: the
// listener closes right away, so that a client that reconnects meanwhile
// is refused rather than accepted by a server on its way out, while the
// Socket.IO server ends its sessions (and with them any long-poll request
// that hs.Shutdown would otherwise wait for). When the timeout passes
// first, every connection left is closed.
func shutdown(endpoint func(context.Context) error, hs *http.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ioErr := make(chan error, 1)
	go func() { ioErr <- endpoint(ctx) }()
	err := hs.Shutdown(ctx)
	err = errors.Join(<-ioErr, err)
	if err != nil {
		hs.Close()
	}
	return err
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
