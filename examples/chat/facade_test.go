//go:build !js

package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
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

// TestRoomsFromJavaScript drives the chat's server from a page written for
// socket.io-client, on the io() facade of the default client.wasm in
// Chromium: alice and bob join "blue", carol "red"; a line said in a room
// reaches that room only; a refused namespace is a connect_error with the
// middleware's message and data.
func TestRoomsFromJavaScript(t *testing.T) {
	assets, err := web.BuildWasm(context.Background(), devserver.DefaultWasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	io := server.New(nil)
	Setup(io)
	io.Of("/mods").Use(func(*server.Socket) error {
		return &server.ConnectError{Message: "moderators only", Data: map[string]any{"need": "token"}}
	})
	hs := httptest.NewServer(devserver.Handler(io, "testdata", assets))
	defer hs.Close()
	defer io.Shutdown(context.Background())

	ctx := testenv.NewBrowser(t)
	ctx, cancel := context.WithTimeout(ctx, wait.Deadline())
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/facade.html")); err != nil {
		t.Fatal(err)
	}
	type results struct {
		Alice, Bob, Carol int
		Said              map[string][]string
		Joined            []string
		ConnectError      []any
		Error             string
	}
	js := testenv.WaitJS(t, ctx, "every result on the page", `window.results || {}`,
		`r => !!r.error || ["alice", "bob", "carol"].every(u => ((r.said || {})[u] || []).length >= 2) && r.connectError != null`)
	var got results
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("results %s: %v", js, err)
	}
	if got.Error != "" {
		t.Fatalf("the page failed: %s", got.Error)
	}
	if got.Alice != 1 || got.Bob != 2 || got.Carol != 1 {
		t.Errorf("join replies: alice %d, bob %d, carol %d; want 1, 2, 1", got.Alice, got.Bob, got.Carol)
	}
	blue := []string{"blue alice: hello blue", "blue bob: done"} // sorted
	red := []string{"red carol: done", "red carol: hello red"}   // sorted, as what was heard is
	for user, want := range map[string][]string{"alice": blue, "bob": blue, "carol": red} {
		slices.Sort(got.Said[user]) // two senders: no order between them
		if !reflect.DeepEqual(got.Said[user], want) {
			t.Errorf("%s heard %q, want %q", user, got.Said[user], want)
		}
	}
	if want := []string{"alice blue 1", "bob blue 2"}; !reflect.DeepEqual(got.Joined, want) {
		t.Errorf("alice saw arrivals %q, want %q", got.Joined, want)
	}
	if want := []any{"moderators only", map[string]any{"need": "token"}}; !reflect.DeepEqual(got.ConnectError, want) {
		t.Errorf("connect_error %v, want %v", got.ConnectError, want)
	}
}
