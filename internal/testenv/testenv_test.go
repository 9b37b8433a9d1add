//go:build !js

package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/wait"
)

func TestMain(m *testing.M) {
	Require(NeedChromium, NeedNode, NeedNodeModules)
	os.Exit(m.Run())
}

// fakeMachine has the files in files (all executable) and the commands on
// PATH in path; env is its environment.
func fakeMachine(env map[string]string, path map[string]string, files ...string) machine {
	has := map[string]bool{}
	for _, f := range files {
		has[f] = true
	}
	return machine{
		getenv: func(k string) string { return env[k] },
		lookPath: func(name string) (string, error) {
			if p, ok := path[name]; ok {
				return p, nil
			}
			return "", exec.ErrNotFound
		},
		home:   func() (string, error) { return "/home/u", nil },
		isExec: func(p string) bool { return has[p] },
		isFile: func(p string) bool { return has[p] },
	}
}

func TestMissingLine(t *testing.T) {
	modules := []string{
		"/home/u/.cache/tsunagi/node/node_modules/socket.io/package.json",
		"/home/u/.cache/tsunagi/node/node_modules/socket.io-client/package.json",
	}
	all := []Tool{NeedChromium, NeedNode, NeedNodeModules}
	for _, tc := range []struct {
		name  string
		m     machine
		tools []Tool
		want  string
	}{
		{"everything there", fakeMachine(nil, map[string]string{"node": "/usr/bin/node"}, append(modules, "/usr/bin/chromium")...), all, ""},
		{"chromium on PATH", fakeMachine(nil, map[string]string{"chromium-browser": "/snap/bin/chromium-browser"}), []Tool{NeedChromium}, ""},
		{"nothing needed", fakeMachine(nil, nil), nil, ""},
		{"no chromium", fakeMachine(nil, map[string]string{"node": "/usr/bin/node"}, modules...), all,
			"wasmclient: chromium not found: run scripts/test, which installs it (or set TSUNAGI_CHROMIUM)"},
		{"a wrong TSUNAGI_CHROMIUM is not passed over", fakeMachine(map[string]string{"TSUNAGI_CHROMIUM": "/nonexistent"}, nil, "/usr/bin/chromium"), []Tool{NeedChromium},
			"wasmclient: chromium not found at TSUNAGI_CHROMIUM=/nonexistent: run scripts/test, which installs it (or set TSUNAGI_CHROMIUM to a chromium binary)"},
		{"no node", fakeMachine(nil, nil, modules...), []Tool{NeedNode, NeedNodeModules},
			"wasmclient: node not found on PATH: run scripts/test, which installs it (Node.js 20 or later)"},
		{"no npm packages in TSUNAGI_NODE_MODULES", fakeMachine(map[string]string{"TSUNAGI_NODE_MODULES": "/m"}, map[string]string{"node": "/usr/bin/node"}, "/m/socket.io/package.json"), []Tool{NeedNode, NeedNodeModules},
			"wasmclient: npm package socket.io-client not found in /m: run scripts/test, which installs it (or set TSUNAGI_NODE_MODULES)"},
		{"all missing, one line", fakeMachine(nil, nil), all,
			"wasmclient: chromium not found; node not found on PATH; npm packages socket.io-client and socket.io not found in /home/u/.cache/tsunagi/node/node_modules: run scripts/test, which installs them (or set TSUNAGI_CHROMIUM; Node.js 20 or later; or set TSUNAGI_NODE_MODULES)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := missingLine("wasmclient", tc.m, tc.tools)
			if got != tc.want {
				t.Errorf("missingLine:\n got %q\nwant %q", got, tc.want)
			}
			if strings.Contains(got, "\n") {
				t.Errorf("missingLine is more than one line: %q", got)
			}
		})
	}
}

// TestRequireExits runs this test binary again with a missing chromium:
// Require must print its one line and exit 1 before any test runs.
func TestRequireExits(t *testing.T) {
	if os.Getenv("TESTENV_REQUIRE_CHILD") == "1" {
		t.Fatal("the child ran a test: Require did not stop it")
	}
	cmd := exec.Command(os.Args[0], "-test.run=TestRequireExits")
	cmd.Env = append(os.Environ(), "TESTENV_REQUIRE_CHILD=1", "TSUNAGI_CHROMIUM=/nonexistent")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child: %v, want exit status 1\n%s", err, out)
	}
	want := "internal/testenv: chromium not found at TSUNAGI_CHROMIUM=/nonexistent: run scripts/test, which installs it (or set TSUNAGI_CHROMIUM to a chromium binary)\n"
	if string(out) != want {
		t.Fatalf("child printed %q, want %q", out, want)
	}
}

func TestModuleRoot(t *testing.T) {
	root := ModuleRoot(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("ModuleRoot() = %q without go.mod: %v", root, err)
	}
}

func TestRunNode(t *testing.T) {
	script := filepath.Join(t.TempDir(), "versions.js")
	src := `console.log(require("socket.io-client/package.json").version, require("socket.io/package.json").version, process.env.EXTRA);
setTimeout(() => console.log("later"), 50);`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	p := RunNode(t, ctx, script, "EXTRA=yes")
	m := p.WaitOutput(t, wait.Deadline(), `(4\.\S+) (4\.\S+) (\S+)\n`)
	if m[3] != "yes" {
		t.Fatalf("node printed %q, want the two 4.x versions and yes", m[0])
	}
	if err := p.WaitExit(t, "its last line"); err != nil {
		t.Fatalf("node: %v\n%s", err, p.Output())
	}
	if !strings.HasSuffix(p.Stdout(), "later\n") {
		t.Fatalf("node printed %q, want a last line later", p.Stdout())
	}
}

func TestNewBrowser(t *testing.T) {
	ctx := NewBrowser(t)
	tctx, cancel := context.WithTimeout(ctx, wait.Deadline())
	defer cancel()
	page := `data:text/html,<title>t</title><p id="x">hi</p><script>console.log("from the page", 42, {hello: "world", n: [1, "a"]}); setTimeout(() => { window.later = {n: 3} }, 50)</script>`
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
	if got := WaitJS(t, tctx, "window.later", `window.later || {}`, `s => s.n === 3`); got != `{"n":3}` {
		t.Fatalf("WaitJS = %s, want {\"n\":3}", got)
	}
}
