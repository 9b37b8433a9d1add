// Command zishang is the third server of scripts/bench: the same two events
// as bench/node/server.js and cmd/benchserver, on
// github.com/zishang520/socket.io (servers/socket/v3), the Go Socket.IO
// server users would most likely pick besides ours. WebSocket only,
// Socket.IO's defaults otherwise (pingInterval 25 s, pingTimeout 20 s, no
// compression).
//
//	echo        acks its arguments back
//	broadcast   emits bcast with its arguments to every socket, then acks
//
// It is a module of its own, so that the main module neither requires
// zishang520's packages nor builds this with ./...:
//
//	cd bench/zishang && go build -o /tmp/zishang . && /tmp/zishang -addr 127.0.0.1:8127
package main

import (
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8127", "listen address")
	flag.Parse()

	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetTransports(types.NewSet(socket.WebSocket))
	// Engine.IO's own defaults, spelled out: the same as Node's.
	opts.SetPingInterval(25 * time.Second)
	opts.SetPingTimeout(20 * time.Second)
	io := socket.NewServer(nil, opts)

	_ = io.On("connection", func(clients ...any) {
		s, ok := clients[0].(*socket.Socket)
		if !ok {
			return
		}
		_ = s.On("echo", func(args ...any) {
			if ack, rest := popAck(args); ack != nil {
				ack(rest, nil)
			}
		})
		_ = s.On("broadcast", func(args ...any) {
			ack, rest := popAck(args)
			io.Emit("bcast", rest...)
			if ack != nil {
				ack(nil, nil)
			}
		})
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(nil))
	hs := &http.Server{Handler: mux}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("zishang520/socket.io servers/socket/v3: listening on %s, transports websocket", ln.Addr())

	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-done:
	}
	hs.Close()
	io.Close(nil)
}

// popAck splits an event's arguments into its ack callback, when the
// client asked for one, and the arguments before it.
func popAck(args []any) (socket.Ack, []any) {
	if n := len(args); n > 0 {
		if ack, ok := args[n-1].(socket.Ack); ok {
			return ack, args[:n-1]
		}
	}
	return nil, args
}
