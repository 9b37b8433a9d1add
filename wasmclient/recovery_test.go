//go:build !js

package wasmclient_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestRecoveryAfterCut: with connection state recovery, a client cut off
// while broadcasts go on (hundreds of them while it is away, some in flight
// at the cut, more racing its return) gets back its id, its rooms and every
// broadcast it missed, in order: 0 lost, 0 duplicated.
func TestRecoveryAfterCut(t *testing.T) {
	t.Parallel()
	srv := server.New(&server.Options{Logger: quiet, Recovery: server.RecoveryOptions{MaxDisconnectionDuration: time.Minute}})
	left := make(chan string, 4)
	srv.OnConnection(func(s *server.Socket) {
		if !s.Recovered() {
			s.Join("numbers")
		}
		s.OnDisconnect(func(r string) { left <- r })
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	px := newProxy(t, hs.Listener.Addr().String())

	seq := shared.NewEvent[int]("seq")
	var (
		mu  sync.Mutex
		got []int
	)
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	c, err := wasmclient.New(px.url(), &wasmclient.Options{ReconnectionDelay: 50 * time.Millisecond, ReconnectionDelayMax: 200 * time.Millisecond, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	seq.On(c, func(n int) {
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	})
	connects := make(chan struct{}, 4)
	c.OnConnect(func() { connects <- struct{}{} })
	reasons := make(chan string, 4)
	c.OnDisconnect(func(r string) { reasons <- r })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	wait.Recv(t, "the first connect", connects)
	firstID := c.ID()
	if c.Recovered() {
		t.Fatal("a first connection cannot be recovered")
	}

	// Broadcast 1, 2, … to the room, one every 2 ms, until stop. The ticker
	// paces a stream that goes on across the cut; nothing waits on it.
	var sent atomic.Int32
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := int32(1); ; i++ {
			seq.Emit(srv.To("numbers"), int(i))
			sent.Store(i)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	wait.For(t, "100 broadcasts at the client", func() bool { return received() >= 100 })
	px.down()
	wait.Recv(t, "the server seeing the cut", left)
	wait.Recv(t, "the client seeing the cut", reasons)
	atCut := sent.Load()
	wait.For(t, "200 broadcasts while the client is away", func() bool { return sent.Load() >= atCut+200 })
	px.up()
	wait.Recv(t, "the reconnection", connects)
	// Checked at once: a reconnection that was not recovered would show
	// below only as a wait for broadcasts that never come.
	if !c.Recovered() || c.ID() != firstID {
		t.Fatalf("reconnected with recovered=%v id=%q (was %q)", c.Recovered(), c.ID(), firstID)
	}
	atBack := sent.Load()
	wait.For(t, "200 broadcasts after the reconnection", func() bool { return sent.Load() >= atBack+200 })
	close(stop)
	<-done
	n := int(sent.Load())
	wait.For(t, "every broadcast at the client", func() bool { return received() >= n })

	if !c.Recovered() || c.ID() != firstID {
		t.Fatalf("recovered=%v id=%q (was %q)", c.Recovered(), c.ID(), firstID)
	}
	mu.Lock()
	defer mu.Unlock()
	lost, dup := 0, 0
	seen := map[int]int{}
	for _, v := range got {
		seen[v]++
	}
	for i := 1; i <= n; i++ {
		switch seen[i] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
	}
	inOrder := true
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			inOrder = false
		}
	}
	t.Logf("received %d of %d broadcasts across a cut (%d sent while away): %d lost, %d duplicated, in order: %v", len(got), n, atBack-atCut, lost, dup, inOrder)
	if lost != 0 || dup != 0 || !inOrder || len(got) != n {
		t.Fatalf("%d lost, %d duplicated, in order %v, %d received of %d", lost, dup, inOrder, len(got), n)
	}
}

// TestNoRecoveryAfterTooLong: past MaxDisconnectionDuration the session is
// gone: a new id, recovered false.
func TestNoRecoveryAfterTooLong(t *testing.T) {
	t.Parallel()
	const maxGone = 300 * time.Millisecond
	srv := server.New(&server.Options{Logger: quiet, Recovery: server.RecoveryOptions{MaxDisconnectionDuration: maxGone}})
	left := make(chan time.Time, 4)
	srv.OnConnection(func(s *server.Socket) {
		s.OnDisconnect(func(string) { left <- time.Now() })
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	px := newProxy(t, hs.Listener.Addr().String())
	c, err := wasmclient.New(px.url(), &wasmclient.Options{ReconnectionDelay: 50 * time.Millisecond, ReconnectionDelayMax: 100 * time.Millisecond, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	connects := make(chan string, 4)
	c.OnConnect(func() { connects <- c.ID() })
	xs := make(chan struct{}, 1)
	c.On("x", func(shared.Args, shared.AckFunc) error { xs <- struct{}{}; return nil })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	first := wait.Recv(t, "the first connect", connects)
	srv.Emit("x", 1) // an offset for the client to present
	wait.Recv(t, "the broadcast x", xs)
	px.down()
	cut := wait.Recv(t, "the server seeing the cut", left)
	// The condition under test is a duration: the server keeps the session
	// for maxGone from the cut as it noted it, at about the time of the
	// disconnect handler above; twice maxGone is past that.
	wait.For(t, "the cut to last twice MaxDisconnectionDuration", func() bool { return time.Since(cut) > 2*maxGone })
	px.up()
	second := wait.Recv(t, "the reconnection", connects)
	if c.Recovered() || second == first {
		t.Fatalf("recovered=%v after a disconnection longer than allowed (ids %q, %q)", c.Recovered(), first, second)
	}
}
