package server

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// tinyBuffers sets an 8 KB kernel send buffer on accepted conns, so that a
// client that does not read blocks the server's writes after a few KB.
type tinyBuffers struct{ net.Listener }

func (l tinyBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(8 << 10)
	}
	return c, err
}

func startTiny(t *testing.T, srv *Server) string {
	t.Helper()
	return serveOn(t, srv, func(l net.Listener) net.Listener { return tinyBuffers{l} })
}

// evictSlack is how late past WriteTimeout an eviction may come on a
// loaded machine.
func evictSlack() time.Duration { return 500 * time.Millisecond * time.Duration(wait.Scale()) }

type evicted struct {
	reason string
	at     time.Time
}

// onlyConn returns the server's one connection.
func onlyConn(t *testing.T, srv *Server) *conn {
	t.Helper()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.conns) != 1 {
		t.Fatalf("%d connections", len(srv.conns))
	}
	for c := range srv.conns {
		return c
	}
	return nil
}

// awaitFreed fails unless the connection, once gone from the server, is
// garbage: nothing holds its queue or its sockets any more.
func awaitFreed(t *testing.T, srv *Server, wc weak.Pointer[conn], ws weak.Pointer[Socket]) {
	t.Helper()
	var n int
	if !wait.Until(func() bool {
		srv.mu.Lock()
		n = len(srv.conns)
		srv.mu.Unlock()
		if n != 0 {
			return false // no collection until the server has let it go
		}
		runtime.GC()
		return wc.Value() == nil && ws.Value() == nil
	}) {
		t.Fatalf("after eviction: %d connections, conn collected %v, socket collected %v", n, wc.Value() == nil, ws.Value() == nil)
	}
}

// A client whose queue overflows MaxQueue is evicted with ReasonSlowClient
// within WriteTimeout, and its memory is freed; Emit never blocks.
func TestSlowClientQueueOverflow(t *testing.T) {
	t.Parallel()
	const writeTimeout = 300 * time.Millisecond
	srv := New(quietOptions(Options{MaxQueue: 64, WriteTimeout: writeTimeout}))
	sockets := make(chan *Socket, 1)
	gone := make(chan evicted, 1)
	srv.OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r string) { gone <- evicted{r, time.Now()} })
		sockets <- s
	})
	joinMain(t, startTiny(t, srv), nil) // and never read
	s := <-sockets
	wc, ws := weak.Make(onlyConn(t, srv)), weak.Make(s)

	payload := strings.Repeat("x", 1000)
	var overflow time.Time
	for i := 0; overflow.IsZero(); i++ {
		if i == 100000 {
			t.Fatal("100,000 emits to a client that reads nothing, and no overflow")
		}
		t0 := time.Now()
		err := s.Emit("m", payload)
		if d := time.Since(t0); d > 100*time.Millisecond {
			t.Fatalf("Emit blocked for %v", d)
		}
		if err != nil {
			overflow = time.Now()
			if !errors.Is(err, errSlow) {
				t.Fatalf("err = %v", err)
			}
		}
	}
	s = nil
	e := wait.Recv(t, "the eviction", gone)
	if e.reason != ReasonSlowClient {
		t.Errorf("reason %q", e.reason)
	}
	if d := e.at.Sub(overflow); d > writeTimeout+evictSlack() {
		t.Errorf("evicted %v after the overflow, WriteTimeout is %v", d, writeTimeout)
	}
	awaitFreed(t, srv, wc, ws)
}

// A client that reads nothing, with room left in its queue, is evicted
// when a write has not completed within WriteTimeout.
func TestSlowClientWriteTimeout(t *testing.T) {
	t.Parallel()
	const writeTimeout = 300 * time.Millisecond
	srv := New(quietOptions(Options{MaxQueue: 1 << 20, WriteTimeout: writeTimeout}))
	sockets := make(chan *Socket, 1)
	gone := make(chan evicted, 1)
	srv.OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r string) { gone <- evicted{r, time.Now()} })
		sockets <- s
	})
	joinMain(t, startTiny(t, srv), nil)
	s := <-sockets
	wc, ws := weak.Make(onlyConn(t, srv)), weak.Make(s)
	for range 200 { // 200 KB: more than the kernel takes
		if err := s.Emit("m", strings.Repeat("x", 1000)); err != nil {
			t.Fatal(err)
		}
	}
	sent := time.Now()
	s = nil
	e := wait.Recv(t, "the eviction", gone)
	if e.reason != ReasonSlowClient {
		t.Errorf("reason %q", e.reason)
	}
	if d := e.at.Sub(sent); d > writeTimeout+evictSlack() {
		t.Errorf("evicted %v after the last emit, WriteTimeout is %v", d, writeTimeout)
	}
	awaitFreed(t, srv, wc, ws)
}

// Volatile events are dropped for a socket whose queue is not empty and
// sent to one whose queue is.
func TestVolatileDroppedWhenQueued(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{}))
	var hold atomic.Pointer[conn]
	gate := make(chan struct{})
	srv.beforeBatch = func(c *conn) {
		if hold.CompareAndSwap(c, nil) {
			<-gate
		}
	}
	sockets := make(chan *Socket, 2)
	srv.OnConnection(func(s *Socket) { sockets <- s })
	_, url := startCounting(t, srv)
	busy := joinMain(t, url, nil)
	b := <-sockets
	idle := joinMain(t, url, nil)
	<-sockets

	hold.Store(b.conn)
	b.Emit("first") // wakes busy's writer, which waits at the gate with "first" queued
	wait.For(t, "busy's writer at the gate", func() bool { return hold.Load() == nil })
	srv.Of("/").Volatile().Emit("v1")
	close(gate)
	if got := readN(t, busy, 1)[0]; got != `42["first"]` {
		t.Fatalf("busy: %q", got)
	}
	if got := readN(t, idle, 1)[0]; got != `42["v1"]` {
		t.Fatalf("idle: %q", got)
	}
	wait.For(t, "busy's queue drained", b.conn.idleQueue)
	srv.Of("/").Volatile().Emit("v2")
	if got := readN(t, busy, 1)[0]; got != `42["v2"]` {
		t.Errorf("busy after draining: %q, want v2 (v1 dropped)", got)
	}
	readN(t, idle, 1)
}

func (c *conn) idleQueue() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) == 0
}
