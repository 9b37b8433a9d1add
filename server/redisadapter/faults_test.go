//go:build !js

package redisadapter_test

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server/redisadapter"
)

// freezer is a loopback TCP proxy to Redis that can freeze the subscriber
// connections it carries: Redis' replies to them are held back while the
// connection stays open, as on a half-open TCP connection or after a
// failover that left it on a node that no longer gets the traffic.
type freezer struct {
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	subs   []*proxied // subscriber connections seen
	conns  []net.Conn
	wg     sync.WaitGroup
	closed bool
}

func newFreezer(t *testing.T, upstream string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, upstream: upstream}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *freezer) url() string { return "redis://" + f.ln.Addr().String() }

func (f *freezer) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", f.upstream)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		f.conns = append(f.conns, c, up)
		f.mu.Unlock()
		pc := &proxied{}
		f.wg.Add(2)
		go func() { // client → Redis: watch for SUBSCRIBE
			defer f.wg.Done()
			defer up.Close()
			buf := make([]byte, 32<<10)
			told := false
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if !told && bytes.Contains(bytes.ToLower(buf[:n]), []byte("subscribe")) {
						f.mu.Lock()
						f.subs = append(f.subs, pc)
						f.mu.Unlock()
						told = true
					}
					if _, err := up.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() { // Redis → client: held while frozen, for subscribers
			defer f.wg.Done()
			defer c.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := up.Read(buf)
				if n > 0 {
					f.mu.Lock()
					hold := pc.frozen
					f.mu.Unlock()
					if !hold { // a frozen connection's bytes are dropped: it never hears again
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// proxied is one proxied connection.
type proxied struct {
	frozen bool // under freezer.mu
}

// freeze silences the subscriber connections open now (later ones work)
// and returns how many subscriber connections were seen so far.
func (f *freezer) freeze() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, pc := range f.subs {
		pc.frozen = true
	}
	return len(f.subs)
}

func (f *freezer) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *freezer) close() {
	f.mu.Lock()
	f.closed = true
	conns := f.conns
	f.mu.Unlock()
	f.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	f.wg.Wait()
}

// TestClusterLapsedSubscription: B's subscriber connection stays open but
// hears nothing. The probe finds it, B subscribes again on a new
// connection, counts the gap, and the cluster delivers again.
func TestClusterLapsedSubscription(t *testing.T) {
	for _, m := range modes[:2] { // classic, and sharded (streams read their broadcasts with XREAD)
		t.Run(m.name, func(t *testing.T) { testClusterLapsedSubscription(t, m.opts) })
	}
}

func testClusterLapsedSubscription(t *testing.T, base redisadapter.Options) {
	r := testenv.StartRedis(t)
	f := newFreezer(t, r.Addr)
	a := startNode(t, r.URL(), base, joinRooms)
	b := startNode(t, f.url(), with(base, func(o *redisadapter.Options) { o.ProbeInterval = 100 * time.Millisecond }), joinRooms)
	b1 := dialClient(t, b.url, "room=r")
	waitReady(t, a, b)
	if base.Mode == redisadapter.ModeSharded {
		waitShardSubscribed(t, r, base, "r", 1)
	}
	if err := a.srv.To("r").Emit("n", 0); err != nil {
		t.Fatal(err)
	}
	b1.expect(t, "n [0]")

	before := f.freeze()
	wait.For(t, "B to open a new subscriber connection", func() bool { return f.subscribers() > before })
	deadline := time.Now().Add(wait.Deadline())
	for i := 1; ; i++ {
		if err := a.srv.To("r").Emit("n", i); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-b1.events:
			if !strings.HasPrefix(ev, "n [") {
				t.Fatalf("B's client got %q", ev)
			}
			if g := b.cluster.Stats().Gaps; g == 0 {
				t.Errorf("no gap counted; stats %+v", b.cluster.Stats())
			}
			if !strings.Contains(b.logs.String(), "the probe did not come back") {
				t.Errorf("the lapse was not logged:\n%s", b.logs.String())
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("B did not hear the cluster again; stats %+v", b.cluster.Stats())
		}
	}
}

// TestClusterFlood publishes 200,000 messages as fast as one pipelined
// connection can, with Redis' default client-output-buffer-limit for
// pub/sub and a tiny receive queue: the subscriber reads everything, so
// Redis never cuts it off, and what its queue cannot hold is dropped and
// counted, never blocking the reader.
func TestClusterFlood(t *testing.T) {
	r := testenv.StartRedis(t)
	a := startNode(t, r.URL(), redisadapter.Options{QueueSize: 64}, joinRooms)
	a1 := dialClient(t, a.url, "room=r")
	pub := dialRESP(t, r.Addr)
	ch := redisadapter.NewChannels("", "/", "x")
	payload := strings.Repeat("x", 100)
	const n = 200_000
	before := a.cluster.Stats().Received
	var batch bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&batch, "*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(ch.Room("nobody")), ch.Room("nobody"), len(payload), payload)
		if batch.Len() > 1<<20 || i == n-1 {
			pub.c.SetWriteDeadline(time.Now().Add(wait.Deadline()))
			if _, err := pub.c.Write(batch.Bytes()); err != nil {
				t.Fatal(err)
			}
			batch.Reset()
		}
	}
	for i := 0; i < n; i++ {
		if _, err := pub.read(true); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	wait.For(t, "every message read", func() bool { return a.cluster.Stats().Received-before >= n || a.cluster.Stats().Gaps > 0 })
	s := a.cluster.Stats()
	if s.Gaps != 0 || strings.Contains(r.Process().Output(), "output buffer limits") {
		t.Fatalf("Redis cut the subscriber off: stats %+v\n%s", s, r.Process().Output())
	}
	t.Logf("stats after the flood: %+v", s)
	// The cluster still works.
	b := startNode(t, r.URL(), redisadapter.Options{}, joinRooms)
	if err := b.srv.To("r").Emit("after", "flood"); err != nil {
		t.Fatal(err)
	}
	a1.expect(t, `after ["flood"]`)
	if s.Dropped > 0 && !strings.Contains(a.logs.String(), "receive queue full") {
		t.Errorf("%d drops, not logged", s.Dropped)
	}
}
