//go:build !js

package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/web"
)

// TestChatInChromium opens three tabs of the chat (its client is Go wasm):
// two join room "blue", one stays in "lobby". A line said in blue reaches
// both blue tabs and not the lobby.
func TestChatInChromium(t *testing.T) {
	assets, err := web.BuildWasm(context.Background(), "github.com/tsunagi/tsunagi/examples/chat/client", nil)
	if err != nil {
		t.Fatal(err)
	}
	io := server.New(nil)
	Setup(io)
	hs := httptest.NewServer(devserver.Handler(io, "web", assets))
	defer hs.Close()
	defer io.Shutdown(context.Background())

	browser := testenv.NewBrowser(t)
	tab := func(name, room string) context.Context {
		ctx, _ := chromedp.NewContext(browser)
		ctx, cancel := context.WithTimeout(ctx, wait.Deadline())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#status", "in lobby")
		if room != "lobby" {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[any](fmt.Sprintf(
				`document.getElementById("name").value = %q; document.getElementById("room").value = %q; document.getElementById("join").click()`, name, room)))
			if err != nil {
				t.Fatal(err)
			}
			waitText(t, ctx, "#status", "in "+room)
		} else {
			chromedp.Run(ctx, chromedp.Evaluate[any](fmt.Sprintf(`document.getElementById("name").value = %q`, name)))
		}
		return ctx
	}
	alice := tab("alice", "blue")
	bob := tab("bob", "blue")
	carol := tab("carol", "lobby")

	if _, err := chromedp.Run(alice, chromedp.Evaluate[any](
		`document.getElementById("text").value = "hello blue"; document.getElementById("send").click()`)); err != nil {
		t.Fatal(err)
	}
	waitText(t, alice, "#messages", "[blue] alice: hello blue")
	waitText(t, bob, "#messages", "[blue] alice: hello blue")
	if _, err := chromedp.Run(carol, chromedp.Evaluate[any](
		`document.getElementById("text").value = "hello lobby"; document.getElementById("send").click()`)); err != nil {
		t.Fatal(err)
	}
	waitText(t, carol, "#messages", "[lobby] carol: hello lobby")
	if s := text(t, carol, "#messages"); strings.Contains(s, "hello blue") {
		t.Fatalf("the lobby saw blue's line: %q", s)
	}
	if s := text(t, bob, "#messages"); strings.Contains(s, "hello lobby") {
		t.Fatalf("blue saw the lobby's line: %q", s)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).textContent`, sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// waitText waits, in the page, until the text of sel contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	testenv.WaitJS(t, ctx, fmt.Sprintf("%q in %s", want, sel),
		fmt.Sprintf(`(e => e ? e.textContent : "")(document.querySelector(%q))`, sel),
		fmt.Sprintf(`s => s.includes(%q)`, want))
}
