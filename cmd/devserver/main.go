// Command devserver is the `node app.js` of tsunagi: it builds client.wasm,
// serves the pages of web/ and hosts the Socket.IO endpoint, with the demo
// of the Socket.IO tutorial: on connect it emits `news` {"hello":"world"},
// and it logs each `my other event` the page sends back.
//
//	go run ./cmd/devserver            # http://127.0.0.1:8124/
//	go run ./cmd/devserver -addr 127.0.0.1:9000 -web ./mypages
package main

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
	"syscall"
	"time"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/web"
)

// The tutorial's events.
type (
	News struct {
		Hello string `json:"hello"`
	}
	MyData struct {
		My string `json:"my"`
	}
)

var (
	NewsEvent    = shared.NewEvent[News]("news")
	MyOtherEvent = shared.NewEvent[MyData]("my other event")
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8124", "address to listen on")
	webDir := flag.String("web", "web", "folder of pages to serve at /")
	wasmPkg := flag.String("wasm", "github.com/tsunagi/tsunagi/cmd/clientwasm", "main package to build as client.wasm (GOOS=js GOARCH=wasm)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	if err := run(*addr, *webDir, *wasmPkg); err != nil {
		log.Fatal(err)
	}
}

func run(addr, webDir, wasmPkg string) error {
	log.Printf("building %s as client.wasm …", wasmPkg)
	start := time.Now()
	assets, err := buildAssets(wasmPkg)
	if err != nil {
		return err
	}
	log.Printf("built client.wasm in %v: %d bytes, %d gzip", time.Since(start).Round(time.Millisecond), len(assets.wasm.raw), len(assets.wasm.gz))

	io := server.New(&server.Options{
		// Any loopback page may connect: a page from 127.0.0.1 to localhost too.
		OriginPatterns: []string{"localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", `\[::1\]`, `\[::1\]:*`},
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	io.OnConnection(func(s *server.Socket) {
		log.Printf("connected: %s from %s", s.ID(), s.Handshake().Address)
		NewsEvent.Emit(s, News{Hello: "world"})
		MyOtherEvent.On(s, func(d MyData) {
			log.Printf(`my other event: {"my":%q}`, d.My)
		})
		s.OnDisconnect(func(reason string) { log.Printf("disconnected: %s (%s)", s.ID(), reason) })
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("GET /socket.io/socket.io.js", serveBytes("text/javascript; charset=utf-8", web.Loader))
	mux.Handle("GET /client.wasm", assets.wasm)
	mux.Handle("GET /wasm_exec.js", serveBytes("text/javascript; charset=utf-8", assets.wasmExec))
	mux.Handle("/", pages(webDir))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
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
	err1 := io.Shutdown(sctx)
	err2 := hs.Shutdown(sctx)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Printf("bye")
	return nil
}

// pages serves webDir, answering 500 with a clear message when it has no index.html.
func pages(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			if _, err := os.Stat(dir + "/index.html"); err != nil {
				msg := fmt.Sprintf("devserver: cannot serve %s/index.html: %v\nCreate it, or point -web at a folder that has one.\n", dir, err)
				log.Print(msg)
				http.Error(w, msg, http.StatusInternalServerError)
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}
