//go:build !js

package redisadapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/redisadapter"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// mover is a TCP proxy on loopback whose upstream can change: cut drops
// every connection, and while closed it hangs up new ones at once, so a
// client that reconnects lands where the test says.
type mover struct {
	ln     net.Listener
	mu     sync.Mutex
	to     string
	open   bool
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newMover(t *testing.T, upstream string) *mover {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &mover{ln: ln, to: upstream, open: true, conns: map[net.Conn]struct{}{}}
	m.wg.Add(1)
	go m.accept()
	t.Cleanup(func() {
		ln.Close()
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.cut()
		m.wg.Wait()
	})
	return m
}

func (m *mover) url() string { return "http://" + m.ln.Addr().String() }

func (m *mover) accept() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		m.mu.Lock()
		to, open := m.to, m.open
		m.mu.Unlock()
		if !open {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", to)
		if err != nil {
			c.Close()
			continue
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		m.conns[c], m.conns[up] = struct{}{}, struct{}{}
		m.mu.Unlock()
		m.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer m.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// cut drops every connection.
func (m *mover) cut() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.conns {
		c.Close()
	}
	m.conns = map[net.Conn]struct{}{}
}

// set says where new connections go, and whether they are taken at all.
func (m *mover) set(upstream string, open bool) {
	m.mu.Lock()
	m.to, m.open = upstream, open
	m.mu.Unlock()
}

func hostOf(t *testing.T, u string) string {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}

// recorder is a Go client that records the "seq" events it receives,
// with the offset each came with.
type recorder struct {
	*wasmclient.Socket
	mu       sync.Mutex
	got      []int
	offsets  []string
	connects int
	reasons  []string
}

func dialRecorder(t *testing.T, url string) *recorder {
	t.Helper()
	s, err := wasmclient.New(url, &wasmclient.Options{Transports: []string{"websocket"}, ReconnectionDelay: 50 * time.Millisecond, ReconnectionDelayMax: 100 * time.Millisecond, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{Socket: s}
	s.OnConnect(func() { r.mu.Lock(); r.connects++; r.mu.Unlock() })
	s.OnDisconnect(func(why string) { r.mu.Lock(); r.reasons = append(r.reasons, why); r.mu.Unlock() })
	s.On("seq", func(args shared.Args, _ shared.AckFunc) error {
		var n int
		var off string
		if err := args.Decode(0, &n); err != nil {
			t.Errorf("seq: %v", err)
		}
		_ = args.Decode(args.Len()-1, &off)
		r.mu.Lock()
		r.got = append(r.got, n)
		r.offsets = append(r.offsets, off)
		r.mu.Unlock()
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return r
}

func (r *recorder) received() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// TestStreamsRecoveryAcrossServers: in streams mode, a client cut off from
// server A, while both servers broadcast to its room, reconnects to server
// B and gets its id, its rooms and every event it missed, from either
// server, once each and in order; then the live events follow.
func TestStreamsRecoveryAcrossServers(t *testing.T) {
	r := testenv.StartRedis(t)
	o := redisadapter.Options{Mode: redisadapter.ModeStreams}
	so := server.Options{Recovery: server.RecoveryOptions{MaxDisconnectionDuration: time.Minute}}
	setup := func(srv *server.Server) {
		srv.OnConnection(func(s *server.Socket) {
			if !s.Recovered() {
				s.Join("numbers")
			}
		})
	}
	a := startNodeWith(t, r.URL(), o, so, setup)
	b := startNodeWith(t, r.URL(), o, so, setup)
	waitReady(t, a, b)
	px := newMover(t, hostOf(t, a.url))
	c := dialRecorder(t, px.url())
	firstID := c.ID()
	wait.For(t, "the client in its room on A", func() bool {
		return slices.Contains(a.srv.Of("/").Adapter().SocketRooms(firstID), "numbers")
	})

	next := 1
	emit := func(upTo int) {
		t.Helper()
		for ; next <= upTo; next++ {
			n := a
			if next%2 == 0 {
				n = b
			}
			if err := n.srv.To("numbers").Emit("seq", next); err != nil {
				t.Error(err) // on the emitting goroutine too
				return
			}
		}
	}
	emit(10)
	wait.For(t, "10 events before the cut", func() bool { return len(c.received()) == 10 })

	// Cut, and keep the client out until A has stored its session.
	px.set(hostOf(t, b.url), false)
	px.cut()
	ctl := dialRESP(t, r.Addr)
	wait.For(t, "A to store the session", func() bool {
		keys, err := ctl.do("KEYS", "sio:session:*")
		l, _ := keys.([]any)
		return err == nil && len(l) == 1
	})
	emit(20) // missed: half from A, half from B
	// More race the return: broadcasts go on while the client reconnects
	// and B restores its session.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			emit(next)
			time.Sleep(time.Millisecond)
		}
	}()
	px.set(hostOf(t, b.url), true)
	wait.For(t, "the client back, on B", func() bool {
		return c.Connected() && b.srv.Of("/").Adapter().SocketRooms(firstID) != nil
	})
	if !c.Recovered() || c.ID() != firstID {
		t.Fatalf("recovered %v, id %s (was %s)", c.Recovered(), c.ID(), firstID)
	}
	if rooms := b.srv.Of("/").Adapter().SocketRooms(firstID); !slices.Contains(rooms, "numbers") {
		t.Fatalf("rooms on B %q", rooms)
	}
	<-done
	emit(next + 9)
	total := next - 1
	wait.For(t, "every event", func() bool { return len(c.received()) >= total })
	time.Sleep(100 * time.Millisecond) // a duplicate would come now
	want := make([]int, total)
	for i := range want {
		want[i] = i + 1
	}
	if got := c.received(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want 1..%d once each, in order", got, total)
	}
	c.mu.Lock()
	for i, off := range c.offsets {
		if _, _, err := redisadapterParseOffset(off); err != nil {
			t.Errorf("event %d came with offset %q, not a stream id", i+1, off)
		}
	}
	c.mu.Unlock()
}

// redisadapterParseOffset checks that off is a stream entry id.
func redisadapterParseOffset(off string) (ms, seq string, err error) {
	for i := 0; i < len(off); i++ {
		if off[i] == '-' && i > 0 && i < len(off)-1 {
			return off[:i], off[i+1:], nil
		}
	}
	return "", "", io.ErrUnexpectedEOF
}

// streamOrder is the order in which the "seq" events went into the
// stream: what a recovered client must have received, in that order.
func streamOrder(t *testing.T, r *testenv.Redis) []int {
	t.Helper()
	ctl := dialRESP(t, r.Addr)
	v, err := ctl.do("XRANGE", "socket.io", "-", "+")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	entries, _ := v.([]any)
	for _, e := range entries {
		pair, _ := e.([]any)
		if len(pair) != 2 {
			continue
		}
		fields, _ := pair[1].([]any)
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] != "data" {
				continue
			}
			var d struct {
				Packet struct {
					Data []json.RawMessage `json:"data"`
				} `json:"packet"`
			}
			s, _ := fields[i+1].(string)
			if json.Unmarshal([]byte(s), &d) != nil || len(d.Packet.Data) < 2 || string(d.Packet.Data[0]) != `"seq"` {
				continue
			}
			var n int
			if json.Unmarshal(d.Packet.Data[1], &n) == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestStreamsRecoveryWithNode: a client recovers across a tsunagi server
// and a Node server with @socket.io/redis-streams-adapter 0.3.1, both ways:
// cut off from Node it recovers on Go, and cut off from Go it recovers on
// Node, with every event either server sent while it was away.
func TestStreamsRecoveryWithNode(t *testing.T) {
	r := testenv.StartRedis(t)
	o := redisadapter.Options{Mode: redisadapter.ModeStreams}
	peer := startNodePeer(t, r, o, "RECOVERY=1")
	g := startNodeWith(t, r.URL(), o, server.Options{Recovery: server.RecoveryOptions{MaxDisconnectionDuration: time.Minute}}, func(srv *server.Server) {
		srv.OnConnection(func(s *server.Socket) {
			if !s.Recovered() {
				s.Join("r")
			}
		})
	})
	wait.For(t, "Go to count 2 servers", func() bool {
		n, err := g.srv.Of("/").Adapter().ServerCount(context.Background())
		return err == nil && n == 2
	})
	nodeAddr := "127.0.0.1:" + peer.port
	ctl := dialRESP(t, r.Addr)
	sessions := func() int {
		keys, _ := ctl.do("KEYS", "sio:session:*")
		l, _ := keys.([]any)
		return len(l)
	}
	next := 1
	emit := func(upTo int) {
		t.Helper()
		for ; next <= upTo; next++ {
			if next%2 == 0 {
				if err := g.srv.To("r").Emit("seq", next); err != nil {
					t.Fatal(err)
				}
			} else {
				peer.do(map[string]any{"op": "emit", "rooms": []string{"r"}, "args": []any{"seq", next}})
			}
		}
	}
	// Each way: connect to from, cut, emit while away, reconnect to to.
	// A Go server delivers every event in the stream's order. Node
	// delivers its own broadcasts when its XADD returns, ahead of entries
	// of other servers it has not read yet, so on Node only each server's
	// events keep their order.
	move := func(name, from, to string, strict bool, onTo func(id string) bool) {
		t.Run(name, func(t *testing.T) {
			first := next
			px := newMover(t, from)
			c := dialRecorder(t, px.url())
			id := c.ID()
			// Node's reader may start late: broadcast until the client
			// gets one from each server.
			wait.For(t, "events from both servers", func() bool {
				emit(next + 1)
				time.Sleep(20 * time.Millisecond)
				got := c.received()
				return len(got) >= 2 && slices.Contains(got, next-1) && slices.Contains(got, next-2)
			})
			// Node delivers its own broadcasts ahead of others' it has
			// not read yet, and a client resumes from the last offset it
			// got: one event at a time from each server, so that the last
			// is the newest.
			first = next // checked from here on
			for range 2 {
				n := next
				emit(n)
				wait.For(t, fmt.Sprintf("event %d", n), func() bool { return slices.Contains(c.received(), n) })
			}
			before := sessions()
			px.set(to, false)
			px.cut()
			since := func() (out []int) {
				for _, n := range c.received() {
					if n >= first {
						out = append(out, n)
					}
				}
				return out
			}
			cutAt := len(since())
			wait.For(t, "the session stored", func() bool { return sessions() == before+1 })
			emit(next + 9)
			px.set(to, true)
			wait.For(t, "the client back on the other server", func() bool { return c.Connected() && onTo(id) })
			if !c.Recovered() || c.ID() != id {
				t.Fatalf("recovered %v, id %s (was %s)", c.Recovered(), c.ID(), id)
			}
			emit(next + 3)
			var want []int
			// Node's emit returns before its XADD: wait for them all.
			wait.For(t, "every event in the stream", func() bool {
				want = want[:0]
				for _, n := range streamOrder(t, r) {
					if n >= first && n < next {
						want = append(want, n)
					}
				}
				return len(want) == next-first
			})
			wait.For(t, "the last event", func() bool { return slices.Contains(c.received(), want[len(want)-1]) })
			time.Sleep(100 * time.Millisecond)
			got := since()
			if len(got) != len(want) {
				c.mu.Lock()
				offsets, connects, reasons := slices.Clone(c.offsets), c.connects, slices.Clone(c.reasons)
				c.mu.Unlock()
				t.Fatalf("events %v, want %v (the stream's order); offsets %q; connects %d, disconnects %q; Node's stderr:\n%s", got, want, offsets, connects, reasons, peer.proc.Stderr())
			}
			// Before the cut the client was on from, whose order is from's.
			if strict && !slices.Equal(got[cutAt:], want[cutAt:]) {
				t.Fatalf("events %v, want %v (the stream's order) from the %dth on", got, want, cutAt+1)
			}
			byServer := func(l []int, odd int) (out []int) {
				for _, n := range l {
					if n%2 == odd {
						out = append(out, n)
					}
				}
				return out
			}
			for odd := range 2 {
				if g, w := byServer(got, odd), byServer(want, odd); !slices.Equal(g, w) {
					t.Fatalf("events of one server %v, want %v (the stream's order); all %v", g, w, got)
				}
			}
			c.Disconnect()
		})
	}
	move("from Node to Go", nodeAddr, hostOf(t, g.url), true, func(id string) bool {
		return g.srv.Of("/").Adapter().SocketRooms(id) != nil
	})
	move("from Go to Node", hostOf(t, g.url), nodeAddr, false, func(id string) bool {
		return strings.Contains(string(peer.do(map[string]any{"op": "fetch", "rooms": []string{"r"}})), id)
	})
}
