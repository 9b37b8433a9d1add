package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// Every connection gets its pings on time from the server's one heartbeat
// timer, whenever it joined; one that stops answering is dropped with
// "ping timeout", and the others go on.
func TestHeartbeatsManyConnections(t *testing.T) {
	t.Parallel()
	const (
		n        = 40
		interval = 150 * time.Millisecond
		watch    = 1500 * time.Millisecond
	)
	srv := New(quietOptions(Options{PingInterval: interval, PingTimeout: 400 * time.Millisecond}))
	reasons := make(chan string, n)
	srv.OnConnection(func(s *Socket) { s.OnDisconnect(func(r string) { reasons <- r }) })
	url := startPlain(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()

	pings := make([][]time.Time, n)
	var wg sync.WaitGroup
	// Joins 7 ms apart, spread over two intervals: a schedule for the
	// clients, not a wait for something.
	pace := time.NewTicker(7 * time.Millisecond)
	defer pace.Stop()
	for i := range n {
		<-pace.C
		ws := joinMain(t, url, nil)
		silent := i == n/2
		wg.Add(1)
		go func() {
			defer wg.Done()
			end := time.Now().Add(watch)
			for time.Now().Before(end) {
				rctx, rcancel := context.WithDeadline(ctx, end)
				_, b, err := ws.Read(rctx)
				rcancel()
				if err != nil {
					return
				}
				if string(b) != "2" {
					continue
				}
				pings[i] = append(pings[i], time.Now())
				if !silent {
					ws.Write(ctx, websocket.MessageText, []byte("3"))
				}
			}
		}()
	}
	wg.Wait()
	for i, ps := range pings {
		if i == n/2 {
			continue
		}
		// About watch/interval pings, less what joining took.
		if len(ps) < 5 || len(ps) > 11 {
			t.Errorf("client %d: %d pings in %v with a %v interval", i, len(ps), watch, interval)
		}
		for j := 1; j < len(ps); j++ {
			if gap := ps[j].Sub(ps[j-1]); gap < interval*2/3 {
				t.Errorf("client %d: pings %v apart, interval %v", i, gap, interval)
			}
		}
	}
	if r := wait.Recv(t, "the silent client dropped", reasons); r != ReasonPingTimeout {
		t.Errorf("first disconnect: %q, want %q", r, ReasonPingTimeout)
	}
}
