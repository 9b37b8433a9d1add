//go:build linux

package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/shared"
)

// Shutdown returns promptly whatever its clients are doing. Each case is a
// kind of client the server may hold when it shuts down; each runs alone,
// and all of them at once, with idle parking on and off.

// shutdownBound is how long Shutdown may take over loopback: the graceful
// close of a client that answers takes a round trip, and one that does not
// is dropped after shutdownGrace.
func shutdownBound() time.Duration { return time.Second * time.Duration(wait.Scale()) }

// rawClient is a WebSocket client on a bare TCP connection, which ends a
// connection the way a browser does: it answers Engine.IO pings and, when
// the server sends a close frame, answers it with one and keeps the TCP
// connection open until the server closes it (RFC 6455 §7.1.1: the server
// closes first; Chromium waits up to 2 s for it). A coder/websocket client
// closes at once, which hides a server that waits for that.
type rawClient struct {
	conn *net.TCPConn
	sid  string // the Engine.IO session id

	silent   bool // never answers a close frame: a client stuck mid-frame
	noReads  bool // reads nothing after joining: the server's writes block
	wmu      sync.Mutex
	msgs     chan string // text messages but pings
	pongs    atomic.Int32
	closeMsg atomic.Pointer[string] // the server's close frame: code and reason
	ended    chan struct{}          // closed once the server has ended the connection
	endErr   error                  // what the read that ended it returned
}

// dialRaw opens a raw WebSocket to url (serveOn's) and reads the open
// packet. rcvbuf, when not 0, shrinks the client's receive buffer.
func dialRaw(t *testing.T, url string, rcvbuf int, configure func(*rawClient)) *rawClient {
	t.Helper()
	c := upgradeRaw(t, url, rcvbuf, configure)
	open := wait.Recv(t, "the open packet", c.msgs)
	var o struct{ SID string }
	if !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &o) != nil {
		t.Fatalf("open packet %q", open)
	}
	c.sid = o.SID
	return c
}

// upgradeRaw is dialRaw without waiting for the open packet.
func upgradeRaw(t *testing.T, url string, rcvbuf int, configure func(*rawClient)) *rawClient {
	t.Helper()
	addr := strings.TrimPrefix(strings.SplitN(url, "/socket.io", 2)[0], "ws://")
	d := net.Dialer{Timeout: wait.Deadline()}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{conn: nc.(*net.TCPConn), msgs: make(chan string, 4096), ended: make(chan struct{})}
	if configure != nil {
		configure(c)
	}
	t.Cleanup(func() { c.conn.Close() })
	c.conn.SetDeadline(time.Now().Add(wait.Deadline())) // bounds every read and write of the client
	var key [16]byte
	rand.Read(key[:])
	req, _ := http.NewRequest("GET", "http://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key[:]))
	if err := req.Write(c.conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c.conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	go c.readLoop(br)
	return c
}

// readLoop reads until the server ends the connection (EOF, or a reset:
// the client cannot tell them apart, and either is an end).
func (c *rawClient) readLoop(br *bufio.Reader) {
	defer close(c.ended)
	for {
		first, payload, err := ReadServerFrame(br)
		if err != nil {
			c.endErr = err
			return
		}
		switch first & 0x0f {
		case 0x1:
			if string(payload) == "2" {
				c.pongs.Add(1)
				c.write(0x81, []byte("3"))
				continue
			}
			c.msgs <- string(payload)
			if c.noReads && strings.HasPrefix(string(payload), "40") {
				return // joined: from now on the client reads nothing
			}
		case 0x8:
			m := fmt.Sprintf("%d %s", closeCode(payload), payload[min(2, len(payload)):])
			c.closeMsg.Store(&m)
			if !c.silent {
				c.write(0x88, payload[:min(2, len(payload))])
			}
		}
	}
}

func closeCode(payload []byte) websocket.StatusCode {
	if len(payload) < 2 {
		return websocket.StatusNoStatusRcvd
	}
	return websocket.StatusCode(binary.BigEndian.Uint16(payload))
}

// write sends one masked frame; first is FIN and the opcode.
func (c *rawClient) write(first byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return WriteClientFrame(c.conn, first, payload)
}

func (c *rawClient) send(t *testing.T, msg string) {
	t.Helper()
	if err := c.write(0x81, []byte(msg)); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
}

// join connects to namespace "/" and waits for the reply.
func (c *rawClient) join(t *testing.T) {
	t.Helper()
	c.send(t, "40")
	if got := wait.Recv(t, "the CONNECT reply", c.msgs); !strings.HasPrefix(got, "40{") {
		t.Fatalf("CONNECT reply %q", got)
	}
}

// wantEnded fails unless the server ended c's connection; with closeFrame,
// after a close frame saying "server shutting down".
func (c *rawClient) wantEnded(t *testing.T, what string, closeFrame bool) {
	t.Helper()
	wait.Closed(t, what+": the end of its connection", c.ended)
	var ne net.Error
	if errors.As(c.endErr, &ne) && ne.Timeout() {
		t.Errorf("%s: the connection did not end: %v", what, c.endErr)
	}
	if !closeFrame {
		return
	}
	if m := c.closeMsg.Load(); m == nil || *m != fmt.Sprintf("%d %s", websocket.StatusGoingAway, ReasonShutdown) {
		t.Errorf("%s: close frame %v, want %d %q", what, m, websocket.StatusGoingAway, ReasonShutdown)
	}
}

// connOf returns the server's connection of Engine.IO session sid.
func connOf(t *testing.T, srv *Server, sid string) *conn {
	t.Helper()
	var found *conn
	wait.For(t, "the connection of "+sid, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		for c := range srv.conns {
			if c.sid == sid {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// isParked reports whether the idler holds c.
func isParked(srv *Server, c *conn) bool { return srv.idle.Parked(&c.park) }

// shutdownCase prepares one kind of client on srv, before Shutdown, and
// returns the check of what that client saw, after it.
type shutdownCase struct {
	name    string
	prepare func(t *testing.T, srv *Server, url string, parking bool) (check func(t *testing.T))
}

var shutdownCases = []shutdownCase{
	// A browser, joined and idle, answering pings: parked, when parking is on.
	{"idle browser", func(t *testing.T, srv *Server, url string, parking bool) func(*testing.T) {
		b := dialRaw(t, url, 0, nil)
		b.join(t)
		wait.For(t, "a ping answered", func() bool { return b.pongs.Load() > 0 })
		if parking {
			c := connOf(t, srv, b.sid)
			wait.For(t, "the idle browser parked", func() bool { return isParked(srv, c) })
		}
		return func(t *testing.T) { b.wantEnded(t, "idle browser", true) }
	}},
	// A browser that does not answer the close frame in time: Chromium
	// answers one only once the page has taken every message before it,
	// and a busy page (a client.wasm starting up) takes its time.
	{"unresponsive browser", func(t *testing.T, srv *Server, url string, parking bool) func(*testing.T) {
		b := dialRaw(t, url, 0, func(c *rawClient) { c.silent = true })
		b.join(t)
		return func(t *testing.T) { b.wantEnded(t, "unresponsive browser", true) }
	}},
	// A browser whose last message was an event: its reader waits in
	// Go's poller (it parks only after a second or two), or, with parking
	// off, in coder/websocket's read.
	{"browser after an event", func(t *testing.T, srv *Server, url string, parking bool) func(*testing.T) {
		got := make(chan string, 1)
		srv.Of("/").OnConnection(func(s *Socket) {
			s.On("hello", func(shared.Args, shared.AckFunc) error {
				select {
				case got <- s.conn.sid:
				default:
				}
				return nil
			})
		})
		b := dialRaw(t, url, 0, nil)
		b.join(t)
		b.send(t, `42["hello"]`)
		if sid := wait.Recv(t, "the event", got); sid != b.sid {
			t.Fatalf("event from %s, want %s", sid, b.sid)
		}
		return func(t *testing.T) { b.wantEnded(t, "browser after an event", true) }
	}},
	// A browser mid-CONNECT: the namespace's middleware runs when the
	// server shuts down, and returns once the connection is closed.
	{"browser mid-CONNECT", func(t *testing.T, srv *Server, url string, parking bool) func(*testing.T) {
		entered := make(chan *conn, 1)
		srv.Of("/slow").Use(func(s *Socket) error {
			entered <- s.conn
			c := s.conn
			// Not wait.For: this is the dispatcher's goroutine. The check
			// after Shutdown fails the test if the connection stays open.
			wait.Until(func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.closed
			})
			return nil
		})
		b := dialRaw(t, url, 0, nil)
		b.join(t)
		b.send(t, "40/slow,")
		if c := wait.Recv(t, "the middleware", entered); c.sid != b.sid {
			t.Fatalf("middleware for %s, want %s", c.sid, b.sid)
		}
		return func(t *testing.T) { b.wantEnded(t, "browser mid-CONNECT", true) }
	}},
	// A client stuck in the middle of a frame: it sent the header and one
	// byte of a CONNECT, and will not answer a close frame.
	{"half a frame", func(t *testing.T, srv *Server, url string, parking bool) func(*testing.T) {
		b := dialRaw(t, url, 0, func(c *rawClient) { c.silent = true })
		b.join(t)
		// A text frame of 8 bytes, masked, of which the client sends one.
		if _, err := b.conn.Write([]byte{0x81, 0x80 | 8, 0, 0, 0, 0, '4'}); err != nil {
			t.Fatal(err)
		}
		if parking {
			c := connOf(t, srv, b.sid)
			wait.For(t, "the reader resumed for the partial frame", func() bool { return !isParked(srv, c) })
		}
		return func(t *testing.T) { b.wantEnded(t, "half a frame", false) }
	}},
	// A client that stops reading: the server's writer is blocked on a
	// full TCP send buffer (tinyBuffers on the server's side, a small
	// receive buffer on the client's).
	{"writer blocked", func(t *testing.T, srv *Server, url string, parking bool) func(*testing.T) {
		sockets := make(chan *Socket, 1)
		srv.Of("/full").OnConnection(func(s *Socket) { sockets <- s })
		b := dialRaw(t, url, 4096, func(c *rawClient) { c.noReads = true })
		b.send(t, "40/full,")
		s := wait.Recv(t, "the socket", sockets)
		c := s.conn
		payload := strings.Repeat("x", 1000)
		// The writer takes everything queued at once: frames that pile up
		// behind it mean that it is stuck in a write.
		wait.For(t, "the writer blocked", func() bool {
			s.Emit("m", payload)
			c.mu.Lock()
			defer c.mu.Unlock()
			return len(c.queue) >= 16
		})
		return func(t *testing.T) {
			// The client reads again, to find its connection's end behind
			// what the kernel buffered: EOF, or a reset.
			<-b.ended // its reader stopped after the CONNECT reply
			end := make(chan error, 1)
			go func() { _, err := io.Copy(io.Discard, b.conn); end <- err }()
			var ne net.Error
			if err := wait.Recv(t, "the blocked client's end", end); errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("writer blocked: the connection did not end: %v", err)
			}
		}
	}},
	// A client that half-closed its socket (CloseWrite) as the server shuts
	// down.
	{"half-closed", func(t *testing.T, srv *Server, url string, parking bool) func(*testing.T) {
		b := dialRaw(t, url, 0, nil)
		b.join(t)
		if err := b.conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		return func(t *testing.T) { b.wantEnded(t, "half-closed", false) }
	}},
	// A client whose WebSocket is accepted as Shutdown begins: it is
	// refused with a close frame, and does not answer it. Last: the hook
	// holds every upgrade after it.
	{"upgrading", func(t *testing.T, srv *Server, url string, parking bool) func(*testing.T) {
		reached := make(chan struct{}, 1)
		srv.afterUpgrade = func() {
			select {
			case reached <- struct{}{}:
			default:
			}
			wait.Until(func() bool {
				srv.mu.Lock()
				defer srv.mu.Unlock()
				return srv.shutdown
			})
		}
		// The 101 response is out before the hook runs.
		b := upgradeRaw(t, url, 0, func(c *rawClient) { c.silent = true })
		wait.Recv(t, "the upgrade held in ServeHTTP", reached)
		return func(t *testing.T) { b.wantEnded(t, "upgrading", true) }
	}},
}

// runShutdown shuts srv down, fails unless it took at most shutdownBound,
// then runs the checks.
func runShutdown(t *testing.T, srv *Server, checks []func(*testing.T)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait.Deadline())
	defer cancel()
	start := time.Now()
	err := srv.Shutdown(ctx)
	took := time.Since(start)
	if err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if took > shutdownBound() {
		t.Errorf("Shutdown took %v, want at most %v", took, shutdownBound())
	}
	srv.mu.Lock()
	left := len(srv.conns)
	srv.mu.Unlock()
	if left != 0 {
		t.Errorf("%d connections left after Shutdown", left)
	}
	for _, check := range checks {
		check(t)
	}
}

func shutdownServer(t *testing.T, parking bool) (*Server, string) {
	srv := New(quietOptions(Options{PingInterval: 50 * time.Millisecond, PingTimeout: 10 * time.Second,
		DisableIdleParking: !parking}))
	return srv, startTiny(t, srv)
}

func parkingName(on bool) string {
	if on {
		return "parking on"
	}
	return "parking off"
}

func TestShutdownPrompt(t *testing.T) {
	t.Parallel()
	for _, parking := range []bool{true, false} {
		t.Run(parkingName(parking), func(t *testing.T) {
			t.Parallel()
			for _, tc := range shutdownCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					srv, url := shutdownServer(t, parking)
					check := tc.prepare(t, srv, url, parking)
					runShutdown(t, srv, []func(*testing.T){check})
				})
			}
			t.Run("all at once", func(t *testing.T) {
				t.Parallel()
				srv, url := shutdownServer(t, parking)
				var checks []func(*testing.T)
				for _, tc := range shutdownCases {
					checks = append(checks, tc.prepare(t, srv, url, parking))
				}
				runShutdown(t, srv, checks)
			})
		})
	}
}

// Any close the server starts is bounded by WriteTimeout, not only
// Shutdown's: a client stuck in the middle of a frame, which does not
// answer the close frame, is dropped, and its connection torn down.
// coder/websocket's Close alone would wait for the rest of the frame for
// good.
func TestServerCloseOfStuckClientIsBounded(t *testing.T) {
	t.Parallel()
	for _, parking := range []bool{true, false} {
		t.Run(parkingName(parking), func(t *testing.T) {
			t.Parallel()
			const writeTimeout = 200 * time.Millisecond
			srv := New(quietOptions(Options{WriteTimeout: writeTimeout, DisableIdleParking: !parking}))
			sockets := make(chan *Socket, 1)
			gone := make(chan string, 1)
			srv.OnConnection(func(s *Socket) {
				s.OnDisconnect(func(r string) { gone <- r })
				sockets <- s
			})
			b := dialRaw(t, startPlain(t, srv), 0, func(c *rawClient) { c.silent = true })
			b.join(t)
			s := wait.Recv(t, "the socket", sockets)
			c := s.conn
			if parking {
				wait.For(t, "the connection parked", func() bool { return isParked(srv, c) })
			}
			// The header and one byte of an 8-byte text frame.
			if _, err := b.conn.Write([]byte{0x81, 0x80 | 8, 0, 0, 0, 0, '4'}); err != nil {
				t.Fatal(err)
			}
			if parking {
				wait.For(t, "the reader resumed for the partial frame", func() bool { return !isParked(srv, c) })
			}
			start := time.Now()
			s.Disconnect(true)
			if r := wait.Recv(t, "the socket's disconnect", gone); r != ReasonServerDisconnect {
				t.Errorf("reason %q, want %q", r, ReasonServerDisconnect)
			}
			wait.For(t, "the connection torn down", func() bool {
				srv.mu.Lock()
				defer srv.mu.Unlock()
				return len(srv.conns) == 0
			})
			// The bound is WriteTimeout; the slack is for a loaded machine.
			if d := time.Since(start); d > writeTimeout+time.Second*time.Duration(wait.Scale()) {
				t.Errorf("torn down %v after the close, WriteTimeout is %v", d, writeTimeout)
			}
			b.wantEnded(t, "the stuck client", false)
		})
	}
}
