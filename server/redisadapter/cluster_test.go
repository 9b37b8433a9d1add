//go:build !js

package redisadapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sort"
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

// node is one tsunagi server joined to a Redis by a Cluster.
type node struct {
	srv     *server.Server
	cluster *redisadapter.Cluster
	url     string
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startNode(t *testing.T, redisURL string, o redisadapter.Options, setup func(*server.Server)) *node {
	t.Helper()
	return startNodeWith(t, redisURL, o, server.Options{}, setup)
}

// startNodeWith is startNode with the server's options so (its Adapter
// and Logger are set here).
func startNodeWith(t *testing.T, redisURL string, o redisadapter.Options, so server.Options, setup func(*server.Server)) *node {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	o.URL = redisURL
	if o.Logger == nil {
		o.Logger = log
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	cluster, err := redisadapter.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	so.Adapter, so.Logger = cluster.Adapter, log
	srv := server.New(&so)
	if setup != nil {
		setup(srv)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
		if err := cluster.Close(); err != nil {
			t.Errorf("Cluster.Close: %v", err)
		}
		if t.Failed() {
			t.Logf("logs of %s:\n%s", hs.URL, logs.String())
		}
	})
	return &node{srv: srv, cluster: cluster, url: hs.URL, logs: logs}
}

// client is a Go client that records the events it receives.
type client struct {
	*wasmclient.Socket
	events chan string // "event json-args"
}

func dialClient(t *testing.T, url string, query string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	s, err := wasmclient.Dial(ctx, url+"/?"+query, &wasmclient.Options{Transports: []string{"websocket"}})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { s.Disconnect() })
	c := &client{Socket: s, events: make(chan string, 256)}
	s.OnAny(func(event string, args shared.Args) {
		vals, _ := args.Values()
		for i, b := range args.Buffers() {
			_ = i
			vals = append(vals, fmt.Sprintf("bin:%x", b))
		}
		j, _ := json.Marshal(vals)
		c.events <- event + " " + string(j)
	})
	return c
}

func (c *client) expect(t *testing.T, want string) {
	t.Helper()
	if got := wait.Recv(t, want, c.events); got != want {
		t.Fatalf("client %s got %q, want %q", c.ID(), got, want)
	}
}

// barrier makes sure nothing else is queued for c: it sends c a last event
// from its own server and expects it next.
func (c *client) barrier(t *testing.T, n *node) {
	t.Helper()
	if err := n.srv.To(c.ID()).Local().Emit("barrier"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "barrier []")
}

func joinRooms(srv *server.Server) {
	srv.OnConnection(func(s *server.Socket) {
		if r := s.Handshake().Query.Get("room"); r != "" {
			s.Join(strings.Split(r, ",")...)
		}
	})
}

// modes are the protocols and subscription modes a test runs in.
var modes = []struct {
	name string
	opts redisadapter.Options
}{
	{"classic", redisadapter.Options{}},
	{"sharded-dynamic", redisadapter.Options{Mode: redisadapter.ModeSharded}},
	{"sharded-static", redisadapter.Options{Mode: redisadapter.ModeSharded, SubscriptionMode: redisadapter.SubscriptionStatic}},
	{"sharded-dynamic-private", redisadapter.Options{Mode: redisadapter.ModeSharded, SubscriptionMode: redisadapter.SubscriptionDynamicPrivate}},
	{"streams", redisadapter.Options{Mode: redisadapter.ModeStreams}},
}

// waitReady waits until every node counts every node: each is subscribed,
// and in streams mode reads the stream.
func waitReady(t *testing.T, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		wait.For(t, fmt.Sprintf("%s to count %d servers", n.url, len(nodes)), func() bool {
			c, err := n.srv.Of("/").Adapter().ServerCount(context.Background())
			return err == nil && c == len(nodes)
		})
	}
}

// forModes runs test once per mode, with the mode's options as a base.
func forModes(t *testing.T, test func(t *testing.T, base redisadapter.Options)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { test(t, m.opts) })
	}
}

// with returns base with f applied.
func with(base redisadapter.Options, f func(*redisadapter.Options)) redisadapter.Options {
	f(&base)
	return base
}

func TestClusterBroadcasts(t *testing.T) { forModes(t, testClusterBroadcasts) }

func testClusterBroadcasts(t *testing.T, base redisadapter.Options) {
	r := testenv.StartRedis(t)
	a := startNode(t, r.URL(), base, joinRooms)
	b := startNode(t, r.URL(), with(base, func(o *redisadapter.Options) { o.ProbeInterval = 100 * time.Millisecond }), joinRooms)
	a1 := dialClient(t, a.url, "room=r")
	b1 := dialClient(t, b.url, "room=r")
	b2 := dialClient(t, b.url, "room=other")
	inRoom(t, a, a1.ID(), "r")
	inRoom(t, b, b1.ID(), "r")
	inRoom(t, b, b2.ID(), "other")
	waitReady(t, a, b)
	if base.Mode == redisadapter.ModeSharded {
		waitShardSubscribed(t, r, base, "r", 2)
	}

	if err := a.srv.To("r").Emit("hello", "world", 1, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	want := `hello ["world",1,"AQID","bin:010203"]`
	a1.expect(t, want)
	b1.expect(t, want)

	if err := b.srv.Except("other").Emit("all", map[string]any{"x": []int{1, 2}}); err != nil {
		t.Fatal(err)
	}
	a1.expect(t, `all [{"x":[1,2]}]`)
	b1.expect(t, `all [{"x":[1,2]}]`)
	// Two rooms go to the broadcast channel; a socket in both gets it once.
	if err := a.srv.To("r", "other").Emit("two"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a1, b1, b2} {
		c.expect(t, "two []")
	}
	// Local stays local.
	if err := a.srv.Of("/").Local().Emit("local"); err != nil {
		t.Fatal(err)
	}
	a1.expect(t, "local []")
	for _, c := range []*client{b1, b2} {
		c.barrier(t, b)
	}
	if s := b.cluster.Stats(); s.Received == 0 || s.Malformed != 0 || s.Dropped != 0 {
		t.Errorf("B's stats %+v", s)
	}
	// A probe every 100 ms on a quiet cluster: 15 rounds in which none may
	// be taken for a lapse (a probe read before its PUBLISH returned was,
	// once); a lapse needs 200 ms without a word.
	wait.Absent(t, "a gap on B's healthy subscription", 1500*time.Millisecond, func() bool { return b.cluster.Stats().Gaps > 0 })
}

func TestClusterRequests(t *testing.T) { forModes(t, testClusterRequests) }

func testClusterRequests(t *testing.T, base redisadapter.Options) {
	r := testenv.StartRedis(t)
	onB := make(chan string, 4)
	a := startNode(t, r.URL(), base, joinRooms)
	b := startNode(t, r.URL(), base, func(srv *server.Server) {
		joinRooms(srv)
		srv.Of("/").ServerSide().On("ping", func(args shared.Args, ack shared.AckFunc) error {
			var s string
			_ = args.Decode(0, &s)
			onB <- s
			if ack != nil {
				return ack("pong from B", "dropped: only the first argument crosses")
			}
			return nil
		})
	})
	a1 := dialClient(t, a.url, "room=r&who=a1")
	b1 := dialClient(t, b.url, "room=r&who=b1")
	// Connection handlers (joinRooms) run after the client is told it
	// connected: wait for the joins.
	inRoom(t, a, a1.ID(), "r")
	inRoom(t, b, b1.ID(), "r")
	a1.On("ask", func(args shared.Args, ack shared.AckFunc) error { return ack("a1 says", 1) })
	b1.On("ask", func(args shared.Args, ack shared.AckFunc) error { return ack([]byte{7}) })
	ctx := context.Background()

	if n, err := a.srv.Of("/").Adapter().ServerCount(ctx); err != nil || n != 2 {
		t.Fatalf("ServerCount = %d, %v; want 2", n, err)
	}

	// fetchSockets: B's socket as A sees it.
	socks, err := a.srv.In("r").FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range socks {
		ids = append(ids, s.ID)
		if s.ID == b1.ID() {
			if got := s.Handshake.Query.Get("who"); got != "b1" {
				t.Errorf("B's socket's handshake query who = %q (handshake %+v)", got, s.Handshake)
			}
			if !slices.Contains(s.Rooms, "r") || !slices.Contains(s.Rooms, b1.ID()) {
				t.Errorf("B's socket's rooms = %q", s.Rooms)
			}
		}
	}
	sort.Strings(ids)
	want := []string{a1.ID(), b1.ID()}
	sort.Strings(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("FetchSockets ids = %q, want %q", ids, want)
	}

	// socketsJoin from A moves B's socket; a broadcast to the new room
	// then reaches it.
	a.srv.In(b1.ID()).Join("vip")
	wait.For(t, "B's socket in vip", func() bool { return slices.Contains(b.srv.Of("/").Adapter().SocketRooms(b1.ID()), "vip") })
	if base.Mode == redisadapter.ModeSharded {
		waitShardSubscribed(t, r, base, "vip", 1)
	}
	rooms, err := a.srv.Of("/").Adapter().AllRooms(ctx)
	if err != nil || !slices.Contains(rooms, "vip") || !slices.Contains(rooms, a1.ID()) {
		t.Fatalf("AllRooms = %q, %v", rooms, err)
	}
	if err := a.srv.To("vip").Emit("vip"); err != nil {
		t.Fatal(err)
	}
	b1.expect(t, "vip []")
	a.srv.In("vip").Leave("vip")
	wait.For(t, "B's socket out of vip", func() bool { return !slices.Contains(b.srv.Of("/").Adapter().SocketRooms(b1.ID()), "vip") })

	// serverSideEmit, without and with an ack.
	if err := a.srv.Of("/").ServerSideEmit("ping", "no ack"); err != nil {
		t.Fatal(err)
	}
	if got := wait.Recv(t, "B's ping", onB); got != "no ack" {
		t.Fatalf("B got %q", got)
	}
	replies, err := a.srv.Of("/").ServerSideEmitWithAck(ctx, "ping", "with ack")
	if err != nil || len(replies) != 1 || replies[0].Len() != 1 || string(replies[0].Raw(0)) != `"pong from B"` {
		t.Fatalf("ServerSideEmitWithAck = %v, %v", replies, err)
	}
	<-onB

	// Broadcast with acks: one reply per client, from both servers.
	acks, err := a.srv.To("r").EmitWithAck(ctx, "ask")
	if err != nil || len(acks) != 2 {
		t.Fatalf("EmitWithAck = %d replies, %v", len(acks), err)
	}
	var got []string
	for _, ack := range acks {
		vals, _ := ack.Values()
		j, _ := json.Marshal(vals)
		got = append(got, fmt.Sprintf("%s+%d", j, len(ack.Buffers())))
	}
	sort.Strings(got)
	// A's own client answers with both arguments; B's crosses with its
	// first only, binary kept (Values shows it as base64).
	if w := []string{`["Bw=="]+1`, `["a1 says",1]+0`}; !slices.Equal(got, w) {
		t.Fatalf("acks = %q, want %q", got, w)
	}

	// disconnectSockets from A ends B's socket.
	disc := make(chan string, 1)
	b1.OnDisconnect(func(reason string) { disc <- reason })
	a.srv.In(b1.ID()).Disconnect(false)
	if reason := wait.Recv(t, "B's socket disconnected", disc); reason != wasmclient.ReasonServerDisconnect {
		t.Fatalf("disconnect reason %q", reason)
	}
}

// TestClusterRedisDown stops Redis during broadcasts: local delivery goes
// on, the loss is counted, and once Redis is back the cluster delivers
// again.
func TestClusterRedisDown(t *testing.T) { forModes(t, testClusterRedisDown) }

func testClusterRedisDown(t *testing.T, base redisadapter.Options) {
	r := testenv.StartRedis(t)
	base.ProbeInterval = 200 * time.Millisecond
	a := startNode(t, r.URL(), base, joinRooms)
	b := startNode(t, r.URL(), base, joinRooms)
	a1 := dialClient(t, a.url, "room=r")
	b1 := dialClient(t, b.url, "room=r")
	inRoom(t, a, a1.ID(), "r")
	inRoom(t, b, b1.ID(), "r")
	waitReady(t, a, b)
	if err := a.srv.To("r").Emit("n", 0); err != nil {
		t.Fatal(err)
	}
	a1.expect(t, "n [0]")
	b1.expect(t, "n [0]")

	r.Stop()
	for i := 1; i <= 20; i++ {
		if err := a.srv.To("r").Emit("n", i); err != nil {
			t.Fatal(err)
		}
		a1.expect(t, fmt.Sprintf("n [%d]", i)) // local delivery goes on
	}
	wait.For(t, "the lost publishes counted", func() bool { return a.cluster.Stats().PublishErrors > 0 })
	wait.For(t, "B's gap counted", func() bool { return b.cluster.Stats().Gaps > 0 })

	r.Start()
	start := time.Now()
	// Emit until B's client gets one: the cluster delivers again.
	deadline := time.Now().Add(wait.Deadline())
	for i := 100; ; i++ {
		if err := a.srv.To("r").Emit("m", i); err != nil {
			t.Fatal(err)
		}
		a1.expect(t, fmt.Sprintf("m [%d]", i))
		select {
		case ev := <-b1.events:
			if base.Mode == redisadapter.ModeStreams && strings.HasPrefix(ev, "n [") {
				// An XADD still queued when Redis came back: in the
				// stream, so B reads it, late but in order.
				continue
			}
			if !strings.HasPrefix(ev, "m [") {
				t.Fatalf("B's client got %q", ev)
			}
			t.Logf("the cluster delivered again %v after Redis came back", time.Since(start).Round(time.Millisecond))
			if !strings.Contains(a.logs.String(), "publish failed") || !strings.Contains(b.logs.String(), "subscription lost") {
				t.Errorf("the loss was not logged:\nA: %s\nB: %s", a.logs.String(), b.logs.String())
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not deliver again within %v; stats A %+v B %+v", wait.Deadline(), a.cluster.Stats(), b.cluster.Stats())
		}
	}
}

func TestClusterRedisUnreachable(t *testing.T) {
	r := testenv.StartRedis(t)
	r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	_, err := redisadapter.New(ctx, redisadapter.Options{URL: r.URL()})
	if err == nil || !strings.Contains(err.Error(), "does not answer") || !strings.Contains(err.Error(), r.Addr) {
		t.Fatalf("New with Redis down: %v", err)
	}
	// With WaitForRedis, New retries until Redis is there.
	done := make(chan error, 1)
	var cl *redisadapter.Cluster
	go func() {
		var err error
		cl, err = redisadapter.New(ctx, redisadapter.Options{URL: r.URL(), WaitForRedis: true})
		done <- err
	}()
	r.Start()
	if err := wait.Recv(t, "New to return", done); err != nil {
		t.Fatalf("New with WaitForRedis: %v", err)
	}
	cl.Close()
	// And gives up when its context ends.
	r.Stop()
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if _, err := redisadapter.New(short, redisadapter.Options{URL: r.URL(), WaitForRedis: true}); err == nil {
		t.Fatal("New with WaitForRedis and an ended context succeeded")
	}
}

// TestClusterSilentPeer: a subscriber that counts in NUMSUB but never
// answers. fetchSockets returns what arrived, and says what is missing.
func TestClusterSilentPeer(t *testing.T) {
	r := testenv.StartRedis(t)
	a := startNode(t, r.URL(), redisadapter.Options{RequestsTimeout: 500 * time.Millisecond}, joinRooms)
	b := startNode(t, r.URL(), redisadapter.Options{}, joinRooms)
	a1 := dialClient(t, a.url, "room=r")
	b1 := dialClient(t, b.url, "room=r")
	silent := dialRESP(t, r.Addr)
	if err := silent.send("SUBSCRIBE", redisadapter.NewChannels("", "/", "").Request); err != nil {
		t.Fatal(err)
	}
	if _, err := silent.read(true); err != nil {
		t.Fatal(err)
	}
	socks, err := a.srv.Of("/").To().FetchSockets(context.Background())
	if !errors.Is(err, shared.ErrAckTimeout) || !strings.Contains(err.Error(), "1 of 2 other servers did not answer") {
		t.Fatalf("FetchSockets error = %v", err)
	}
	var ids []string
	for _, s := range socks {
		ids = append(ids, s.ID)
	}
	if !slices.Contains(ids, a1.ID()) || !slices.Contains(ids, b1.ID()) {
		t.Fatalf("FetchSockets = %q, want A's and B's sockets", ids)
	}
	replies, err := a.srv.Of("/").ServerSideEmitWithAck(context.Background(), "nobody")
	if !errors.Is(err, shared.ErrAckTimeout) || len(replies) != 0 {
		t.Fatalf("ServerSideEmitWithAck = %v, %v", replies, err)
	}
}

// TestClusterMalformedMessages publishes garbage on every channel of the
// namespace: each is dropped and counted, and the cluster goes on.
func TestClusterMalformedMessages(t *testing.T) {
	r := testenv.StartRedis(t)
	a := startNode(t, r.URL(), redisadapter.Options{}, joinRooms)
	b := startNode(t, r.URL(), redisadapter.Options{}, joinRooms)
	b1 := dialClient(t, b.url, "room=r")
	ch := redisadapter.NewChannels("", "/", "x")
	pub := dialRESP(t, r.Addr)
	bad := []struct{ channel, payload string }{
		{ch.Broadcast, "\x93\xa1x"},                    // truncated msgpack
		{ch.Room("r"), "\xc1"},                         // never-used byte
		{ch.Broadcast, "\x93\xa1x\x80\x80"},            // packet is not a packet
		{ch.Request, "{not json"},                      // bad JSON
		{ch.Request, `{"uid":"z","type":99}`},          // unknown type
		{ch.Request, `{"uid":"z","type":7}`},           // broadcast without packet
		{ch.Response, `{"requestId":1}`},               // wrong type
		{ch.Response, "\xdd\xff\xff\xff\xff"},          // array of 4G elements
		{ch.Request, `{"uid":"z","type":6,"data":[]}`}, // no event name
	}
	for _, m := range bad {
		if _, err := pub.do("PUBLISH", m.channel, m.payload); err != nil {
			t.Fatal(err)
		}
	}
	wait.For(t, "every bad message counted", func() bool { return b.cluster.Stats().Malformed >= uint64(len(bad)) })
	if err := a.srv.To("r").Emit("still", "fine"); err != nil {
		t.Fatal(err)
	}
	b1.expect(t, `still ["fine"]`)
	if !strings.Contains(b.logs.String(), "malformed") {
		t.Errorf("B logged no malformed message:\n%s", b.logs.String())
	}
}

// waitShardSubscribed waits until servers servers subscribed to the
// channel of room in namespace "/" (the namespace's own channel in static
// mode), so that a broadcast to it reaches them all.
func waitShardSubscribed(t *testing.T, r *testenv.Redis, o redisadapter.Options, room string, servers int) {
	t.Helper()
	ch := "socket.io#/#"
	if room != "" && o.SubscriptionMode != redisadapter.SubscriptionStatic {
		ch += room + "#"
	}
	ctl := dialRESP(t, r.Addr)
	wait.For(t, fmt.Sprintf("%d servers subscribed to %s", servers, ch), func() bool {
		n, err := ctl.do("PUBSUB", "SHARDNUMSUB", ch)
		l, _ := n.([]any)
		if err != nil || len(l) != 2 {
			return false
		}
		n2, _ := l[1].(int64)
		if o.SubscriptionMode == redisadapter.SubscriptionStatic {
			return n2 >= int64(servers) // every server of the namespace
		}
		return n2 == int64(servers)
	})
}

// TestClusterMalformedMessagesCluster sends bad ClusterAdapter messages
// to a server in sharded mode (SPUBLISH) and in streams mode (PUBLISH and
// XADD): each is dropped, counted and logged, and the cluster still
// delivers.
func TestClusterMalformedMessagesCluster(t *testing.T) {
	bad := []string{
		"\x84\xa4type", // truncated msgpack
		"\xc1",
		"{not json",
		`{"type":99,"uid":"z","nsp":"/","data":{}}`,
		`{"type":3,"uid":"z","nsp":"/"}`,
		`{"type":3,"uid":"z","nsp":"/","data":{"packet":{"type":2,"data":[1]},"opts":{"rooms":[],"except":[]}}}`,
		`{"type":7,"uid":"z","nsp":"/","data":{"opts":{"rooms":[],"except":[]}}}`,
		"\x81\xa4type\xdd\xff\xff\xff\xff",
	}
	for _, m := range []struct {
		name string
		opts redisadapter.Options
		send func(t *testing.T, pub *respConn, payload string) error
	}{
		{"sharded", redisadapter.Options{Mode: redisadapter.ModeSharded}, func(t *testing.T, pub *respConn, p string) error {
			_, err := pub.do("SPUBLISH", "socket.io#/#", p)
			return err
		}},
		{"streams pub/sub", redisadapter.Options{Mode: redisadapter.ModeStreams}, func(t *testing.T, pub *respConn, p string) error {
			_, err := pub.do("PUBLISH", "socket.io#/#", p)
			return err
		}},
		{"streams entries", redisadapter.Options{Mode: redisadapter.ModeStreams}, func(t *testing.T, pub *respConn, p string) error {
			_, err := pub.do("XADD", "socket.io", "*", "uid", "z", "nsp", "/", "type", "3", "data", p)
			return err
		}},
	} {
		t.Run(m.name, func(t *testing.T) {
			r := testenv.StartRedis(t)
			a := startNode(t, r.URL(), m.opts, joinRooms)
			b := startNode(t, r.URL(), m.opts, joinRooms)
			b1 := dialClient(t, b.url, "room=r")
			waitReady(t, a, b)
			if m.opts.Mode == redisadapter.ModeSharded {
				waitShardSubscribed(t, r, m.opts, "r", 1)
			}
			pub := dialRESP(t, r.Addr)
			for _, p := range bad {
				if err := m.send(t, pub, p); err != nil {
					t.Fatal(err)
				}
			}
			wait.For(t, "every bad message counted", func() bool { return b.cluster.Stats().Malformed >= uint64(len(bad)) })
			if err := a.srv.To("r").Emit("still", "fine"); err != nil {
				t.Fatal(err)
			}
			b1.expect(t, `still ["fine"]`)
			if !strings.Contains(b.logs.String(), "malformed") {
				t.Errorf("B logged no malformed message:\n%s", b.logs.String())
			}
		})
	}
}

// inRoom waits until socket id is in room on n.
func inRoom(t *testing.T, n *node, id, room string) {
	t.Helper()
	wait.For(t, id+" in "+room, func() bool { return slices.Contains(n.srv.Of("/").Adapter().SocketRooms(id), room) })
}
