//go:build !js

package wasmclient_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestReconnectSpread: 1000 clients reconnecting after a server restart
// arrive spread out by the randomized backoff (socket.io-client's defaults:
// 1 s, factor 0.5), not in one burst. The figures are in the README.
func TestReconnectSpread(t *testing.T) {
	const n = 1000
	var (
		mu       sync.Mutex
		arrivals []time.Time
		counting bool
	)
	r := newRestartable(t, func(srv *server.Server) {
		srv.OnConnection(func(*server.Socket) {
			mu.Lock()
			if counting {
				arrivals = append(arrivals, time.Now())
			}
			mu.Unlock()
		})
	})
	clients := make([]*wasmclient.Socket, n)
	for i := range clients {
		c, err := wasmclient.New(r.url(), &wasmclient.Options{OnError: func(error) {}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		clients[i] = c
	}
	defer func() {
		for _, c := range clients {
			c.Disconnect()
		}
	}()
	r.kill()
	mu.Lock()
	counting = true
	mu.Unlock()
	restarted := time.Now()
	r.restart()
	wait.For(t, "every client back", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrivals) == n
	})
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	at := func(q float64) time.Duration { return arrivals[int(q*float64(n-1))].Sub(restarted) }
	// The busiest 100 ms window.
	busiest := 0
	for i, j := 0, 0; i < n; i++ {
		for arrivals[i].Sub(arrivals[j]) > 100*time.Millisecond {
			j++
		}
		busiest = max(busiest, i-j+1)
	}
	var hist strings.Builder
	for b := 0; b < 20; b++ {
		lo, hi := time.Duration(b)*100*time.Millisecond, time.Duration(b+1)*100*time.Millisecond
		c := 0
		for _, a := range arrivals {
			if d := a.Sub(restarted); d >= lo && d < hi {
				c++
			}
		}
		if c > 0 {
			fmt.Fprintf(&hist, "  %4d–%4d ms: %d\n", lo.Milliseconds(), hi.Milliseconds(), c)
		}
	}
	t.Logf("1000 reconnections after restart: first %v, p10 %v, p50 %v, p90 %v, last %v; busiest 100 ms window %d\n%s",
		at(0), at(0.1), at(0.5), at(0.9), at(1), busiest, hist.String())
	// Without randomization all of them would come back within a few ms of
	// each other. The bounds leave room for a loaded machine, where a slow
	// shutdown makes the first attempts fail and the second ones overlap.
	if spread := at(0.9) - at(0.1); spread < 300*time.Millisecond {
		t.Errorf("p10–p90 spread %v: the clients came back in a burst", spread)
	}
	if busiest > n/2 {
		t.Errorf("%d of %d clients in one 100 ms window", busiest, n)
	}
}
