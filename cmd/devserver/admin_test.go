package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestAdminUI: with -admin the devserver prints where the Admin UI is
// served, and the official UI there connects to the devserver's /admin
// namespace (no login) and lists a client's socket.
func TestAdminUI(t *testing.T) {
	testenv.NodeModules(t) // the UI's files come from npm
	d := launch(t, "-admin", "-watch=false")
	ui := d.proc.WaitOutput(t, testenv.BuildDeadline(), `Admin UI: open (http://127\.0\.0\.1:\d+/) `)[1]
	d.base = d.proc.WaitOutput(t, testenv.BuildDeadline(), `listening on (http://127\.0\.0\.1:\d+)/`)[1]

	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	c, err := wasmclient.Dial(ctx, d.base, &wasmclient.Options{NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()

	b := testenv.NewBrowser(t)
	if err := chromedp.Do(b, chromedp.Navigate(ui)); err != nil {
		t.Fatal(err)
	}
	// -addr 127.0.0.1:0: the page cannot know the port, so the test gives it.
	js := fmt.Sprintf(`localStorage.setItem("server_url", %q); localStorage.setItem("ws_only", "true"); true`, d.base)
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	testenv.WaitJS(t, b, "the client's socket in the Admin UI", `(() => {
		const app = document.querySelector('#app');
		const st = app && app.__vue__ && app.__vue__.$store.state;
		return st ? {connected: st.connection.connected,
			sockets: st.main.namespaces.flatMap(n => n.sockets.map(s => s.id))} : {};
	})()`, fmt.Sprintf(`s => s.connected && s.sockets.includes(%q)`, c.ID()))
	d.stop(t)
}
