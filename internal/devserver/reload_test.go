package devserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// reloadServer serves a reloader and pages of dir on loopback.
func reloadServer(t *testing.T, dir string) (*reloader, *httptest.Server) {
	t.Helper()
	r := newReloader()
	mux := http.NewServeMux()
	r.handle(mux)
	mux.Handle("/", r.htmlPages(dir, http.FileServer(http.Dir(dir))))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		r.Stop()
		hs.Close()
	})
	return r, hs
}

// dialReload opens the reload WebSocket with the given Host and Origin
// ("" for none), and returns the connection or the HTTP status it got.
func dialReload(t *testing.T, hs *httptest.Server, host, origin string) (*websocket.Conn, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+reloadPath, &websocket.DialOptions{HTTPHeader: h, Host: host})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial the reload endpoint: %v", err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, http.StatusSwitchingProtocols
}

func readMessage(t *testing.T, c *websocket.Conn) message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read from the reload endpoint: %v", err)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("reload message %q: %v", b, err)
	}
	return m
}

// TestReloadMessages: a page is greeted with the version it must be at and
// the build errors, then told to reload, to show an error and to clear it.
func TestReloadMessages(t *testing.T) {
	r, hs := reloadServer(t, t.TempDir())
	r.Failed(whatWasm, "client/main.go:3: boom")
	c, _ := dialReload(t, hs, "", "")
	hello := readMessage(t, c)
	if hello.Type != "hello" || hello.V != r.instance+"-0" || !strings.Contains(hello.Error, "boom") {
		t.Fatalf("hello = %+v, want version %s-0 with the error", hello, r.instance)
	}
	r.Fixed(whatWasm)
	if m := readMessage(t, c); m.Type != "ok" {
		t.Fatalf("after the fix: %+v, want ok", m)
	}
	if n := r.Reload(); n != 1 {
		t.Fatalf("Reload reached %d pages, want 1", n)
	}
	if m := readMessage(t, c); m.Type != "reload" {
		t.Fatalf("after Reload: %+v, want reload", m)
	}
	r.Failed(whatRun, "server: bad")
	r.Failed(whatWasm, "client: bad")
	readError(t, c, "server: bad")
	if m := readMessage(t, c); m.Type != "error" || !strings.Contains(m.Error, "server: bad") || !strings.Contains(m.Error, "client: bad") {
		t.Fatalf("two errors: %+v, want both", m)
	}
	r.Fixed(whatRun)
	if m := readMessage(t, c); m.Type != "error" || strings.Contains(m.Error, "server: bad") || !strings.Contains(m.Error, "client: bad") {
		t.Fatalf("one of two fixed: %+v, want the other error alone", m)
	}
	// A page that connects after a reload is told the new version.
	c2, _ := dialReload(t, hs, "", "")
	if m := readMessage(t, c2); m.V != r.instance+"-1" {
		t.Fatalf("hello after one reload: %+v, want version %s-1", m, r.instance)
	}
}

// readError reads one error message and checks that it holds want.
func readError(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	if m := readMessage(t, c); m.Type != "error" || !strings.Contains(m.Error, want) {
		t.Fatalf("got %+v, want an error with %q", m, want)
	}
}

// TestReloadOrigin: the reload endpoint refuses pages of other origins and
// Hosts that are neither loopback names nor IP addresses (DNS rebinding),
// as Vite's fix of CVE-2025-24010 does.
func TestReloadOrigin(t *testing.T) {
	_, hs := reloadServer(t, t.TempDir())
	port := hs.Listener.Addr().String()[strings.LastIndex(hs.Listener.Addr().String(), ":"):]
	for _, tc := range []struct {
		host, origin string
		want         int
	}{
		{"", "", http.StatusSwitchingProtocols},
		{"", "http://127.0.0.1" + port, http.StatusSwitchingProtocols},
		{"localhost" + port, "http://localhost" + port, http.StatusSwitchingProtocols},
		{"", "http://localhost:5173", http.StatusSwitchingProtocols}, // another loopback page
		{"", "http://evil.example", http.StatusForbidden},
		{"evil.example" + port, "http://evil.example" + port, http.StatusForbidden}, // rebinding
		{"evil.example" + port, "", http.StatusForbidden},
	} {
		_, got := dialReload(t, hs, tc.host, tc.origin)
		if got != tc.want {
			t.Errorf("Host %q, Origin %q: status %d, want %d", tc.host, tc.origin, got, tc.want)
		}
	}
}

func TestDevHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost:8124": true, "LOCALHOST": true, "app.localhost:1": true, "127.0.0.1:8124": true,
		"[::1]:8124": true, "192.168.1.20:8124": true, "localhost.:80": true,
		"evil.example:8124": false, "localhost.evil.example": false, "": false,
	} {
		if got := devHost(host); got != want {
			t.Errorf("devHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestInjectPages: HTML pages get the reload script before </body> (or at
// the end), with the version they were served at; other files do not.
func TestInjectPages(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"index.html":     "<html><body><p>hi</p></BODY></html>",
		"sub/page.htm":   "<p>no body</p>",
		"sub/index.html": "<body>x</body><body>y</body>",
		"app.js":         "console.log('</body>')",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, hs := reloadServer(t, dir)
	tag := `<script src="/_tsunagi/reload.js" data-v="` + r.instance + `-0"></script>`
	for path, want := range map[string]string{
		"/":             "<html><body><p>hi</p>" + tag + "</BODY></html>",
		"/sub/page.htm": "<p>no body</p>" + tag,
		"/sub/":         "<body>x</body><body>y" + tag + "</body>",
		"/app.js":       "console.log('</body>')",
	} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != want {
			t.Errorf("GET %s = %q (%v), want %q", path, b, err, want)
		}
		if strings.HasSuffix(path, "js") {
			continue
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET %s: Cache-Control %q, ETag %q; want no-cache and an ETag", path, cc, resp.Header.Get("ETag"))
		}
	}
	resp, err := http.Get(hs.URL + reloadScript)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("GET %s: %d %s", reloadScript, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
