//go:build !js

package wasmclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

// TestFacadeInChromium drives the socket.io-client-shaped io() of the
// default client.wasm in headless Chromium against a real server: acks,
// timeouts, promises, binary both ways, onAny, once/off, connect_error.
func TestFacadeInChromium(t *testing.T) {
	t.Parallel()
	assets, err := devserver.BuildAssets(devserver.DefaultWasm)
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
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/facade.html")); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"connected":      true,
		"idType":         "string",
		"ack":            []any{1.0, "two", map[string]any{"three": 3.0}},
		"timeout":        "tsunagi: operation has timed out: context deadline exceeded",
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
	var got map[string]any
	for {
		js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.results || {})`))
		if err != nil {
			t.Fatalf("results so far: %v; %v", got, err)
		}
		got = map[string]any{}
		json.Unmarshal([]byte(js), &got)
		done := true
		for k := range want {
			if _, ok := got[k]; !ok {
				done = false
			}
		}
		if done {
			break
		}
		time.Sleep(50 * time.Millisecond)
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
	assets, err := devserver.BuildAssets(devserver.DefaultWasm)
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
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url()+"/reconnect.html")); err != nil {
		t.Fatal(err)
	}
	type state struct {
		Connects, Reconnects, Attempts int
		Reasons                        []string
		Got                            string
	}
	read := func() state {
		js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.results || {})`))
		if err != nil {
			t.Fatal(err)
		}
		var st state
		json.Unmarshal([]byte(js), &st)
		return st
	}
	waitFor := func(what string, ok func(state) bool) state {
		for {
			st := read()
			if ok(st) {
				return st
			}
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %+v", what, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("the first connect", func(s state) bool { return s.Connects == 1 })
	r.kill()
	waitFor("the disconnect", func(s state) bool { return len(s.Reasons) == 1 })
	time.Sleep(300 * time.Millisecond)
	r.restart()
	st := waitFor("the reconnection", func(s state) bool { return s.Connects == 2 && s.Got != "" })
	if st.Reconnects != 1 || st.Attempts < 1 || st.Reasons[0] != "transport close" && st.Reasons[0] != "transport error" {
		t.Fatalf("state after reconnecting: %+v", st)
	}
	if st.Got != "sent while offline" {
		t.Fatalf("buffered emit: %q", st.Got)
	}
}
