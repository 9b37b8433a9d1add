//go:build !js

package wasmclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

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
	srv.OnConnection(func(s *server.Socket) { hello.Emit(s, "main") })
	srv.Of("/admin").OnConnection(func(s *server.Socket) { hello.Emit(s, "admin") })
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := main.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := admin.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{recvT(t, got): true, recvT(t, got): true}
	if !seen["/:main"] || !seen["/admin:admin"] {
		t.Fatalf("events: %v", seen)
	}
	if n := upgrades.Load(); n != 1 {
		t.Fatalf("%d WebSocket connections for two namespaces, want 1", n)
	}
	if main.ID() == admin.ID() {
		t.Fatal("two namespaces, one socket id")
	}
	// Leaving one namespace keeps the other connected.
	admin.Disconnect()
	time.Sleep(50 * time.Millisecond)
	if !main.Connected() {
		t.Fatal("leaving /admin disconnected /")
	}
	main.Disconnect()
}
