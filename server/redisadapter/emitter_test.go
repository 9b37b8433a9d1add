//go:build !js

package redisadapter_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/redisadapter"
	"github.com/tsunagi/tsunagi/server/redisadapter/emitter"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestEmitter sends every operation of the Go emitter to a cluster of a
// tsunagi server and a Node server (@socket.io/redis-adapter 8.3.0), with a
// client on each.
func TestEmitter(t *testing.T) {
	r := testenv.StartRedis(t)
	peer := startNodePeer(t, r, redisadapter.Options{})
	pings := make(chan string, 2)
	g := startNode(t, r.URL(), redisadapter.Options{}, func(srv *server.Server) {
		joinRooms(srv)
		srv.Of("/").ServerSide().On("ping", func(args shared.Args, _ shared.AckFunc) error {
			pings <- string(args.Raw(0))
			return nil
		})
	})
	gc := dialClient(t, g.url, "room=r")
	waitSubscribed(t, r, 2)
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	e, err := emitter.New(ctx, emitter.Options{URL: r.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	if err := e.To("r").Emit("from go emitter", map[string]int{"n": 1}, []byte{5}); err != nil {
		t.Fatal(err)
	}
	gc.expect(t, `from go emitter [{"n":1},"BQ==","bin:05"]`)
	peer.saw(`{"client":["from go emitter",{"n":1},{"bin":[5]}]}`)
	if err := e.Except(gc.ID()).Volatile().Emit("except go"); err != nil {
		t.Fatal(err)
	}
	peer.saw(`{"client":["except go"]}`)
	gc.barrier(t, g)
	if err := e.Of("/").Emit("reserved?", 1); err != nil {
		t.Fatal(err)
	}
	gc.expect(t, `reserved? [1]`)
	if err := e.Emit("connect"); err == nil {
		t.Error("Emit of the reserved name connect succeeded")
	}

	if err := e.In("r").SocketsJoin("joined"); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "Go's client in joined", func() bool { return slices.Contains(g.srv.Of("/").Adapter().SocketRooms(gc.ID()), "joined") })
	wait.For(t, "Node's client in joined", func() bool {
		return strings.Contains(string(peer.do(map[string]any{"op": "clientRooms"})), `"joined"`)
	})
	if err := e.In("joined").SocketsLeave("joined"); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "Go's client out of joined", func() bool { return !slices.Contains(g.srv.Of("/").Adapter().SocketRooms(gc.ID()), "joined") })

	if err := e.ServerSideEmit("ping", "go emitter"); err != nil {
		t.Fatal(err)
	}
	if got := wait.Recv(t, "the server-side ping", pings); got != `"go emitter"` {
		t.Fatalf("Go's handler got %s", got)
	}
	peer.saw(`{"serverSide":["ping","go emitter"]}`)

	disc := make(chan string, 1)
	gc.OnDisconnect(func(reason string) { disc <- reason })
	if err := e.In(gc.ID()).DisconnectSockets(true); err != nil {
		t.Fatal(err)
	}
	if reason := wait.Recv(t, "Go's client disconnected", disc); reason != wasmclient.ReasonServerDisconnect && reason != wasmclient.ReasonTransportClose {
		t.Fatalf("reason %q", reason)
	}
}

// TestNodeEmitter: @socket.io/redis-emitter 5.1.0 (node-redis 4) emits to a
// tsunagi server.
func TestNodeEmitter(t *testing.T) {
	modules := testenv.NodeModules(t)
	for _, pkg := range []string{"@socket.io/redis-emitter", "redis"} {
		if _, err := os.Stat(filepath.Join(modules, pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s not found in %s: run scripts/test, which installs it (or set TSUNAGI_NODE_MODULES)", pkg, modules)
		}
	}
	r := testenv.StartRedis(t)
	pings := make(chan string, 1)
	g := startNode(t, r.URL(), redisadapter.Options{}, func(srv *server.Server) {
		joinRooms(srv)
		srv.Of("/").ServerSide().On("ping", func(args shared.Args, _ shared.AckFunc) error {
			pings <- string(args.Raw(0))
			return nil
		})
	})
	gc := dialClient(t, g.url, "room=r")
	other := dialClient(t, g.url, "")

	cmd := exec.Command(testenv.Node(t), filepath.Join("testdata", "node_emitter.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "REDIS_PORT="+strconv.Itoa(r.Port))
	cmd.WaitDelay = 5 * time.Second
	p := testenv.Start(t, cmd)
	if err := p.WaitExit(t, "its last emit"); err != nil || !strings.Contains(p.Stdout(), "done") {
		t.Fatalf("node_emitter.js: %v\n%s", err, p.Output())
	}
	gc.expect(t, `from node emitter [{"n":1},"AQI=","bin:0102"]`)
	other.expect(t, `not for r []`)
	wait.For(t, "Go's client in the room the emitter named", func() bool {
		return slices.Contains(g.srv.Of("/").Adapter().SocketRooms(gc.ID()), "joined by node emitter")
	})
	if got := wait.Recv(t, "the server-side ping", pings); got != `"node emitter"` {
		t.Fatalf("Go's handler got %s", got)
	}
	gc.barrier(t, g) // nothing more for gc: it is in "r", so "not for r" skipped it
}
