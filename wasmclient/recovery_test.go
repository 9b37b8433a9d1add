//go:build !js

package wasmclient_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestRecoveryAfterCut: with connection state recovery, a client cut off for
// 2 seconds while broadcasts go on gets back its id, its rooms and every
// broadcast it missed, in order: 0 lost, 0 duplicated.
func TestRecoveryAfterCut(t *testing.T) {
	t.Parallel()
	srv := server.New(&server.Options{Logger: quiet, Recovery: server.RecoveryOptions{MaxDisconnectionDuration: time.Minute}})
	srv.OnConnection(func(s *server.Socket) {
		if !s.Recovered() {
			s.Join("numbers")
		}
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	px := newProxy(t, hs.Listener.Addr().String())

	seq := shared.NewEvent[int]("seq")
	var (
		mu   sync.Mutex
		got  []int
		done = make(chan struct{})
	)
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	firstID := c.ID()
	if c.Recovered() {
		t.Fatal("a first connection cannot be recovered")
	}

	// Broadcast 1..N to the room, every 2 ms, for about 3 s.
	const n = 1500
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			seq.Emit(srv.To("numbers"), i)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	px.down()
	time.Sleep(2 * time.Second)
	px.up()
	<-done

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	t.Logf("received %d of %d broadcasts across a 2 s cut: %d lost, %d duplicated, in order: %v", len(got), n, lost, dup, inOrder)
	if lost != 0 || dup != 0 || !inOrder {
		t.Fatalf("%d lost, %d duplicated, in order %v", lost, dup, inOrder)
	}
}

// TestNoRecoveryAfterTooLong: past MaxDisconnectionDuration the session is
// gone: a new id, recovered false.
func TestNoRecoveryAfterTooLong(t *testing.T) {
	t.Parallel()
	srv := server.New(&server.Options{Logger: quiet, Recovery: server.RecoveryOptions{MaxDisconnectionDuration: 300 * time.Millisecond}})
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	first := recvT(t, connects)
	srv.Emit("x", 1) // an offset for the client to present
	time.Sleep(50 * time.Millisecond)
	px.down()
	time.Sleep(time.Second)
	px.up()
	second := recvT(t, connects)
	if c.Recovered() || second == first {
		t.Fatalf("recovered=%v after a disconnection longer than allowed (ids %q, %q)", c.Recovered(), first, second)
	}
}
