//go:build !js

package wasmclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestConnectSentOncePerConnection: a socket that starts connecting at the
// moment the connection opens (here from the manager's open listener, which
// runs after the connection is up and before the manager asks for every
// waiting socket) sends its CONNECT once on that connection. A second CONNECT to the same
// namespace is bad input: the server ends the whole connection, and every
// other namespace on it with it. This once happened at random when two
// sockets connected at the same time.
func TestConnectSentOncePerConnection(t *testing.T) {
	t.Parallel()
	srv := server.New(&server.Options{Logger: quiet})
	srv.OnConnection(func(s *server.Socket) {
		s.On("ping", func(_ shared.Args, ack shared.AckFunc) error { return ack("pong") })
	})
	adminLeft := make(chan string, 1)
	adminJoined := make(chan struct{}, 1)
	srv.Of("/admin").OnConnection(func(s *server.Socket) {
		s.OnDisconnect(func(r string) { adminLeft <- r })
		adminJoined <- struct{}{}
	})
	var dials atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dials.Add(1)
		srv.ServeHTTP(w, r)
	}))
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	m, err := wasmclient.NewManager(hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	main, admin := m.Socket("/"), m.Socket("/admin")
	var mainLost atomic.Value
	main.OnDisconnect(func(r string) { mainLost.Store(r) })
	adminUp := make(chan struct{}, 1)
	admin.OnConnect(func() { adminUp <- struct{}{} })
	// The open listener holds the manager until the server has taken
	// /admin's CONNECT, so that a second one, if sent, is read as one.
	var first sync.Once
	m.OnOpen(func() {
		first.Do(func() {
			admin.Open()
			select {
			case <-adminJoined:
			case <-time.After(wait.Deadline()):
			}
		})
	})

	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := main.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	wait.Recv(t, "/admin connected", adminUp)
	// Barriers: each reply proves that the server read everything the client
	// sent before the request, the CONNECTs of the open included.
	ping := func() {
		t.Helper()
		if _, err := main.EmitWithAck(ctx, "ping"); err != nil {
			t.Fatalf("ping on /: %v (disconnected: %v)", err, mainLost.Load())
		}
	}
	ping()
	admin.Disconnect()
	if r := wait.Recv(t, "/admin leaving, at the server", adminLeft); r != server.ReasonClientDisconnect {
		t.Fatalf("/admin left with %q, want %q", r, server.ReasonClientDisconnect)
	}
	ping()
	if r := mainLost.Load(); r != nil {
		t.Fatalf("/ was disconnected (%v): the server ended the connection", r)
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d connections, want 1: the first was ended", n)
	}
}
