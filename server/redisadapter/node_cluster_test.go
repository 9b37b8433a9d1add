//go:build !js

package redisadapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/redisadapter"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// nodePeer is testdata/node_cluster.js: a Node socket.io server with
// @socket.io/redis-adapter 8.3.0 and one official client.
type nodePeer struct {
	t      *testing.T
	proc   *testenv.Process
	stdin  io.WriteCloser
	ids    atomic.Int64
	uid    string
	client string // the official client's socket id
	port   string // where the Node server listens
}

// startNodePeer starts testdata/node_cluster.js on r, in the mode of o:
// createAdapter over ioredis, or createShardedAdapter over redis.
// extra is more of its environment, such as RECOVERY=1.
func startNodePeer(t *testing.T, r *testenv.Redis, o redisadapter.Options, extra ...string) *nodePeer {
	t.Helper()
	modules := testenv.NodeModules(t)
	env := append([]string{"NODE_PATH=" + modules, "REDIS_PORT=" + strconv.Itoa(r.Port)}, extra...)
	if o.Mode == redisadapter.ModeStreams {
		env = append(env, "ADAPTER=streams")
	}
	if o.Mode == redisadapter.ModeSharded {
		sm := o.SubscriptionMode
		if sm == "" {
			sm = redisadapter.SubscriptionDynamic
		}
		env = append(env, "ADAPTER=sharded", "SUBSCRIPTION_MODE="+string(sm))
	}
	for _, pkg := range []string{"@socket.io/redis-adapter", "@socket.io/redis-streams-adapter", "ioredis", "redis"} {
		if _, err := os.Stat(filepath.Join(modules, pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s not found in %s: run scripts/test, which installs it (or set TSUNAGI_NODE_MODULES)", pkg, modules)
		}
	}
	cmd := exec.Command(testenv.Node(t), filepath.Join("testdata", "node_cluster.js"))
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &nodePeer{t: t, stdin: stdin}
	p.proc = testenv.Start(t, cmd)
	t.Cleanup(func() { stdin.Close() })
	p.port = p.proc.WaitOutput(t, wait.Deadline(), `\{"port":([0-9]+)\}`)[1]
	m := p.proc.WaitOutput(t, wait.Deadline(), `\{"ready":\{"uid":"([^"]+)","client":"([^"]+)"\}\}`)
	p.uid, p.client = m[1], m[2]
	return p
}

// do runs a command and returns its value; an error result fails the test.
func (p *nodePeer) do(cmd map[string]any) json.RawMessage {
	p.t.Helper()
	id := strconv.FormatInt(p.ids.Add(1), 10)
	cmd["id"] = id
	b, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatal(err)
	}
	line := p.proc.WaitOutput(p.t, wait.Deadline(), `\{"result":\{"id":"`+id+`",.*\}\}\n`)[0]
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
			Error *string         `json:"error"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		p.t.Fatalf("bad result line %q: %v", line, err)
	}
	if res.Result.Error != nil {
		p.t.Fatalf("Node %v failed: %s", cmd, *res.Result.Error)
	}
	return res.Result.Value
}

// saw waits for an exact line of the Node process.
func (p *nodePeer) saw(line string) {
	p.t.Helper()
	p.proc.WaitOutput(p.t, wait.Deadline(), `(?m)^`+regexp.QuoteMeta(line)+`$`)
}

// waitSubscribed waits until servers servers subscribed to the request
// channel of "/": Node's adapter subscribes without waiting for Redis'
// reply, so it may be subscribed a moment after its client connected. It
// sends PSUBSCRIBE before SUBSCRIBE on the same connection, so its pattern
// is in place too then.
func waitSubscribed(t *testing.T, r *testenv.Redis, servers int) {
	t.Helper()
	ctl := dialRESP(t, r.Addr)
	ch := redisadapter.NewChannels("", "/", "")
	wait.For(t, fmt.Sprintf("%d servers subscribed", servers), func() bool {
		n, err := ctl.do("PUBSUB", "NUMSUB", ch.Request)
		l, _ := n.([]any)
		return err == nil && len(l) == 2 && l[1] == int64(servers)
	})
}

// TestNodeClusterInterop joins a tsunagi server and a Node server with
// @socket.io/redis-adapter 8.3.0 on one redis-server, with a client on
// each, and runs every operation both ways: in classic mode, and in
// sharded mode with each subscription mode.
func TestNodeClusterInterop(t *testing.T) { forModes(t, testNodeClusterInterop) }

func testNodeClusterInterop(t *testing.T, base redisadapter.Options) {
	r := testenv.StartRedis(t)
	peer := startNodePeer(t, r, base)
	pings := make(chan string, 4)
	g := startNode(t, r.URL(), base, func(srv *server.Server) {
		joinRooms(srv)
		srv.Of("/").ServerSide().On("ping", func(args shared.Args, ack shared.AckFunc) error {
			pings <- string(args.Raw(0))
			if ack != nil {
				return ack("pong from go")
			}
			return nil
		})
	})
	gc := dialClient(t, g.url, "room=r&who=go")
	inRoom(t, g, gc.ID(), "r")
	gc.On("ask", func(_ shared.Args, ack shared.AckFunc) error { return ack(map[string]string{"go": "ack"}) })
	ctx := context.Background()

	if base.Mode == redisadapter.ModeSharded {
		waitShardSubscribed(t, r, base, "", 2) // the namespace's channel
		waitShardSubscribed(t, r, base, "r", 2)
	} else if base.Mode == redisadapter.ModeStreams {
		ctl := dialRESP(t, r.Addr)
		wait.For(t, "2 servers subscribed to socket.io#/#", func() bool {
			n, err := ctl.do("PUBSUB", "NUMSUB", "socket.io#/#")
			l, _ := n.([]any)
			return err == nil && len(l) == 2 && l[1] == int64(2)
		})
	} else {
		waitSubscribed(t, r, 2)
	}
	wait.For(t, "Node to count 2 servers", func() bool { return string(peer.do(map[string]any{"op": "serverCount"})) == "2" })
	wait.For(t, "Go to count 2 servers", func() bool {
		n, err := g.srv.Of("/").Adapter().ServerCount(context.Background())
		return err == nil && n == 2
	})
	if base.Mode == redisadapter.ModeStreams {
		// Node reads the stream from "$" once its reading client is
		// connected, which it does not say: broadcast until it gets one.
		wait.For(t, "Node to read the stream", func() bool {
			if err := g.srv.To(peer.client).Emit("warmup"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			return strings.Contains(peer.proc.Stdout(), `{"client":["warmup"]}`)
		})
	}

	t.Run("broadcast Go to Node", func(t *testing.T) {
		if err := g.srv.To("r").Emit("hello", "world", []byte{1, 2}); err != nil {
			t.Fatal(err)
		}
		peer.saw(`{"client":["hello","world",{"bin":[1,2]}]}`)
		gc.expect(t, `hello ["world","AQI=","bin:0102"]`)
		// Except, with the Node client excluded: only Go's client gets it.
		if err := g.srv.Except(peer.client).Emit("not for node"); err != nil {
			t.Fatal(err)
		}
		gc.expect(t, `not for node []`)
		// To one socket id: the namespace's channel in dynamic mode
		// (Node's looksLikeASocketId), the id's own in dynamic-private.
		if err := g.srv.To(peer.client).Emit("just node"); err != nil {
			t.Fatal(err)
		}
		peer.saw(`{"client":["just node"]}`)
	})
	t.Run("broadcast Node to Go", func(t *testing.T) {
		peer.do(map[string]any{"op": "emit", "rooms": []string{"r"}, "args": []any{"fromnode", map[string]any{"a": 1}, map[string]any{"bin": []int{3}}}})
		gc.expect(t, `fromnode [{"a":1},"Aw==","bin:03"]`)
		peer.do(map[string]any{"op": "emit", "except": []string{gc.ID()}, "args": []any{"except go"}})
		peer.saw(`{"client":["except go"]}`)
		peer.do(map[string]any{"op": "emit", "rooms": []string{gc.ID()}, "args": []any{"just go"}})
		gc.expect(t, `just go []`)
		gc.barrier(t, g)
	})
	t.Run("fetchSockets Go to Node", func(t *testing.T) {
		socks, err := g.srv.Of("/").In("r").FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, s := range socks {
			if s.ID == peer.client {
				found = true
				if s.Handshake.Query.Get("who") != "node" || !slices.Contains(s.Rooms, "r") {
					t.Errorf("Node's socket as Go sees it: %+v", s.SocketInfo)
				}
			}
		}
		if !found || len(socks) != 2 {
			t.Fatalf("FetchSockets = %d sockets, Node's among them: %v", len(socks), found)
		}
	})
	t.Run("fetchSockets Node to Go", func(t *testing.T) {
		var socks []struct {
			ID    string            `json:"id"`
			Rooms []string          `json:"rooms"`
			Query map[string]string `json:"query"`
		}
		if err := json.Unmarshal(peer.do(map[string]any{"op": "fetch", "rooms": []string{"r"}}), &socks); err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, s := range socks {
			if s.ID == gc.ID() {
				found = true
				if s.Query["who"] != "go" || !slices.Contains(s.Rooms, "r") || !slices.Contains(s.Rooms, gc.ID()) {
					t.Errorf("Go's socket as Node sees it: %+v", s)
				}
			}
		}
		if !found || len(socks) != 2 {
			t.Fatalf("Node's fetchSockets = %+v", socks)
		}
	})
	t.Run("socketsJoin both ways", func(t *testing.T) {
		g.srv.In(peer.client).Join("g2n")
		wait.For(t, "Node's client in g2n", func() bool {
			return strings.Contains(string(peer.do(map[string]any{"op": "clientRooms"})), `"g2n"`)
		})
		peer.do(map[string]any{"op": "join", "target": gc.ID(), "rooms": []string{"n2g"}})
		wait.For(t, "Go's client in n2g", func() bool {
			return slices.Contains(g.srv.Of("/").Adapter().SocketRooms(gc.ID()), "n2g")
		})
		rooms, err := g.srv.Of("/").Adapter().AllRooms(ctx)
		if err != nil || !slices.Contains(rooms, "g2n") || !slices.Contains(rooms, "n2g") {
			t.Fatalf("Go's AllRooms = %q, %v", rooms, err)
		}
		if base.Mode == redisadapter.ModeClassic || base.Mode == "" { // Node's ClusterAdapters have no allRooms
			var nodeRooms []string
			if err := json.Unmarshal(peer.do(map[string]any{"op": "allRooms"}), &nodeRooms); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(nodeRooms, "n2g") || !slices.Contains(nodeRooms, gc.ID()) {
				t.Fatalf("Node's allRooms = %q", nodeRooms)
			}
		}
		peer.do(map[string]any{"op": "leave", "target": gc.ID(), "rooms": []string{"n2g"}})
		wait.For(t, "Go's client out of n2g", func() bool {
			return !slices.Contains(g.srv.Of("/").Adapter().SocketRooms(gc.ID()), "n2g")
		})
	})
	t.Run("serverSideEmit both ways", func(t *testing.T) {
		if err := g.srv.Of("/").ServerSideEmit("ping", 1, "x"); err != nil {
			t.Fatal(err)
		}
		peer.saw(`{"serverSide":["ping",1,"x"]}`)
		replies, err := g.srv.Of("/").ServerSideEmitWithAck(ctx, "ping", 2)
		if err != nil || len(replies) != 1 || string(replies[0].Raw(0)) != `{"from":"node","got":[2]}` {
			t.Fatalf("ServerSideEmitWithAck = %v, %v", replies, err)
		}
		peer.saw(`{"serverSide":["ping",2]}`)
		peer.do(map[string]any{"op": "serverSideEmit", "args": []any{"ping", "n"}})
		if got := wait.Recv(t, "Go's ping", pings); got != `"n"` {
			t.Fatalf("Go's handler got %s", got)
		}
		if v := string(peer.do(map[string]any{"op": "serverSideEmitWithAck", "args": []any{"ping", "q"}})); v != `["pong from go"]` {
			t.Fatalf("Node's serverSideEmitWithAck = %s", v)
		}
		<-pings
	})
	t.Run("broadcast with acks both ways", func(t *testing.T) {
		acks, err := g.srv.To("r").EmitWithAck(ctx, "ask")
		if err != nil || len(acks) != 2 {
			t.Fatalf("EmitWithAck = %d replies, %v", len(acks), err)
		}
		var got []string
		for _, a := range acks {
			got = append(got, fmt.Sprintf("%s+%d", a.Raw(0), len(a.Buffers())))
		}
		sort.Strings(got)
		if want := []string{`{"go":"ack"}+0`, `{"node":"ack","bin":{"_placeholder":true,"num":0}}+1`}; !slices.Equal(got, want) {
			t.Fatalf("acks = %q, want %q", got, want)
		}
		v := string(peer.do(map[string]any{"op": "emitWithAck", "rooms": []string{"r"}, "args": []any{"ask"}}))
		if v != `[{"node":"ack","bin":{"bin":[9,8]}},{"go":"ack"}]` && v != `[{"go":"ack"},{"node":"ack","bin":{"bin":[9,8]}}]` {
			t.Fatalf("Node's emitWithAck = %s", v)
		}
	})
	t.Run("disconnectSockets both ways", func(t *testing.T) {
		disc := make(chan string, 1)
		gc.OnDisconnect(func(reason string) { disc <- reason })
		peer.do(map[string]any{"op": "disconnect", "target": gc.ID()})
		if reason := wait.Recv(t, "Go's client disconnected", disc); reason != wasmclient.ReasonServerDisconnect {
			t.Fatalf("reason %q", reason)
		}
		g.srv.In(peer.client).Disconnect(true)
		peer.saw(`{"disconnected":"io server disconnect"}`)
	})
	if s := g.cluster.Stats(); s.Malformed != 0 || s.Dropped != 0 || s.Gaps != 0 {
		t.Errorf("Go's stats %+v", s)
	}
}
