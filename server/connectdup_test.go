package server_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
)

// TestSecondConnectPipelined: two CONNECTs to one namespace, written back to
// back so that the second arrives while the first is still queued for the
// dispatcher, are refused as surely as a second CONNECT after the reply: the
// connection ends as bad input, and the namespace never holds two sockets of
// one connection. (The server once checked only for a socket already made,
// so two queued CONNECTs made two.)
func TestSecondConnectPipelined(t *testing.T) {
	t.Parallel()
	srv, url := quietServer(t)
	var joins atomic.Int32
	release := make(chan struct{})
	srv.Of("/custom").Use(func(s *server.Socket) error {
		<-release // holds the first CONNECT on the dispatcher while the second is read
		return nil
	})
	srv.Of("/custom").OnConnection(func(s *server.Socket) { joins.Add(1) })
	ws := socketIOSession(t, url)
	writeText(t, ws, "40/custom,")
	writeText(t, ws, "40/custom,")
	// The reader answers a ping itself, in order: a pong proves that both
	// CONNECTs were read while the first is still held by the middleware.
	writeText(t, ws, "2")
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	released := false
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("the connection is still open after a second CONNECT to /custom")
			}
			break // ended by the server: what it guarantees for bad input
		}
		if string(b) == "3" && !released {
			released = true
			close(release)
		}
	}
	if !released {
		close(release)
	}
	// The middleware may still be returning: wait for the namespace to be
	// done with the first CONNECT before counting.
	wait.For(t, "/custom's CONNECTs to be handled", func() bool { return len(srv.Of("/custom").Sockets()) == 0 })
	if n := joins.Load(); n > 1 {
		t.Fatalf("%d sockets joined /custom on one connection, want at most 1", n)
	}
}
