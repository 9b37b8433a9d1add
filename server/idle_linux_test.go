package server

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/shared"
)

// parked returns how many of srv's connections the idler holds.
func parked(srv *Server) int { return srv.idle.Len() }

// waitParked waits until n of srv's connections are parked.
func waitParked(t *testing.T, srv *Server, n int) {
	t.Helper()
	wait.For(t, strconv.Itoa(n)+" connections parked", func() bool { return parked(srv) == n })
}

// waitServed waits until srv serves no connection.
func waitServed(t *testing.T, srv *Server) {
	t.Helper()
	wait.For(t, "every connection torn down", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.conns) == 0
	})
}

// A quiet connection is parked, without a goroutine: at once after a pong
// or a CONNECT, after other input once it has waited a second or two. Input, the server
// closing it, and the client hanging up each start its reader again. With
// parking off nothing is parked, and the same goes on.
func TestQuietConnectionsPark(t *testing.T) {
	t.Parallel()
	for _, parking := range []bool{true, false} {
		t.Run(parkingName(parking), func(t *testing.T) {
			t.Parallel()
			testQuietConnectionsPark(t, parking)
		})
	}
}

func testQuietConnectionsPark(t *testing.T, parking bool) {
	srv := New(quietOptions(Options{PingInterval: 200 * time.Millisecond, PingTimeout: 5 * time.Second,
		DisableIdleParking: !parking}))
	// Where parking is off nothing is parked: there is nothing to wait for.
	waitParked := func(t *testing.T, srv *Server, n int) {
		t.Helper()
		if !parking {
			n = 0
		}
		waitParked(t, srv, n)
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
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
	a, aID := join(t, url, nil)
	b, bID := join(t, url, nil)
	// The sockets by id: their OnConnection handlers run on the two
	// connections' dispatchers, in either order.
	bySID := map[string]*Socket{}
	for range 2 {
		s := take(t, sockets)
		bySID[s.ID()] = s
	}
	sa, sb := bySID[aID], bySID[bID]
	if sa == nil || sb == nil {
		t.Fatalf("sockets %v, want %s and %s", bySID, aID, bID)
	}
	aDone, bDone := make(chan error, 1), make(chan error, 1)
	go pongs(a, aDone)
	go pongs(b, bDone)
	if parking {
		// The first pong parks each.
		wait.For(t, "a pong parking a and b", func() bool {
			return srv.idle.Parked(&sa.conn.park) && srv.idle.Parked(&sb.conn.park)
		})
	}

	// Input wakes a parked connection.
	if err := a.Write(ctx, websocket.MessageText, []byte(`42["hello","a"]`)); err != nil {
		t.Fatal(err)
	}
	if got := take(t, events); got != "a" {
		t.Fatalf("event %q", got)
	}
	waitParked(t, srv, 2)

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
	waitParked(t, srv, 1)
	b.CloseNow()
	if r := take(t, gone); r != ReasonTransportClose {
		t.Fatalf("b: disconnect reason %q", r)
	}
	waitParked(t, srv, 0)
	waitServed(t, srv)
	if !parking && srv.idle.Resumed() != 0 {
		t.Errorf("%d readers resumed with parking off", srv.idle.Resumed())
	}
}

// A reader parks at once after a CONNECT. After other input it waits in
// Go's poller, until the idle Set kicks it into its epoll set within two
// ticks; its next message is still read.
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
	c := onlyConn(t, srv)
	// At once: without a wait the Set had to end.
	waitParked(t, srv, 1)
	if k := srv.idle.Kicks(); k != 0 {
		t.Fatalf("parked after %d kicks; want at once after the CONNECT", k)
	}
	for i, v := range []string{"one", "two"} {
		if err := ws.Write(context.Background(), websocket.MessageText, []byte(`42["hello","`+v+`"]`)); err != nil {
			t.Fatal(err)
		}
		if got := take(t, events); got != v {
			t.Fatalf("event %d: %q", i, got)
		}
	}
	// The reader's next state after the event: waiting in Go's poller,
	// or, wrongly, parked.
	wait.For(t, "the reader waiting or parked", func() bool { return c.park.Waiting() || parked(srv) != 0 })
	if parked(srv) != 0 {
		t.Fatal("parked at once after an event; want a wait in Go's poller first")
	}
	waitParked(t, srv, 1)
	if k := srv.idle.Kicks(); k != 1 {
		t.Fatalf("parked after %d kicks, want 1", k)
	}
	// No deadline left behind: a message well after the kick is read too.
	if err := ws.Write(context.Background(), websocket.MessageText, []byte(`42["hello","three"]`)); err != nil {
		t.Fatal(err)
	}
	if got := take(t, events); got != "three" {
		t.Fatalf("event %q", got)
	}
}

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
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
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
