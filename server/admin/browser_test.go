package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/admin"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// uiServer serves the official UI (ui/dist of @socket.io/admin-ui, from
// npm) at /ui/ and srv at /socket.io/, on one loopback origin.
func uiServer(t *testing.T, srv *server.Server) *httptest.Server {
	dist := filepath.Join(testenv.NodeModules(t), "@socket.io", "admin-ui", "ui", "dist")
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui/", http.FileServer(http.Dir(dist))))
	mux.Handle("/socket.io/", srv)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// state is what the UI's store holds, for WaitJS: its sockets, and the
// events and connection error it shows.
const state = `(() => {
	const app = document.querySelector('#app');
	const st = app && app.__vue__ && app.__vue__.$store.state;
	if (!st) return {};
	return {
		connected: st.connection.connected,
		error: (document.body.innerText.match(/invalid credentials/i) || [''])[0],
		sockets: (st.main.namespaces || []).flatMap(n => n.sockets.map(s => ({id: s.id, nsp: s.nsp, rooms: s.rooms}))),
		events: (st.main.namespaces || []).flatMap(n => (n.events || []).map(e => ({type: e.type, id: e.id, name: e.eventName, args: e.args}))),
		text: document.body.innerText,
	};
})()`

// TestUIInChromium: headless Chromium opens the official UI, refuses a
// wrong password, logs in through its connection form, sees the sockets
// the test's clients opened, their rooms and an event one sent, and a
// disconnect pressed in the UI disconnects that client.
func TestUIInChromium(t *testing.T) {
	srv, adm, _ := newServer(t, admin.Options{
		Auth: &admin.BasicAuth{Username: "admin", Password: hash(t)},
		Mode: admin.ModeDevelopment, ServerID: "go-ui",
	})
	ts := uiServer(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 4*wait.Deadline())
	defer cancel()
	var clients []*wasmclient.Socket
	gone := make(chan string, 2)
	for i := range 2 {
		c, err := wasmclient.Dial(ctx, ts.URL, &wasmclient.Options{NoReconnection: true,
			Query: url.Values{"n": {fmt.Sprint(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		id := c.ID()
		c.OnDisconnect(func(reason string) { gone <- id + " " + reason })
		t.Cleanup(func() { _ = c.Disconnect() })
		clients = append(clients, c)
	}

	b := testenv.NewBrowser(t)
	// The UI's saved settings: this server, the default namespace and path,
	// no session yet, so it asks for a login.
	if err := chromedp.Do(b, chromedp.Navigate(ts.URL+"/ui/index.html")); err != nil {
		t.Fatal(err)
	}
	run(t, b, fmt.Sprintf(`localStorage.setItem("server_url", %q);
		localStorage.setItem("namespace", "/admin"); localStorage.setItem("path", "/socket.io");
		localStorage.setItem("ws_only", "false"); localStorage.removeItem("session_id")`, ts.URL))
	if err := chromedp.Do(b, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	testenv.WaitJS(t, b, "the login refused", state, `s => /invalid credentials/i.test(s.error)`)
	before := adm.Refused()

	// The connection form: username and password, then submit.
	login := func(password string) {
		t.Helper()
		testenv.WaitJS(t, b, "the login form", `!!document.querySelector('input[type=password]')`, `s => s`)
		run(t, b, fmt.Sprintf(`(() => {
				const set = (el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); };
				const form = document.querySelector('input[type=password]').closest('form');
				const inputs = [...form.querySelectorAll('input[type=text], input:not([type])')];
				const user = inputs.find(i => /username/i.test(i.closest('.v-input').innerText)) || inputs[inputs.length-1];
				set(user, "admin");
				set(document.querySelector('input[type=password]'), %q);
			})()`, password))
		// The button is enabled once the form has validated the input.
		testenv.WaitJS(t, b, "the connect button enabled", `(b => !!b && !b.disabled)(document.querySelector('form button[type=submit]'))`, `s => s`)
		run(t, b, `document.querySelector('form button[type=submit]').click()`)
	}
	login("wrong")
	wait.For(t, "the wrong password refused by the server", func() bool { return adm.Refused() > before })
	testenv.WaitJS(t, b, "the wrong password refused in the UI", state, `s => !s.connected && /invalid credentials/i.test(s.error)`)
	login("secret")
	ids := fmt.Sprintf(`[%q, %q]`, clients[0].ID(), clients[1].ID())
	testenv.WaitJS(t, b, "the clients' sockets and rooms in the UI", state, fmt.Sprintf(`s => s.connected &&
		%s.every(id => s.sockets.some(k => k.id === id && k.nsp === "/" && k.rooms.includes("room-1")))`, ids))

	if err := clients[0].Emit("hello", map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitJS(t, b, "the event in the UI", state, fmt.Sprintf(`s => s.events.some(e =>
		e.type === "event_received" && e.id === %q && e.name === "hello" && e.args[0].a === 1)`, clients[0].ID()))

	// The socket's page shows its room; its client's disconnect button
	// (the first, "Disconnect this client") closes that client.
	victim := clients[1].ID()
	run(t, b, fmt.Sprintf(`location.hash = "#/n/%%2F/sockets/%s"`, victim))
	testenv.WaitJS(t, b, "the socket's page", state, fmt.Sprintf(`s => s.connected && s.text.includes(%q) && s.text.includes("room-1")`, victim))
	run(t, b, `document.querySelector('button .mdi-logout').closest('button').click()`)
	got := wait.Recv(t, "the disconnect of the client pressed in the UI", gone)
	if !strings.HasPrefix(got, victim+" ") {
		t.Fatalf("disconnected %q, want %s", got, victim)
	}
	if !clients[0].Connected() {
		t.Fatal("the other client was disconnected too")
	}
	testenv.WaitJS(t, b, "the socket gone from the UI", state, fmt.Sprintf(`s => !s.sockets.some(k => k.id === %q)`, victim))
}

// run evaluates the statements js in the page.
func run(t *testing.T, b context.Context, js string) {
	t.Helper()
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool]("(() => {"+js+"\n})(), true")); err != nil {
		t.Fatalf("in the page: %v\n%s", err, js)
	}
}
