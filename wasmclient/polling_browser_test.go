//go:build !js

package wasmclient_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/web"
)

// TestFacadePollingInChromium: the facade in headless Chromium against the
// official socket.io server on another origin: a polling-only socket
// (extraHeaders, withCredentials and the io cookie, acks and binary both
// ways, socket.io.engine.transport.name) and one that upgrades
// (engine.on("upgrade")).
func TestFacadePollingInChromium(t *testing.T) {
	t.Parallel()
	assets, err := web.BuildWasm(context.Background(), devserver.DefaultWasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	node := startNodePolling(t, "polling,websocket", "COOKIE=1")
	srv := server.New(nil) // serves the page and the client only
	hs := httptest.NewServer(devserver.Handler(srv, "testdata", assets))
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	ctx := testenv.NewBrowser(t)
	ctx, cancel := context.WithTimeout(ctx, wait.Deadline())
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/polling.html?node="+url.QueryEscape(node))); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"hello":           []any{"polling", "t1"},
		"transport":       "polling",
		"serverTransport": "polling",
		"echo":            []any{1.0, "two"},
		"ask":             40.0,
		"bin":             []any{3.0, 2.0, 1.0},
		"binBack":         []any{[]any{3.0, 2.0, 1.0}, "x"},
		"cookie":          true,
		"upgradeEvent":    "websocket",
		"upgraded":        "websocket",
		"upgradedServer":  "websocket",
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
}
