//go:build !js

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
)

// A module of the test's own, outside this one, as a user's would be: a
// client main package (the default client plus a marker of its version), a
// server main package for -run, and a copy of the tutorial's page. It
// requires tsunagi through a replace to this checkout. The tests edit these
// copies, never the repo.
const (
	clientMarker = `//go:build js

package main

import "github.com/hack-pad/safejs"

func init() { _ = safejs.Global().Set("clientVersion", %q) }
`
	childServer = `package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"

	"github.com/tsunagi/tsunagi/server"
)

const version = %q

func main() {
	io := server.New(&server.Options{OriginPatterns: []string{"127.0.0.1:*"}})
	io.OnConnection(func(s *server.Socket) {
		s.Emit("news", map[string]string{"hello": version})
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.HandleFunc("/hello.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<body>hello from " + version + "</body>"))
	})
	hs := &http.Server{Addr: os.Getenv("TSUNAGI_ADDR"), Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		io.Shutdown(context.Background())
		hs.Shutdown(context.Background())
	}()
	log.Printf("server %%s on %%s", version, hs.Addr)
	if err := hs.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
`
)

// userModule writes the module into a temporary folder and returns it.
func userModule(t *testing.T) string {
	t.Helper()
	root := testenv.ModuleRoot(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/devloop\n\ngo 1.26\n\nrequire github.com/tsunagi/tsunagi v0.0.0\n\nreplace github.com/tsunagi/tsunagi => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "go.sum"), string(sum))
	for _, f := range []string{"main.go", "doc.go"} {
		b, err := os.ReadFile(filepath.Join(root, "cmd", "clientwasm", f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "client", f), string(b))
	}
	write(t, filepath.Join(dir, "client", "marker.go"), fmt.Sprintf(clientMarker, "v1"))
	write(t, filepath.Join(dir, "server", "main.go"), fmt.Sprintf(childServer, "v1"))
	page, err := os.ReadFile(filepath.Join(root, "web", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "web", "index.html"), string(page))
	// The requirements the packages need, from the module cache only.
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy in %s: %v\n%s", dir, err, out)
	}
	return dir
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startIn starts the devserver in dir, as `go run …/cmd/devserver` run in a
// user's module would be, and waits until it serves.
func startIn(t *testing.T, dir string, args ...string) *devserver {
	t.Helper()
	bin := testenv.BuildDevserver(t)
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	d := &devserver{proc: testenv.Start(t, cmd)}
	d.base = d.proc.WaitOutput(t, testenv.BuildDeadline(), `listening on (http://127\.0\.0\.1:\d+)/`)[1]
	return d
}

// browserPage opens url in a new headless Chromium and counts its loads.
func browserPage(t *testing.T, url string) (context.Context, *atomic.Int64) {
	t.Helper()
	ctx := testenv.NewBrowser(t)
	loads := new(atomic.Int64)
	err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventLoadEventFired); ok {
			loads.Add(1)
		}
	})
	if err != nil {
		t.Fatalf("listen to the page's events: %v", err)
	}
	nctx, cancel := context.WithTimeout(ctx, wait.Deadline())
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	return ctx, loads
}

// waitPage waits until the JavaScript expression cond is true in the page,
// across reloads: each check is one evaluation, and one that a navigation
// interrupts counts as false.
func waitPage(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	var last string
	ok := wait.Until(func() bool {
		ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		v, err := chromedp.Run(ectx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		if err != nil {
			last = err.Error()
		}
		return err == nil && v
	})
	if !ok {
		t.Fatalf("timed out after %v waiting in the page for %s (%s; last error: %s)", wait.Deadline(), what, cond, last)
	}
}

// overlayText is the text of the build error overlay, "" when none shows.
const overlayText = `(o => o && o.isConnected ? o.shadowRoot.querySelector("pre").textContent : "")(document.getElementById("__tsunagi_overlay"))`

// TestDevLoop keeps one page open through a session of edits: a page
// edit reloads it; an edit of the client's Go code rebuilds client.wasm and
// reloads it with the new code; a no-op edit rebuilds and does not reload;
// a broken edit shows the error overlay (and prints the error), and the
// fix clears it.
func TestDevLoop(t *testing.T) {
	mod := userModule(t)
	d := startIn(t, mod, "-web", "web", "-wasm", "./client")
	ctx, loads := browserPage(t, d.base+"/")
	waitPage(t, ctx, "the first page, with client v1 and the news", `window.clientVersion === "v1" && document.getElementById("log").textContent.includes('{"hello":"world"}')`)
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d page loads at the start, want 1", n)
	}

	// A page edit: the page reloads, with the new content.
	index := filepath.Join(mod, "web", "index.html")
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	write(t, index, strings.Replace(string(b), "<h1>tsunagi</h1>", "<h1>edited</h1>", 1))
	waitPage(t, ctx, "the edited page", `document.querySelector("h1").textContent === "edited" && window.clientVersion === "v1"`)
	wait.For(t, "2 page loads", func() bool { return loads.Load() == 2 })

	// The client's code: a rebuild, a reload, the new code runs.
	marker := filepath.Join(mod, "client", "marker.go")
	write(t, marker, fmt.Sprintf(clientMarker, "v2"))
	waitPage(t, ctx, "client v2", `window.clientVersion === "v2"`)
	wait.For(t, "3 page loads", func() bool { return loads.Load() == 3 })

	// A no-op: the same bytes again, and a touch. client.wasm rebuilds the
	// same and no page reloads. The barrier: the next real edit's reload
	// arrives after the no-op's rebuild (printed), so a reload of the
	// no-op would have come first and show in the count.
	noChange := func() int {
		return len(regexp.MustCompile(`rebuilt client\.wasm in \S+: no change`).FindAllString(d.proc.Output(), -1))
	}
	before := noChange()
	write(t, marker, fmt.Sprintf(clientMarker, "v2"))
	now := time.Now()
	if err := os.Chtimes(marker, now, now); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the no-op rebuild", func() bool { return noChange() > before })
	write(t, marker, fmt.Sprintf(clientMarker, "v3"))
	waitPage(t, ctx, "client v3", `window.clientVersion === "v3"`)
	if n := loads.Load(); n != 4 {
		t.Fatalf("%d page loads after a no-op edit and a real one, want 4: the no-op reloaded the page", n)
	}

	// A broken edit: the overlay shows the compiler's error, in the page
	// and in the terminal, and the last good build stays.
	write(t, marker, "package main\n\nfunc init() { undefinedThing() }\n")
	waitPage(t, ctx, "the error overlay", overlayText+`.includes("undefinedThing")`)
	d.proc.WaitOutput(t, wait.Deadline(), `marker\.go:\d+:\d+: undefined: undefinedThing`)
	if still, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.clientVersion`)); err != nil || still != "v3" {
		t.Fatalf("after a broken edit the page runs client %q (%v), want v3 still", still, err)
	}
	resp, body := d.get(t, "/client.wasm")
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "\x00asm") {
		t.Fatalf("after a broken edit /client.wasm answers %d, want the last good build", resp.StatusCode)
	}
	// The fix clears it, and the fixed code runs.
	write(t, marker, fmt.Sprintf(clientMarker, "v4"))
	waitPage(t, ctx, "client v4 without the overlay", `window.clientVersion === "v4" && `+overlayText+` === ""`)
	if n := loads.Load(); n != 5 {
		t.Fatalf("%d page loads after the broken edit and its fix, want 5", n)
	}
	d.stop(t)
}

// TestRunChild runs the module's own server with -run behind the
// devserver, under an open page: an edit of its code restarts it, and the
// page reconnects by itself (no reload) and gets the new server's news. A
// broken edit keeps the old server running and shows the overlay; the
// devserver's exit ends the server.
func TestRunChild(t *testing.T) {
	mod := userModule(t)
	d := startIn(t, mod, "-web", "web", "-run", "./server")
	addr := d.proc.WaitOutput(t, wait.Deadline(), `it listens on (127\.0\.0\.1:\d+) \(TSUNAGI_ADDR`)[1]
	d.proc.WaitOutput(t, wait.Deadline(), regexp.QuoteMeta(`[server] `)+`.*server v1 on `+regexp.QuoteMeta(addr))
	// What the pages folder does not hold goes to the server; its HTML
	// gets the reload script too.
	if resp, body := d.get(t, "/hello.html"); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "hello from v1") || !strings.Contains(string(body), `src="/_tsunagi/reload.js"`) {
		t.Fatalf("GET /hello.html through the devserver: %d %q, want the server's page with the reload script", resp.StatusCode, body)
	}
	ctx, loads := browserPage(t, d.base+"/")
	waitPage(t, ctx, "the news of server v1", `document.getElementById("log").textContent.includes('{"hello":"v1"}')`)

	src := filepath.Join(mod, "server", "main.go")
	write(t, src, fmt.Sprintf(childServer, "v2"))
	waitPage(t, ctx, "the news of server v2, after a reconnection", `document.getElementById("log").textContent.includes('{"hello":"v2"}')`)
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d page loads, want 1: the page reloaded instead of reconnecting", n)
	}

	// A broken edit: the overlay, and server v2 still answers.
	write(t, src, "package main\n\nfunc main() { undefinedThing() }\n")
	waitPage(t, ctx, "the error overlay", overlayText+`.includes("undefinedThing")`)
	d.proc.WaitOutput(t, wait.Deadline(), `the last good build keeps running`)
	conn, err := net.DialTimeout("tcp", addr, wait.Deadline())
	if err != nil {
		t.Fatalf("server v2 is gone after a broken edit: %v", err)
	}
	conn.Close()

	d.stop(t)
	if conn, err := net.DialTimeout("tcp", addr, wait.Deadline()); err == nil {
		conn.Close()
		t.Fatalf("the -run server still listens on %s after the devserver exited", addr)
	}
}

// TestFirstBuildFails: while watching, a client that does not build at the
// start leaves the devserver serving, with the error as the answer for
// client.wasm, and the fix builds it.
func TestFirstBuildFails(t *testing.T) {
	mod := userModule(t)
	marker := filepath.Join(mod, "client", "marker.go")
	write(t, marker, "package main\n\nfunc init() { undefinedThing() }\n")
	d := startIn(t, mod, "-web", "web", "-wasm", "./client")
	resp, body := d.get(t, "/client.wasm")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "undefinedThing") {
		t.Fatalf("GET /client.wasm after a failed first build: %d %.300q, want 503 with the error", resp.StatusCode, body)
	}
	write(t, marker, fmt.Sprintf(clientMarker, "v1"))
	d.proc.WaitOutput(t, testenv.BuildDeadline(), `built client\.wasm in`)
	resp, body = d.get(t, "/client.wasm")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "\x00asm") {
		t.Fatalf("GET /client.wasm after the fix: %d, want the build", resp.StatusCode)
	}
	d.stop(t)
}
