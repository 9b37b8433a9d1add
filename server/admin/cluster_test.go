package admin_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/admin"
	"github.com/tsunagi/tsunagi/server/redisadapter"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// clusterNode is a tsunagi server on the Redis adapter, instrumented.
func clusterNode(t *testing.T, redisURL, id string) (*server.Server, string) {
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	cl, err := redisadapter.New(ctx, redisadapter.Options{URL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(&server.Options{Adapter: cl.Adapter})
	adm, err := admin.Instrument(srv, admin.Options{NoAuth: true, Mode: admin.ModeDevelopment,
		ServerID: id, StatsInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(s *server.Socket) { s.Join("room-" + id) })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		adm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
		_ = cl.Close()
	})
	return srv, hs.URL
}

// TestCluster: two servers on one redis-server; an admin client on the
// first sees both servers' stats, a socket of the second (connected after
// it, and in all_sockets when it connects after the socket), and
// disconnects that socket from the first server.
func TestCluster(t *testing.T) {
	r := testenv.StartRedis(t)
	srvA, urlA := clusterNode(t, r.URL(), "node-a")
	srvB, urlB := clusterNode(t, r.URL(), "node-b")
	for _, srv := range []*server.Server{srvA, srvB} {
		for _, nsp := range []string{"/", "/admin"} {
			wait.For(t, "the servers see each other on "+nsp, func() bool {
				n, err := srv.Of(nsp).Adapter().ServerCount(context.Background())
				return err == nil && n == 2
			})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()

	// The socket on B, before the admin client connects.
	early, err := wasmclient.Dial(ctx, urlB, &wasmclient.Options{NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer early.Disconnect()

	var mu sync.Mutex
	servers := map[string]bool{}
	var all []string
	var connected []string
	adm, err := wasmclient.New(urlA+"/admin", &wasmclient.Options{NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	adm.On("server_stats", func(a shared.Args, _ shared.AckFunc) error {
		var st struct{ ServerID string }
		_ = a.Decode(0, &st)
		mu.Lock()
		servers[st.ServerID] = true
		mu.Unlock()
		return nil
	})
	adm.On("all_sockets", func(a shared.Args, _ shared.AckFunc) error {
		var socks []struct {
			ID    string
			Rooms []string
		}
		_ = a.Decode(0, &socks)
		mu.Lock()
		for _, s := range socks {
			if slices.Contains(s.Rooms, "room-node-b") {
				all = append(all, s.ID)
			}
		}
		mu.Unlock()
		return nil
	})
	adm.On("socket_connected", func(a shared.Args, _ shared.AckFunc) error {
		var s struct{ ID string }
		_ = a.Decode(0, &s)
		mu.Lock()
		connected = append(connected, s.ID)
		mu.Unlock()
		return nil
	})
	if err := adm.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer adm.Disconnect()
	wait.For(t, "server_stats of both servers", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return servers["node-a"] && servers["node-b"]
	})
	wait.For(t, "the socket of B in all_sockets", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(all, early.ID())
	})

	late, err := wasmclient.Dial(ctx, urlB, &wasmclient.Options{NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan string, 1)
	late.OnDisconnect(func(reason string) { gone <- reason })
	id := late.ID()
	wait.For(t, "socket_connected of B's socket", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(connected, id)
	})
	if err := adm.Emit("_disconnect", "/", true, id); err != nil {
		t.Fatal(err)
	}
	reason := wait.Recv(t, "the disconnect of B's socket from A's admin", gone)
	if reason != "io server disconnect" && reason != "transport close" {
		t.Fatalf("reason %q", reason)
	}
	if !early.Connected() {
		t.Fatal("the other socket of B was disconnected too")
	}
}

// TestNodeCluster: a Node server with the official instrument and a
// tsunagi server on one redis-server; a UI client on either sees both
// servers' server_stats.
func TestNodeCluster(t *testing.T) {
	r := testenv.StartRedis(t)
	_, url := clusterNode(t, r.URL(), "go")
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline()+5*time.Second)
	defer cancel()
	p := testenv.RunNode(t, ctx, filepath.Join("testdata", "node_cluster.js"), "GO_URL="+url,
		fmt.Sprintf("REDIS_PORT=%d", r.Port), fmt.Sprintf("DEADLINE_MS=%d", wait.Deadline().Milliseconds()))
	err := p.Wait()
	out := strings.TrimSpace(p.Stdout())
	if want := `{"onNode":["go","node"],"onGo":["go","node"]}`; err != nil || out != want {
		t.Fatalf("node_cluster.js: %v: %s, want %s\n%s", err, out, want, p.Output())
	}
}
