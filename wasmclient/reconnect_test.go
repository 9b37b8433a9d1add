//go:build !js

package wasmclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// restartable is a server on a loopback port held for the whole test
// (heldPort) that can be killed and started again on the same port.
type restartable struct {
	t       *testing.T
	port    *heldPort
	setup   func(*server.Server)
	handler func(*server.Server) http.Handler // defaults to the server alone
	mu      sync.Mutex
	srv     *server.Server
	hs      *http.Server
}

func newRestartable(t *testing.T, setup func(*server.Server)) *restartable {
	return newRestartableHandler(t, setup, nil)
}

func newRestartableHandler(t *testing.T, setup func(*server.Server), handler func(*server.Server) http.Handler) *restartable {
	r := &restartable{t: t, port: holdPort(t), setup: setup, handler: handler}
	r.restart()
	t.Cleanup(r.kill)
	return r
}

func (r *restartable) url() string { return "http://" + r.port.addr() }

// restart starts a new server on the port.
func (r *restartable) restart() {
	srv := server.New(&server.Options{Logger: quiet})
	r.setup(srv)
	var h http.Handler = srv
	if r.handler != nil {
		h = r.handler(srv)
	}
	hs := &http.Server{Handler: h}
	go hs.Serve(r.port.open())
	r.mu.Lock()
	r.srv, r.hs = srv, hs
	r.mu.Unlock()
}

// kill drops every connection at once, as a crash would.
func (r *restartable) kill() {
	r.mu.Lock()
	srv, hs := r.srv, r.hs
	r.srv, r.hs = nil, nil
	r.mu.Unlock()
	if hs == nil {
		return
	}
	hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	srv.Shutdown(ctx)
}

func fastRetry() *wasmclient.Options {
	return &wasmclient.Options{ReconnectionDelay: 20 * time.Millisecond, ReconnectionDelayMax: 100 * time.Millisecond, OnError: func(error) {}}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	t.Parallel()
	tick := shared.NewEvent[int]("tick")
	r := newRestartable(t, func(srv *server.Server) {
		srv.OnConnection(func(s *server.Socket) {
			s.On("ping me", func(a shared.Args, ack shared.AckFunc) error { return ack("pong") })
		})
	})
	c, err := wasmclient.New(r.url(), fastRetry())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	var attempts, reconnects, failures atomic.Int32
	reasons := make(chan string, 4)
	c.Manager().OnReconnectAttempt(func(int) { attempts.Add(1) })
	c.Manager().OnReconnect(func(int) { reconnects.Add(1) })
	c.Manager().OnReconnectError(func(error) { failures.Add(1) })
	c.OnDisconnect(func(r string) { reasons <- r })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	firstID := c.ID()

	r.kill()
	if got := wait.Recv(t, "the disconnect", reasons); got != wasmclient.ReasonTransportClose && got != wasmclient.ReasonTransportError {
		t.Fatalf("disconnect reason = %q", got)
	}
	// Emitted while the server is down: buffered, sent after reconnecting.
	if err := tick.Emit(c, 1); err != nil {
		t.Fatalf("emit while disconnected: %v", err)
	}
	wait.For(t, "two failed reconnection attempts", func() bool { return failures.Load() >= 2 })
	r.restart()

	res, err := c.EmitWithAck(ctx, "ping me")
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	var s string
	res.Decode(0, &s)
	if s != "pong" || !c.Connected() || c.ID() == firstID {
		t.Fatalf("after restart: %q connected=%v id=%q (was %q)", s, c.Connected(), c.ID(), firstID)
	}
	if attempts.Load() < 1 || reconnects.Load() != 1 {
		t.Fatalf("attempts=%d reconnects=%d", attempts.Load(), reconnects.Load())
	}
}

func TestNoReconnectAfterDeliberateDisconnect(t *testing.T) {
	t.Parallel()
	r := newRestartable(t, func(srv *server.Server) {
		srv.OnConnection(func(s *server.Socket) {
			s.On("kick me", func(shared.Args, shared.AckFunc) error { s.Disconnect(false); return nil })
		})
	})
	for _, side := range []string{"server", "client"} {
		c, err := wasmclient.New(r.url(), fastRetry())
		if err != nil {
			t.Fatal(err)
		}
		var attempts atomic.Int32
		c.Manager().OnReconnectAttempt(func(int) { attempts.Add(1) })
		closed := make(chan string, 2)
		c.Manager().OnClose(func(r string) { closed <- r })
		reasons := make(chan string, 2)
		c.OnDisconnect(func(r string) { reasons <- r })
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		want := wasmclient.ReasonServerDisconnect
		if side == "server" {
			c.Emit("kick me")
		} else {
			c.Disconnect()
			want = wasmclient.ReasonClientDisconnect
		}
		if got := wait.Recv(t, "the disconnect", reasons); got != want {
			t.Fatalf("%s: reason %q, want %q", side, got, want)
		}
		// The manager decides whether to reconnect when the connection has
		// closed, and a first attempt comes within ReconnectionDelayMax
		// (100 ms in fastRetry) of that: three times as long without one
		// is enough. Nothing marks a reconnection that is not coming.
		wait.Recv(t, "the connection closing", closed)
		wait.Absent(t, side+": a reconnection attempt after a deliberate disconnect", 300*time.Millisecond, func() bool { return attempts.Load() != 0 })
		if c.Connected() || c.Active() || attempts.Load() != 0 {
			t.Fatalf("%s: reconnected after a deliberate disconnect (attempts=%d)", side, attempts.Load())
		}
		if err := c.Emit("x"); !errors.Is(err, shared.ErrDisconnected) {
			t.Fatalf("%s: emit after disconnect = %v", side, err)
		}
	}
}

func TestOfflineBufferOrderAndLimit(t *testing.T) {
	t.Parallel()
	got := make(chan int, 100)
	r := newRestartable(t, func(srv *server.Server) {
		srv.OnConnection(func(s *server.Socket) {
			shared.NewEvent[int]("n").On(s, func(n int) { got <- n })
		})
	})
	opts := fastRetry()
	opts.MaxBuffer = 5
	c, err := wasmclient.New(r.url(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	down := make(chan string, 1)
	c.OnDisconnect(func(r string) { down <- r })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	r.kill()
	wait.Recv(t, "the disconnect", down)
	n := shared.NewEvent[int]("n")
	for i := 1; i <= 5; i++ {
		if err := n.Emit(c, i); err != nil {
			t.Fatalf("emit %d: %v", i, err)
		}
	}
	if err := n.Emit(c, 6); !errors.Is(err, wasmclient.ErrBufferFull) {
		t.Fatalf("6th emit = %v, want ErrBufferFull", err)
	}
	if err := n.Emit(c.Volatile(), 99); err != nil {
		t.Fatalf("volatile emit: %v", err)
	}
	r.restart()
	for i := 1; i <= 5; i++ {
		if v := wait.Recv(t, "a buffered event", got); v != i {
			t.Fatalf("received %d, want %d (in order)", v, i)
		}
	}
	n.Emit(c, 7)
	if v := wait.Recv(t, "the event after the buffer", got); v != 7 {
		t.Fatalf("received %d after the buffer, want 7 (volatile 99 must be dropped)", v)
	}
}

// TestPingTimeout: a server that stops sending anything is detected dead
// after pingInterval + pingTimeout, and the client reconnects.
func TestPingTimeout(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		n := conns.Add(1)
		ctx := r.Context()
		ws.Write(ctx, websocket.MessageText, []byte(`0{"sid":"s`+fmt.Sprint(n)+`","upgrades":[],"pingInterval":100,"pingTimeout":100,"maxPayload":1000000}`))
		ws.Read(ctx) // CONNECT
		ws.Write(ctx, websocket.MessageText, []byte(`40{"sid":"x`+fmt.Sprint(n)+`"}`))
		// then silence: no pings
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	defer hs.Close()
	c, err := wasmclient.New("http://"+ln.Addr().String(), fastRetry())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	reasons := make(chan string, 4)
	c.OnDisconnect(func(r string) { reasons <- r })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	start := time.Now()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if got := wait.Recv(t, "the disconnect", reasons); got != wasmclient.ReasonPingTimeout {
		t.Fatalf("reason = %q, want ping timeout", got)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("ping timeout after %v, before pingInterval + pingTimeout", d)
	}
	wait.For(t, "a reconnection after the ping timeout", func() bool { return conns.Load() >= 2 })
}

// TestPingsKeepAlive: a server that pings keeps the client connected past
// pingInterval + pingTimeout.
func TestPingsKeepAlive(t *testing.T) {
	t.Parallel()
	srv := server.New(&server.Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond, Logger: quiet})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	c, err := wasmclient.New("http://"+ln.Addr().String(), fastRetry())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	var drops, pings atomic.Int32
	c.OnDisconnect(func(string) { drops.Add(1) })
	c.Manager().OnPing(func() { pings.Add(1) })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// Six pings 50 ms apart span 250 ms, past pingInterval + pingTimeout
	// (100 ms) more than twice: without them the client's watchdog, and
	// without its pongs the server, would have dropped the connection.
	wait.For(t, "six pings answered", func() bool { return pings.Load() >= 6 })
	if drops.Load() != 0 || !c.Connected() {
		t.Fatalf("dropped %d times though the server pings", drops.Load())
	}
}

func TestReconnectionAttemptsExhausted(t *testing.T) {
	t.Parallel()
	port := holdPort(t) // never opened: every connection is hung up
	opts := fastRetry()
	opts.ReconnectionAttempts = 3
	c, err := wasmclient.New("http://"+port.addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int32
	failed := make(chan struct{})
	c.Manager().OnReconnectAttempt(func(int) { attempts.Add(1) })
	c.Manager().OnReconnectFailed(func() { close(failed) })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err == nil {
		t.Fatal("connected to nothing")
	}
	wait.Closed(t, "reconnect_failed", failed)
	if attempts.Load() != 3 {
		t.Fatalf("%d attempts, want 3", attempts.Load())
	}
}
