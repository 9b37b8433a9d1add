//go:build !js

package wasmclient_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/web"
)

// TestFacadeInChromium drives the socket.io-client-shaped io() of the
// default client.wasm in headless Chromium against a real server: acks,
// timeouts, promises, binary both ways, onAny, once/off, connect_error.
func TestFacadeInChromium(t *testing.T) {
	t.Parallel()
	assets, err := web.BuildWasm(context.Background(), devserver.DefaultWasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(nil)
	type file struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	}
	srv.OnConnection(func(s *server.Socket) {
		s.On("echo", func(a shared.Args, ack shared.AckFunc) error {
			vals, _ := a.Values()
			return ack(vals...)
		})
		s.On("silent", func(shared.Args, shared.AckFunc) error { return nil })
		s.On("bin", func(a shared.Args, ack shared.AckFunc) error {
			var b []byte
			if err := a.Decode(0, &b); err != nil {
				return err
			}
			out := slices.Clone(b)
			slices.Reverse(out)
			s.Emit("bin back", file{Name: "reversed", Data: out})
			return ack(out)
		})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
			defer cancel()
			res, err := s.EmitWithAck(ctx, "ask", 21)
			if err == nil {
				var v int
				res.Decode(0, &v)
				s.Emit("asked", v)
			}
			s.Emit("twice")
			s.Emit("twice")
			s.Emit("removed")
		}()
	})
	srv.Of("/private").Use(func(s *server.Socket) error {
		var auth struct{ Token string }
		json.Unmarshal(s.Handshake().Auth, &auth)
		if auth.Token != "secret" {
			return &server.ConnectError{Message: "not authorized", Data: map[string]string{"hint": "token"}}
		}
		return nil
	})
	hs := httptest.NewServer(devserver.Handler(srv, "testdata", assets))
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	ctx := testenv.NewBrowser(t)
	ctx, cancel := context.WithTimeout(ctx, wait.Deadline())
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/facade.html")); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"connected":      true,
		"idType":         "string",
		"ack":            []any{1.0, "two", map[string]any{"three": 3.0}},
		"timeout":        "operation has timed out", // socket.io-client's message
		"promise":        "p",
		"promiseTimeout": "rejected",
		"binAck":         []any{3.0, 2.0, 1.0},
		"binAckBuffer":   []any{1.0, 2.0},
		"binBack":        []any{"reversed", []any{1.0, 2.0}},
		"asked":          42.0,
		"onceCount":      1.0,
		"removedDone":    true,
		"connectError":   []any{"not authorized", map[string]any{"hint": "token"}},
		"privateOK":      true,
	}
	keys, _ := json.Marshal(slices.Sorted(maps.Keys(want)))
	js := testenv.WaitJS(t, ctx, "every result on the page", `window.results || {}`, `r => `+string(keys)+`.every(k => k in r)`)
	var got map[string]any
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("results %s: %v", js, err)
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if got["removedCalled"] != nil {
		t.Error("a listener removed with off() was called")
	}
	if any, _ := got["any"].([]any); !slices.Contains(any, "asked") {
		t.Errorf("onAny saw %v", got["any"])
	}
	if out, _ := got["anyOut"].([]any); !slices.Contains(out, "echo") {
		t.Errorf("onAnyOutgoing saw %v", got["anyOut"])
	}
}

// TestFacadeReconnectsInChromium kills the server under a page and starts it
// again on the same port: the page reconnects by itself, with
// socket.io-client's events, and what it emitted meanwhile arrives.
func TestFacadeReconnectsInChromium(t *testing.T) {
	t.Parallel()
	assets, err := web.BuildWasm(context.Background(), devserver.DefaultWasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRestartableHandler(t, func(srv *server.Server) {
		srv.OnConnection(func(s *server.Socket) {
			s.On("buffered", func(a shared.Args, _ shared.AckFunc) error {
				var v string
				a.Decode(0, &v)
				return s.Emit("got", v)
			})
		})
	}, func(srv *server.Server) http.Handler { return devserver.Handler(srv, "testdata", assets) })

	ctx := testenv.NewBrowser(t)
	ctx, cancel := context.WithTimeout(ctx, wait.Deadline())
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url()+"/reconnect.html")); err != nil {
		t.Fatal(err)
	}
	type state struct {
		Connects, Reconnects, Attempts int
		Reasons                        []string
		Got                            string
	}
	waitFor := func(what, done string) state {
		var st state
		js := testenv.WaitJS(t, ctx, what, `window.results || {}`, done)
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			t.Fatalf("results %s: %v", js, err)
		}
		return st
	}
	waitFor("the first connect", `r => r.connects === 1`)
	r.kill()
	waitFor("the disconnect", `r => r.reasons.length === 1`)
	waitFor("a failed reconnection attempt while the server is down", `r => r.attempts >= 2`)
	r.restart()
	st := waitFor("the reconnection", `r => r.connects === 2 && !!r.got`)
	if st.Reconnects != 1 || st.Attempts < 1 || st.Reasons[0] != "transport close" && st.Reasons[0] != "transport error" {
		t.Fatalf("state after reconnecting: %+v", st)
	}
	if st.Got != "sent while offline" {
		t.Fatalf("buffered emit: %q", st.Got)
	}
}
