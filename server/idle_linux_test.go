package server

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/idlepark"
	"github.com/tsunagi/tsunagi/shared"
)

// parked returns how many of srv's connections the idler holds.
func parked(srv *Server) int { return srv.idle.Len() }

func waitParked(t *testing.T, srv *Server, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for parked(srv) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections parked after %v, want %d", parked(srv), within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A quiet connection is parked, without a goroutine: at once after a pong
// or a CONNECT, after other input once it has waited a second or two. Input, the server
// closing it, and the client hanging up each start its reader again.
func TestQuietConnectionsPark(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{PingInterval: 200 * time.Millisecond, PingTimeout: 5 * time.Second}))
	sockets := make(chan *Socket, 3)
	events := make(chan string, 10)
	srv.OnConnection(func(s *Socket) {
		s.On("hello", func(args shared.Args, _ shared.AckFunc) error {
			var v string
			if err := args.Decode(0, &v); err != nil {
				return err
			}
			events <- v
			return nil
		})
		sockets <- s
	})
	url := startPlain(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A client that never answers pings would be dropped: these answer.
	pongs := func(ws *websocket.Conn, got chan<- error) {
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				got <- err
				return
			}
			if string(b) == "2" {
				ws.Write(ctx, websocket.MessageText, []byte("3"))
			}
		}
	}
	a, b := joinMain(t, url, nil), joinMain(t, url, nil)
	sa, sb := <-sockets, <-sockets
	aDone, bDone := make(chan error, 1), make(chan error, 1)
	go pongs(a, aDone)
	go pongs(b, bDone)
	waitParked(t, srv, 2, 3*time.Second) // the first pong parks each

	// Input wakes a parked connection.
	if err := a.Write(ctx, websocket.MessageText, []byte(`42["hello","a"]`)); err != nil {
		t.Fatal(err)
	}
	if got := take(t, events); got != "a" {
		t.Fatalf("event %q", got)
	}
	waitParked(t, srv, 2, 3*time.Second)

	// The server closing a parked connection tears it down.
	gone := make(chan string, 2)
	sa.OnDisconnect(func(r string) { gone <- r })
	sb.OnDisconnect(func(r string) { gone <- r })
	sa.Disconnect(true)
	if r := take(t, gone); r != ReasonServerDisconnect {
		t.Fatalf("a: disconnect reason %q", r)
	}
	if err := take(t, aDone); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("a: client saw %v", err)
	}

	// The client hanging up on a parked connection tears it down.
	waitParked(t, srv, 1, 3*time.Second)
	b.CloseNow()
	if r := take(t, gone); r != ReasonTransportClose {
		t.Fatalf("b: disconnect reason %q", r)
	}
	waitParked(t, srv, 0, 3*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv.mu.Lock()
		n := len(srv.conns)
		srv.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still served", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A reader parks at once after a CONNECT. After other input it waits in
// Go's poller, until the idler moves it to its set within two ticks; its
// next message is still read.
func TestWaitingReaderIsKicked(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{PingInterval: time.Minute, PingTimeout: time.Minute}))
	events := make(chan string, 10)
	srv.OnConnection(func(s *Socket) {
		s.On("hello", func(args shared.Args, _ shared.AckFunc) error {
			var v string
			args.Decode(0, &v)
			events <- v
			return nil
		})
	})
	url := startPlain(t, srv)
	ws := joinMain(t, url, nil)
	// A kick takes two ticks, a second at the least: this is sooner.
	waitParked(t, srv, 1, idlepark.Tick*9/10)
	for i, v := range []string{"one", "two"} {
		if err := ws.Write(context.Background(), websocket.MessageText, []byte(`42["hello","`+v+`"]`)); err != nil {
			t.Fatal(err)
		}
		if got := take(t, events); got != v {
			t.Fatalf("event %d: %q", i, got)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if parked(srv) != 0 {
		t.Fatal("parked at once after an event; want a wait in Go's poller first")
	}
	waitParked(t, srv, 1, 3*idlepark.Tick+time.Second)
	// No deadline left behind: a message well after the kick is read too.
	if err := ws.Write(context.Background(), websocket.MessageText, []byte(`42["hello","three"]`)); err != nil {
		t.Fatal(err)
	}
	if got := take(t, events); got != "three" {
		t.Fatalf("event %q", got)
	}
}

func take[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

// startPlain serves srv on loopback, its connections plain TCP sockets.
func startPlain(t *testing.T, srv *Server) string { return serveOn(t, srv, nil) }

// A busy connection's writer and dispatcher wait for the next message
// rather than end after each: one round trip after another starts no
// goroutine per message.
func TestBusyConnectionKeepsItsGoroutines(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{}))
	srv.OnConnection(func(s *Socket) {
		s.On("echo", func(args shared.Args, ack shared.AckFunc) error {
			var v int
			args.Decode(0, &v)
			return ack(v)
		})
	})
	url := startPlain(t, srv)
	ws := joinMain(t, url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := srv.helpersStarted.Load()
	const n = 200
	for i := range n {
		msg := []byte("42" + strconv.Itoa(i) + `["echo",` + strconv.Itoa(i) + "]")
		if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
			t.Fatal(err)
		}
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := "43" + strconv.Itoa(i) + "[" + strconv.Itoa(i) + "]"; string(b) != want {
			t.Fatalf("got %q, want %q", b, want)
		}
	}
	// A writer and a dispatcher, started again only if the reader was
	// parked meanwhile (a slow machine: a second between messages).
	if started := srv.helpersStarted.Load() - before; started > 10 {
		t.Errorf("%d writer and dispatcher goroutines started for %d round trips", started, n)
	}
}
