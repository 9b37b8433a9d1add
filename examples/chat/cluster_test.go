//go:build !js

package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/redisadapter"
	"github.com/tsunagi/tsunagi/web"
)

// TestChatClusterInChromium runs two chat servers in one cluster over a
// real redis-server, with a tab on each: both join room "blue", and a line
// said on one server reaches the tab on the other; each sees the room's
// count over both servers.
func TestChatClusterInChromium(t *testing.T) {
	assets, err := web.BuildWasm(context.Background(), "github.com/tsunagi/tsunagi/examples/chat/client", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.StartRedis(t)
	node := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		cluster, err := redisadapter.New(ctx, redisadapter.Options{URL: r.URL()})
		if err != nil {
			t.Fatal(err)
		}
		io := server.New(&server.Options{Adapter: cluster.Adapter})
		Setup(io)
		hs := httptest.NewServer(devserver.Handler(io, "web", assets))
		t.Cleanup(func() {
			hs.Close()
			io.Shutdown(context.Background())
			cluster.Close()
		})
		return hs.URL
	}
	a, b := node(), node()

	browser := testenv.NewBrowser(t)
	tab := func(url, name string, count int) context.Context {
		ctx, _ := chromedp.NewContext(browser)
		ctx, cancel := context.WithTimeout(ctx, wait.Deadline())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx, chromedp.Navigate(url+"/")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#status", "in lobby")
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](fmt.Sprintf(
			`document.getElementById("name").value = %q; document.getElementById("room").value = "blue"; document.getElementById("join").click()`, name))); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#status", "in blue")
		waitText(t, ctx, "#messages", fmt.Sprintf("%s joined blue (%d", name, count))
		return ctx
	}
	alice := tab(a, "alice", 1)
	bob := tab(b, "bob", 2) // counted over both servers
	waitText(t, alice, "#messages", "bob joined blue (2")
	if _, err := chromedp.Run(alice, chromedp.Evaluate[any](
		`document.getElementById("text").value = "hello from A"; document.getElementById("send").click()`)); err != nil {
		t.Fatal(err)
	}
	waitText(t, bob, "#messages", "[blue] alice: hello from A")
	if _, err := chromedp.Run(bob, chromedp.Evaluate[any](
		`document.getElementById("text").value = "hello from B"; document.getElementById("send").click()`)); err != nil {
		t.Fatal(err)
	}
	waitText(t, alice, "#messages", "[blue] bob: hello from B")
}
