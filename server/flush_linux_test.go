package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// One broadcast at a time to quiet sockets (their readers parked) is
// written by the server's flushers: one write per socket, no writer
// goroutine started, and every socket reads every event, in order.
func TestBroadcastToQuietSocketsByFlushers(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{}))
	joined := make(chan *Socket, 64)
	srv.OnConnection(func(s *Socket) { joined <- s })
	url := startPlain(t, srv)
	const n, rounds = 20, 30
	var conns []*websocket.Conn
	for range n {
		conns = append(conns, joinMain(t, url, nil))
		wait.Recv(t, "the socket", joined)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	wait.For(t, "every socket quiet: its reader parked, no writer", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		for c := range srv.conns {
			c.mu.Lock()
			busy := c.active || c.writing || c.dispatching
			c.mu.Unlock()
			if busy || !srv.idle.Parked(&c.park) {
				return false
			}
		}
		return len(srv.conns) == n
	})
	flushed, started := srv.flushers.flushed(), srv.helpersStarted.Load()
	for r := range rounds {
		if err := srv.Emit("tick", r); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`42["tick",%d]`, r)
		for i, ws := range conns {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("client %d, round %d: %v", i, r, err)
			}
			if string(b) != want {
				t.Fatalf("client %d, round %d: %q, want %q", i, r, b, want)
			}
		}
	}
	// Each client read the previous event before the next was sent, so
	// every delivery was a queue of its own, written by a flusher.
	if got := srv.flushers.flushed() - flushed; got != n*rounds {
		t.Errorf("%d of %d deliveries written by the flushers", got, n*rounds)
	}
	if got := srv.helpersStarted.Load() - started; got != 0 {
		t.Errorf("%d writer or dispatcher goroutines started for %d deliveries to quiet sockets", got, n*rounds)
	}
}
