package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// wsFrame encodes an unmasked server frame.
func wsFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

func TestFrameScanner(t *testing.T) {
	t.Parallel()
	text := wsFrame(0x1, []byte("42[\"x\"]"))
	mid := wsFrame(0x2, bytes.Repeat([]byte("m"), 300))
	big := wsFrame(0x1, bytes.Repeat([]byte("b"), 70000))
	pong := wsFrame(0xA, []byte("p"))
	closeF := wsFrame(0x8, []byte{0x03, 0xe8})
	empty := wsFrame(0x1, nil)
	for _, tc := range []struct {
		name   string
		writes [][]byte
		want   []bool
	}{
		{"one frame per write", [][]byte{text, pong, mid, closeF}, []bool{false, true, false, true}},
		{"an empty frame then a pong", [][]byte{empty, pong}, []bool{false, true}},
		{"header split", [][]byte{big[:1], big[1:3], big[3:5000], big[5000:], pong}, []bool{false, false, false, false, true}},
		{"64-bit length split in its middle", [][]byte{big[:6], big[6:], closeF[:1], closeF[1:]}, []bool{false, false, true, false}},
		{"payload that looks like a close frame", [][]byte{wsFrame(0x1, closeF), pong}, []bool{false, true}},
		{"two frames in one write", [][]byte{append(append([]byte{}, text...), pong...)}, []bool{true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s frameScanner
			for i, w := range tc.writes {
				if got := s.control(w); got != tc.want[i] {
					t.Errorf("write %d: control = %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

// recordConn records each Write as one syscall.
type recordConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func (r *recordConn) SetWriteDeadline(time.Time) error { return nil }

func (r *recordConn) taken() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.writes
	r.writes = nil
	return w
}

// While the writer holds, data frames wait; a pong or a close frame goes
// out at once, after what was held, in one write.
func TestBatchConnNeverHoldsControlFrames(t *testing.T) {
	t.Parallel()
	rc := &recordConn{}
	b := newBatchConn(rc, time.Second)
	text := wsFrame(0x1, []byte("hello"))
	pong := wsFrame(0xA, nil)
	closeF := wsFrame(0x8, []byte{0x03, 0xe8})

	b.hold()
	b.Write(text)
	b.Write(text)
	if w := rc.taken(); len(w) != 0 {
		t.Fatalf("held data frames were written: %q", w)
	}
	b.Write(pong)
	if w := rc.taken(); len(w) != 1 || !bytes.Equal(w[0], bytes.Join([][]byte{text, text, pong}, nil)) {
		t.Fatalf("pong: writes %q, want the held frames and the pong in one", w)
	}
	b.Write(text)
	b.Write(closeF)
	if w := rc.taken(); len(w) != 1 || !bytes.Equal(w[0], append(bytes.Clone(text), closeF...)) {
		t.Fatalf("close: writes %q", w)
	}
	b.Write(text)
	b.flush()
	if w := rc.taken(); len(w) != 1 || !bytes.Equal(w[0], text) {
		t.Fatalf("flush: writes %q", w)
	}
	b.Write(text) // not holding: through at once
	if w := rc.taken(); len(w) != 1 {
		t.Fatalf("not holding: %d writes", len(w))
	}
	// A batch larger than maxHeld leaves in maxHeld-sized writes, not whole.
	b.hold()
	chunk := wsFrame(0x2, make([]byte, 1000))
	for range 200 {
		b.Write(chunk)
	}
	b.flush()
	w := rc.taken()
	total := 0
	for _, x := range w {
		if len(x) > maxHeld+len(chunk) {
			t.Errorf("a write of %d bytes", len(x))
		}
		total += len(x)
	}
	if total != 200*len(chunk) || len(w) > 200*len(chunk)/maxHeld+2 {
		t.Errorf("%d writes of %d bytes in all", len(w), total)
	}
}

// countingListener counts the bytes and write syscalls of accepted conns.
type countingListener struct {
	net.Listener
	writes, bytes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.l.writes.Add(1)
	c.l.bytes.Add(int64(len(p)))
	return c.Conn.Write(p)
}

// startCounting runs srv behind a countingListener.
func startCounting(t testing.TB, srv *Server) (*countingListener, string) {
	t.Helper()
	var cl *countingListener
	url := serveOn(t, srv, func(l net.Listener) net.Listener {
		cl = &countingListener{Listener: l}
		return cl
	})
	return cl, url
}

// serveOn serves srv on loopback through the listener wrap makes (none
// when nil) and returns its Engine.IO WebSocket URL.
func serveOn(t testing.TB, srv *Server, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(srv)
	if wrap != nil {
		hs.Listener = wrap(hs.Listener)
	}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
}

func quietOptions(o Options) *Options {
	o.Logger = slog.New(slog.DiscardHandler)
	return &o
}

// joinMain dials url and joins "/", returning the client's conn.
func joinMain(t testing.TB, url string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ws, _ := join(t, url, opts)
	return ws
}

// join dials url and joins "/", returning the client's conn and the
// socket's id from the CONNECT reply.
func join(t testing.TB, url string, opts *websocket.DialOptions) (*websocket.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	if _, b, err := ws.Read(ctx); err != nil || b[0] != '0' {
		t.Fatalf("open: %q %v", b, err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		t.Fatal(err)
	}
	// A server with a short PingInterval may ping before it replies, on
	// a loaded machine: the ping is answered.
	var b []byte
	for i := 0; ; i++ {
		var err error
		if _, b, err = ws.Read(ctx); err != nil || i == 10 || string(b) != "2" {
			if err != nil || !bytes.HasPrefix(b, []byte("40{")) {
				t.Fatalf("connect: %q %v", b, err)
			}
			break
		}
		if err := ws.Write(ctx, websocket.MessageText, []byte("3")); err != nil {
			t.Fatal(err)
		}
	}
	var reply struct{ SID string }
	if err := json.Unmarshal(b[2:], &reply); err != nil || reply.SID == "" {
		t.Fatalf("connect reply %q: %v", b, err)
	}
	return ws, reply.SID
}

func readN(t *testing.T, ws *websocket.Conn, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	var out []string
	for range n {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read %d: %v", len(out), err)
		}
		out = append(out, string(b))
	}
	return out
}

// TestQueuedMessagesLeaveInOneWrite: ten messages queued for one
// connection while its writer is busy leave in a single write syscall.
func TestQueuedMessagesLeaveInOneWrite(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{}))
	var armed atomic.Bool
	gate := make(chan struct{})
	srv.beforeBatch = func(*conn) {
		if armed.CompareAndSwap(true, false) {
			<-gate
		}
	}
	sockets := make(chan *Socket, 1)
	srv.OnConnection(func(s *Socket) { sockets <- s })
	cl, url := startCounting(t, srv)
	ws := joinMain(t, url, nil)
	s := <-sockets

	armed.Store(true)
	s.Emit("m", 0) // wakes the writer, which now waits at the gate
	wait.For(t, "the writer at the gate", func() bool { return !armed.Load() })
	for i := 1; i < 10; i++ {
		s.Emit("m", i)
	}
	before := cl.writes.Load()
	close(gate)
	got := readN(t, ws, 10)
	if got[0] != `42["m",0]` || got[9] != `42["m",9]` {
		t.Fatalf("messages %q", got)
	}
	if n := cl.writes.Load() - before; n != 1 {
		t.Errorf("10 queued messages took %d write syscalls, want 1", n)
	}
}

// TestCompression: with Options.Compression, a large message to a client
// that offers permessage-deflate is compressed, and Compress(false) sends
// it as it is; both arrive intact.
func TestCompression(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{Compression: true}))
	sockets := make(chan *Socket, 1)
	srv.OnConnection(func(s *Socket) { sockets <- s })
	cl, url := startCounting(t, srv)
	ws := joinMain(t, url, &websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover})
	s := <-sockets
	body := strings.Repeat("tsunagi ", 2000) // 16 KB that compresses well

	for _, tc := range []struct {
		name       string
		send       func() error
		compressed bool
	}{
		{"socket.Emit", func() error { return s.Emit("big", body) }, true},
		{"broadcast", func() error { return srv.Emit("big", body) }, true},
		{"Compress(false)", func() error { return srv.Of("/").Compress(false).Emit("big", body) }, false},
		{"Compress(true)", func() error { return srv.Of("/").Compress(true).Emit("big", body) }, true},
		{"small message", func() error { return srv.Of("/").Emit("big", "tiny") }, false},
	} {
		before := cl.bytes.Load()
		if err := tc.send(); err != nil {
			t.Fatal(err)
		}
		got := readN(t, ws, 1)[0]
		sent := cl.bytes.Load() - before
		if !strings.HasPrefix(got, `42["big","`) || (tc.name != "small message" && len(got) != len(`42["big",""]`)+len(body)) {
			t.Errorf("%s: received %d bytes: %.40q", tc.name, len(got), got)
		}
		if compressed := sent < int64(len(got))/4; compressed != tc.compressed {
			t.Errorf("%s: %d bytes on the wire for a %d-byte message; compressed = %v, want %v", tc.name, sent, len(got), compressed, tc.compressed)
		}
	}

	// A client that offers no compression gets plain messages.
	plain := joinMain(t, url, nil)
	<-sockets
	before := cl.bytes.Load()
	srv.Emit("big", body)
	readN(t, ws, 1)
	if got := readN(t, plain, 1)[0]; len(got) != len(`42["big",""]`)+len(body) {
		t.Errorf("plain client received %d bytes", len(got))
	}
	if sent := cl.bytes.Load() - before; sent < int64(len(body)) {
		t.Errorf("%d bytes for one compressed and one plain copy of %d bytes", sent, len(body))
	}
}
