//go:build !js

package testenv

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr() = %q, want 127.0.0.1:port (err %v)", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on FreeAddr() %s: %v", addr, err)
	}
	l.Close()
}

func TestModuleRoot(t *testing.T) {
	root := ModuleRoot(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("ModuleRoot() = %q without go.mod: %v", root, err)
	}
}

func TestRunNode(t *testing.T) {
	script := filepath.Join(t.TempDir(), "versions.js")
	src := `console.log(require("socket.io-client/package.json").version, require("socket.io/package.json").version, process.env.EXTRA);`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := RunNode(t, ctx, script, "EXTRA=yes")
	if err := p.Wait(); err != nil {
		t.Fatalf("node: %v\n%s", err, p.Output())
	}
	fields := strings.Fields(p.Stdout())
	if len(fields) != 3 || !strings.HasPrefix(fields[0], "4.") || !strings.HasPrefix(fields[1], "4.") || fields[2] != "yes" {
		t.Fatalf("node printed %q, want the two 4.x versions and yes", p.Stdout())
	}
}

func TestNewBrowser(t *testing.T) {
	ctx := NewBrowser(t)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	page := `data:text/html,<title>t</title><p id="x">hi</p><script>console.log("from the page", 42, {hello: "world", n: [1, "a"]})</script>`
	if err := chromedp.Do(tctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	got, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.getElementById("x").textContent + " " + (1+2)`))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	if got != "hi 3" {
		t.Fatalf("evaluate = %q, want %q", got, "hi 3")
	}
}
