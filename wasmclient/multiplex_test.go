//go:build !js

package wasmclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestSeveralNamespacesOneConnection: one Manager carries "/" and "/admin"
// over a single WebSocket; each socket gets its own namespace's events.
func TestSeveralNamespacesOneConnection(t *testing.T) {
	t.Parallel()
	srv := server.New(&server.Options{Logger: quiet})
	hello := shared.NewEvent[string]("hello")
	srv.OnConnection(func(s *server.Socket) {
		hello.Emit(s, "main")
		s.On("still there", func(_ shared.Args, ack shared.AckFunc) error { return ack(true) })
	})
	adminLeft := make(chan string, 1)
	srv.Of("/admin").OnConnection(func(s *server.Socket) {
		hello.Emit(s, "admin")
		s.OnDisconnect(func(r string) { adminLeft <- r })
	})
	var upgrades atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upgrades.Add(1)
		srv.ServeHTTP(w, r)
	}))
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	m, err := wasmclient.NewManager(hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	main, admin := m.Socket("/"), m.Socket("/admin")
	got := make(chan string, 2)
	hello.On(main, func(s string) { got <- "/:" + s })
	hello.On(admin, func(s string) { got <- "/admin:" + s })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := main.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := admin.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{wait.Recv(t, "a hello", got): true, wait.Recv(t, "the other hello", got): true}
	if !seen["/:main"] || !seen["/admin:admin"] {
		t.Fatalf("events: %v", seen)
	}
	if n := upgrades.Load(); n != 1 {
		t.Fatalf("%d WebSocket connections for two namespaces, want 1", n)
	}
	if main.ID() == admin.ID() {
		t.Fatal("two namespaces, one socket id")
	}
	// Leaving one namespace keeps the other connected: the server sees
	// /admin leave, and then "/" still answers on the same connection.
	admin.Disconnect()
	if r := wait.Recv(t, "/admin leaving, at the server", adminLeft); r != "client namespace disconnect" {
		t.Fatalf("/admin left with %q, want client namespace disconnect", r)
	}
	if _, err := main.EmitWithAck(ctx, "still there"); err != nil || !main.Connected() {
		t.Fatalf("leaving /admin disconnected / (ack: %v)", err)
	}
	if n := upgrades.Load(); n != 1 {
		t.Fatalf("%d WebSocket connections after leaving /admin, want 1", n)
	}
	main.Disconnect()
}
