package admin_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/admin"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// adminClient connects to url's admin namespace nsp and returns the
// client with a channel of "config" features and one of the names of the
// other events received.
func adminClient(t *testing.T, url string) (*wasmclient.Socket, chan []string, chan string) {
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	c, err := wasmclient.New(url, &wasmclient.Options{NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := make(chan []string, 1)
	events := make(chan string, 1024)
	c.On("config", func(a shared.Args, _ shared.AckFunc) error {
		var v struct{ SupportedFeatures []string }
		_ = a.Decode(0, &v)
		cfg <- v.SupportedFeatures
		return nil
	})
	c.OnAny(func(event string, _ shared.Args) {
		select {
		case events <- event:
		default:
		}
	})
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect() })
	return c, cfg, events
}

// TestFeatures checks config's features in each mode (Node's official
// tests: all 9 in development; readonly; readonly in production), a custom
// namespace name, and that production mode sends no socket notifications.
func TestFeatures(t *testing.T) {
	for _, tc := range []struct {
		opts admin.Options
		want []string
	}{
		{admin.Options{Mode: admin.ModeDevelopment}, []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"}},
		{admin.Options{Readonly: true, Mode: admin.ModeDevelopment}, []string{"AGGREGATED_EVENTS", "ALL_EVENTS"}},
		{admin.Options{Readonly: true}, []string{"AGGREGATED_EVENTS"}},
		{admin.Options{NamespaceName: "/custom"}, []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS"}},
	} {
		tc.opts.NoAuth = true
		tc.opts.StatsInterval = 100 * time.Millisecond
		_, _, ts := newServer(t, tc.opts)
		nsp := tc.opts.NamespaceName
		if nsp == "" {
			nsp = "/admin"
		}
		_, cfg, events := adminClient(t, ts.URL+nsp)
		if got := wait.Recv(t, "config", cfg); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: features %q, want %q", tc.opts, got, tc.want)
		}
		if tc.opts.Mode == admin.ModeDevelopment {
			continue
		}
		// Production: a client's connect and events bring server_stats only.
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		u, err := wasmclient.Dial(ctx, ts.URL, &wasmclient.Options{NoReconnection: true})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		_ = u.Emit("hello")
		stats := 0
		for stats < 3 { // three ticks after the client came
			ev := wait.Recv(t, "events in production mode", events)
			switch ev {
			case "server_stats":
				stats++
			case "config":
			default:
				t.Errorf("%+v: production mode sent %q", tc.opts, ev)
			}
		}
		_ = u.Disconnect()
	}
}

// TestBadActions sends the actions malformed arguments and unknown
// namespaces: nothing happens, nothing panics, the admin socket stays.
func TestBadActions(t *testing.T) {
	srv, _, ts := newServer(t, admin.Options{NoAuth: true, Mode: admin.ModeDevelopment})
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	u, err := wasmclient.Dial(ctx, ts.URL, &wasmclient.Options{NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Disconnect()
	c, _, _ := adminClient(t, ts.URL+"/admin")
	for _, args := range [][]any{
		{"emit"}, {"emit", 1, 2, 3}, {"emit", "/nowhere", nil, "x"}, {"emit", "/", nil, "connect"},
		{"emit", "/", map[string]any{"a": 1}, "x"}, {"join", "/", 7}, {"join", "/nowhere", "r"},
		{"join", "/", ""}, {"leave", nil, nil, nil}, {"_disconnect", "/nowhere", true},
		{"_disconnect", "/", "yes", []any{1}}, {"_disconnect", "/", true, "no-such-socket"},
	} {
		if err := c.Emit(args[0].(string), args[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	// In order after them, a valid join: the client's socket is in r.
	if err := c.Emit("join", "/", "r", u.ID()); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the join after the bad actions", func() bool {
		s := srv.Of("/").To("r").Sockets()
		return len(s) == 1 && s[0].ID() == u.ID()
	})
	if !c.Connected() || !u.Connected() {
		t.Fatal("a bad action disconnected a socket")
	}
}

// TestSetData: Admin.SetData reaches the UI as socket_updated, with the
// data.
func TestSetData(t *testing.T) {
	srv := server.New(nil)
	adm, err := admin.Instrument(srv, admin.Options{NoAuth: true, Mode: admin.ModeDevelopment})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(s *server.Socket) {
		s.On("name", func(a shared.Args, _ shared.AckFunc) error {
			var name string
			_ = a.Decode(0, &name)
			adm.SetData(s, map[string]string{"name": name})
			return nil
		})
	})
	hs := httptest.NewServer(srv)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		adm.Close()
		_ = srv.Shutdown(ctx)
		hs.Close()
	}()
	c, _, _ := adminClient(t, hs.URL+"/admin")
	updated := make(chan string, 4)
	c.On("socket_updated", func(a shared.Args, _ shared.AckFunc) error {
		var u struct {
			ID   string
			Data struct{ Name string }
		}
		_ = a.Decode(0, &u)
		updated <- u.ID + " " + u.Data.Name
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	u, err := wasmclient.Dial(ctx, hs.URL, &wasmclient.Options{NoReconnection: true, Transports: []string{"websocket"}})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Disconnect()
	if err := u.Emit("name", "ada"); err != nil {
		t.Fatal(err)
	}
	if got := wait.Recv(t, "socket_updated", updated); got != u.ID()+" ada" {
		t.Fatalf("socket_updated %q", got)
	}
}
