package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/admin"
	"github.com/tsunagi/tsunagi/shared"
)

// hash is the bcrypt hash of "secret", at the lowest cost (fast tests).
func hash(t testing.TB) string {
	h, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// newServer is a tsunagi server with the admin namespace, whose main
// namespace greets each socket with "welcome", puts it in room-1, and
// takes "hello".
func newServer(t testing.TB, opts admin.Options) (*server.Server, *admin.Admin, *httptest.Server) {
	srv := server.New(&server.Options{PingInterval: 5 * time.Second})
	adm, err := admin.Instrument(srv, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(s *server.Socket) {
		s.Join("room-1")
		_ = s.Emit("welcome", "hi")
		s.On("hello", func(shared.Args, shared.AckFunc) error { return nil })
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ts.Close()
		adm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, adm, ts
}

// TestOptions checks the options Node refuses.
func TestOptions(t *testing.T) {
	srv := server.New(nil)
	for _, o := range []admin.Options{
		{},
		{NoAuth: true, Auth: &admin.BasicAuth{Username: "a", Password: hash(t)}},
		{Auth: &admin.BasicAuth{Username: "a", Password: "plain"}},
		{NoAuth: true, Mode: "staging"},
	} {
		if _, err := admin.Instrument(srv, o); err == nil {
			t.Errorf("Instrument(%+v) did not fail", o)
		}
	}
}

// TestNodeClientProtocol: the official socket.io-client, as the UI uses
// it, against the admin namespace in development mode with a login.
func TestNodeClientProtocol(t *testing.T) {
	_, _, ts := newServer(t, admin.Options{
		Auth: &admin.BasicAuth{Username: "admin", Password: hash(t)},
		Mode: admin.ModeDevelopment, ServerID: "go-1", StatsInterval: 200 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline()+5*time.Second)
	defer cancel()
	p := testenv.RunNode(t, ctx, filepath.Join("testdata", "protocol.js"), "URL="+ts.URL,
		fmt.Sprintf("DEADLINE_MS=%d", wait.Deadline().Milliseconds()))
	if err := p.Wait(); err != nil {
		t.Fatalf("protocol.js: %v\n%s", err, p.Output())
	}
	var out struct {
		Refused, WithSession, WithFakeSession, UserReason, UserID string
		Events                                                    map[string][][]json.RawMessage
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(p.Stdout())), &out); err != nil {
		t.Fatalf("output: %v\n%s", err, p.Output())
	}
	if out.Refused != "invalid credentials" {
		t.Errorf("wrong password: %q, want invalid credentials", out.Refused)
	}
	if out.WithSession != "connected" || out.WithFakeSession != "invalid credentials" {
		t.Errorf("session id: %q, unknown session id: %q", out.WithSession, out.WithFakeSession)
	}
	if out.UserReason != "io server disconnect" {
		t.Errorf("the user's disconnect reason: %q", out.UserReason)
	}
	var cfg struct{ SupportedFeatures []string }
	_ = json.Unmarshal(out.Events["config"][0][0], &cfg)
	want := []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"}
	if !slices.Equal(cfg.SupportedFeatures, want) {
		t.Errorf("features %q, want %q", cfg.SupportedFeatures, want)
	}
	var stats struct {
		ServerID     string
		ClientsCount int
		Namespaces   []struct {
			Name         string
			SocketsCount int
		}
	}
	_ = json.Unmarshal(out.Events["server_stats"][0][0], &stats)
	if stats.ServerID != "go-1" || stats.ClientsCount < 1 || len(stats.Namespaces) < 2 {
		t.Errorf("server_stats: %+v", stats)
	}
	// The socket_connected of the user: Node's SerializedSocket.
	for _, ev := range out.Events["socket_connected"] {
		var s struct {
			ID, ClientID, Transport, Nsp string
			Rooms                        []string
			Handshake                    struct {
				Issued  int64
				Query   map[string]string
				Address string
			}
		}
		_ = json.Unmarshal(ev[0], &s)
		if s.ID != out.UserID {
			continue
		}
		if s.Nsp != "/" || len(s.ClientID) != 12 || s.Transport != "polling" || s.Handshake.Issued == 0 ||
			s.Handshake.Query["who"] != "user" || s.Handshake.Address != "127.0.0.1" {
			t.Errorf("socket_connected: %s", ev[0])
		}
		var at string
		if json.Unmarshal(ev[1], &at) != nil || !strings.HasSuffix(at, "Z") {
			t.Errorf("socket_connected date: %s", ev[1])
		}
		return
	}
	t.Errorf("no socket_connected for %s: %s", out.UserID, out.Events["socket_connected"])
}
