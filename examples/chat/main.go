// Command chat is a small chat with rooms: its server is a plain Go main
// (server.New, the chat's handlers, its pages), and its browser side is a
// Go wasm program (./client), not JavaScript. Both import ./events.
//
// In development, run it under the devserver, which builds client.wasm,
// serves the pages and rebuilds and reloads on each edit:
//
//	go run ./cmd/devserver -web examples/chat/web -wasm ./examples/chat/client -run ./examples/chat
//
// In production, build the client assets once, then serve them:
//
//	go run ./cmd/devserver -wasm ./examples/chat/client -build /tmp/chat-assets
//	go run ./examples/chat -assets /tmp/chat-assets     # http://127.0.0.1:8125/
//
// It listens on -addr, by default $TSUNAGI_ADDR (which the devserver sets
// for -run) or 127.0.0.1:8125.
//
// With -redis, it joins a cluster of chat servers over that Redis
// (server/redisadapter): a line said on one server reaches the room's
// users on every server. Two nodes, and one page that shows a tab of
// each:
//
//	redis-server --port 6379 --save '' &
//	go run ./examples/chat -assets /tmp/chat-assets -redis redis://127.0.0.1:6379 -addr 127.0.0.1:8125 &
//	go run ./examples/chat -assets /tmp/chat-assets -redis redis://127.0.0.1:6379 -addr 127.0.0.1:8126 &
//	# open http://127.0.0.1:8125/cluster.html
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tsunagi/tsunagi/examples/chat/events"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/redisadapter"
	"github.com/tsunagi/tsunagi/web"
)

// The chat's pages.
//
//go:embed web
var pages embed.FS

func main() {
	addr := os.Getenv("TSUNAGI_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8125"
	}
	flag.StringVar(&addr, "addr", addr, "address to listen on")
	assets := flag.String("assets", "", "folder of the client assets written by `devserver -wasm ./examples/chat/client -build DIR`")
	redisURL := flag.String("redis", "", "join the chat servers of this Redis, as redis://HOST:PORT")
	flag.Parse()
	log.SetFlags(log.Ltime)
	if err := run(addr, *assets, *redisURL); err != nil {
		log.Fatal(err)
	}
}

func run(addr, assets, redisURL string) error {
	opts := &server.Options{}
	if redisURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cluster, err := redisadapter.New(ctx, redisadapter.Options{URL: redisURL})
		cancel()
		if err != nil {
			return err
		}
		defer cluster.Close()
		opts.Adapter = cluster.Adapter
		log.Printf("in the cluster of %s", redisURL)
	}
	io := server.New(opts)
	Setup(io)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	if assets != "" {
		b, err := web.OpenBuild(os.DirFS(assets))
		if err != nil {
			return err
		}
		b.Handle(mux)
	} else {
		log.Printf("no -assets: serving no client.wasm (the devserver serves it in development)")
	}
	sub, _ := fs.Sub(pages, "web")
	mux.Handle("/", http.FileServerFS(sub))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Printf("listening on http://%s/", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(io.Shutdown(sctx), hs.Shutdown(sctx))
}

// Setup installs the chat's handlers on io.
func Setup(io *server.Server) {
	io.OnConnection(func(s *server.Socket) {
		events.Join.Handle(s, func(req events.JoinRequest) (int, error) {
			room := strings.TrimSpace(req.Room)
			if room == "" || len(room) > 64 {
				return 0, errors.New("a room name has 1 to 64 characters")
			}
			for _, r := range s.Rooms() {
				if r != s.ID() {
					s.Leave(r)
				}
			}
			s.Join(room)
			s.SetData(room)
			// Every server's sockets in the room, with a cluster adapter.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			socks, _ := io.Of("/").To(room).FetchSockets(ctx)
			cancel()
			n := len(socks)
			events.Joined.Emit(io.To(room), events.Presence{Room: room, User: req.User, Count: n})
			return n, nil
		})
		events.Say.On(s, func(m events.Message) {
			room, _ := s.Data().(string)
			if room == "" || strings.TrimSpace(m.Text) == "" {
				return
			}
			m.Room = room // a socket speaks only where it is
			events.Said.Emit(io.To(room), m)
		})
	})
}
