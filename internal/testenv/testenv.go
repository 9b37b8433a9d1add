//go:build !js

// Package testenv holds helpers for tests that use real parts: headless
// Chromium, Node.js with the official socket.io packages, and binaries built
// from this module. A helper whose tool is missing fails the test (it never
// skips), and a package that needs a tool checks it once for all its tests
// with Require in its TestMain: scripts/test installs everything these
// helpers need. Every wait here is on a condition, with its deadline from
// package wait.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// Chromium returns the path of the Chromium binary: $TSUNAGI_CHROMIUM,
// /usr/bin/chromium, or chromium on PATH. The test fails when none exists
// (a package that needs it checks that once, with Require, in TestMain).
func Chromium(t testing.TB) string {
	t.Helper()
	return mustFind(t, NeedChromium)
}

// NodeModules returns the node_modules directory that holds socket.io and
// socket.io-client: $TSUNAGI_NODE_MODULES, else
// $HOME/.cache/tsunagi/node/node_modules. The test fails when it is missing.
func NodeModules(t testing.TB) string {
	t.Helper()
	return mustFind(t, NeedNodeModules)
}

// Node returns the path of the node binary; the test fails when it is missing.
func Node(t testing.TB) string {
	t.Helper()
	return mustFind(t, NeedNode)
}

func mustFind(t testing.TB, tool Tool) string {
	t.Helper()
	p, err := host.find(tool)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

// BuildDeadline is how long a test gives a `go build` (of a binary, or of
// client.wasm by a devserver it starts) that may find the build cache cold
// on a loaded machine: nine times wait.Deadline(), since a build does far
// more than anything else a test waits for.
func BuildDeadline() time.Duration { return 9 * wait.Deadline() }

// ModuleRoot returns the directory holding this module's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("testenv: go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatalf("testenv: not inside a Go module (go env GOMOD = %q)", gomod)
	}
	return filepath.Dir(gomod)
}

// BuildDevserver builds ./cmd/devserver from the module root into a
// temporary directory and returns the binary's path.
func BuildDevserver(t testing.TB) string {
	t.Helper()
	return BuildPackage(t, "./cmd/devserver", "devserver")
}

// BuildPackage builds the main package pkg (a path relative to the module
// root, such as "./cmd/devserver") for the host into a temporary directory
// and returns the binary's path.
func BuildPackage(t testing.TB, pkg, name string) string {
	t.Helper()
	root := ModuleRoot(t)
	bin := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(context.Background(), BuildDeadline())
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = hostEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: go build -o %s %s (in %s): %v\n%s", bin, pkg, root, err, out)
	}
	return bin
}

// hostEnv is the environment without GOOS/GOARCH overrides, so that builds
// made by a test target the machine the test runs on.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOOS=") || strings.HasPrefix(kv, "GOARCH=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Buffer is a bytes.Buffer safe for concurrent use, for process output,
// that a reader can wait on: every write wakes the waiters.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed by the next write; nil until someone waits
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// watch returns everything written so far and a channel that the next
// write closes.
func (b *Buffer) watch() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return b.buf.String(), b.changed
}

// Process is a child process started by Start. Its output is kept in
// memory and written to the test log when the test fails.
type Process struct {
	Cmd      *exec.Cmd
	stdout   Buffer
	stderr   Buffer
	combined Buffer
	done     chan struct{}
	err      error
}

// Start starts cmd in its own process group, capturing stdout and stderr.
// A t.Cleanup kills the whole group if it is still running and, when the
// test failed, logs the output.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = multiWriter{&p.stdout, &p.combined}
	cmd.Stderr = multiWriter{&p.stderr, &p.combined}
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			killProcessGroup(cmd)
			if !waitClosed(p.done, wait.Deadline()) {
				t.Errorf("testenv: %s did not exit %v after SIGKILL", cmd.Path, wait.Deadline())
			}
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", strings.Join(cmd.Args, " "), p.combined.String())
		}
	})
	return p
}

// waitClosed reports whether ch is closed within d.
func waitClosed(ch <-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}

type multiWriter []*Buffer

func (m multiWriter) Write(p []byte) (int, error) {
	for _, b := range m {
		b.Write(p)
	}
	return len(p), nil
}

// Stdout returns what the process wrote on stdout so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr returns what the process wrote on stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Output returns stdout and stderr interleaved as written so far.
func (p *Process) Output() string { return p.combined.String() }

// Done is closed when the process has exited (and its output is complete).
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its exit error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// WaitExit waits at most wait.Deadline() for the process to exit, and
// returns its exit error; the test fails, naming what the exit follows,
// when it is still running then.
func (p *Process) WaitExit(t testing.TB, after string) error {
	t.Helper()
	if !waitClosed(p.done, wait.Deadline()) {
		t.Fatalf("testenv: %s did not exit within %v of %s", p.Cmd.Path, wait.Deadline(), after)
	}
	return p.err
}

// WaitOutput waits until the combined output matches the regular
// expression pattern, woken by each write, and returns the match and its
// submatches. The test fails, showing the output, when the process exits
// without printing it or within passes first (wait.Deadline(), or
// BuildDeadline() for a process that builds before it prints).
func (p *Process) WaitOutput(t testing.TB, within time.Duration, pattern string) []string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		out, changed := p.combined.watch()
		if m := re.FindStringSubmatch(out); m != nil {
			return m
		}
		select {
		case <-changed:
		case <-p.done:
			if m := re.FindStringSubmatch(p.combined.String()); m != nil {
				return m
			}
			t.Fatalf("testenv: %s exited (%v) without printing /%s/:\n%s", p.Cmd.Path, p.err, pattern, p.combined.String())
		case <-timer.C:
			t.Fatalf("testenv: %s did not print /%s/ within %v:\n%s", p.Cmd.Path, pattern, within, p.combined.String())
		}
	}
}

// RunNode starts `node script` with NODE_PATH pointing at NodeModules, so
// the script can require("socket.io-client") and require("socket.io").
// env entries (KEY=value) are added to the environment. ctx bounds the
// process's life; the output is logged when the test fails.
func RunNode(t testing.TB, ctx context.Context, script string, env ...string) *Process {
	t.Helper()
	node := Node(t)
	modules := NodeModules(t)
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("testenv: node script: %v", err)
	}
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Env = append(cmd.Env, env...)
	cmd.WaitDelay = 5 * time.Second
	return Start(t, cmd)
}

// NewBrowser starts a headless Chromium for the test and returns a chromedp
// context for its first tab. The browser is closed in t.Cleanup. Console
// messages and uncaught exceptions of the page are written to the test log.
func NewBrowser(t testing.TB) context.Context {
	t.Helper()
	chromium := Chromium(t)
	userData := t.TempDir() // removed after the browser has exited (cleanups run LIFO)

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userData),
	)
	// The browser's goroutines may still report while the test is being
	// cleaned up; t.Log after the test has finished panics, so log through
	// a guard that the cleanup closes.
	var mu sync.Mutex
	closed := false
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			t.Logf(format, args...)
		}
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(func(format string, args ...any) { logf("chromedp: "+format, args...) }),
		chromedp.WithErrorf(func(format string, args ...any) { logf("chromedp error: "+format, args...) }),
	)
	t.Cleanup(func() {
		cancelBrowser() // waits for the browser process to exit
		cancelAlloc()
		mu.Lock()
		closed = true
		mu.Unlock()
	})

	// Start the browser now, with a bound, so that a broken Chromium fails
	// here with a clear message. The first Do must get ctx itself (not a
	// child with a deadline), or the browser would stop with the child.
	errc := make(chan error, 1)
	go func() { errc <- chromedp.Do(ctx) }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("testenv: start chromium %s: %v", chromium, err)
		}
	case <-time.After(wait.Deadline()):
		t.Fatalf("testenv: chromium %s did not start within %v", chromium, wait.Deadline())
	}

	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			parts := make([]string, 0, len(ev.Args))
			for _, a := range ev.Args {
				parts = append(parts, remoteObjectString(a))
			}
			logf("browser console.%s: %s", ev.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			if d == nil {
				return
			}
			msg := d.Text
			if d.Exception != nil {
				msg += " " + remoteObjectString(d.Exception)
			}
			logf("browser exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, msg)
		}
	})
	if err != nil {
		t.Fatalf("testenv: listen to the browser's console: %v", err)
	}
	return ctx
}

// WaitJS waits until done(state) holds in the page of ctx, and returns the
// JSON of state then. state is a JavaScript expression (such as
// `window.results || {}`) and done a JavaScript function of it (such as
// `r => r.connected === true`). The page checks them itself, every 10 ms, in
// one awaited evaluation, so the test makes no round trip per check. The
// test fails naming what, with the last state, when the page throws or
// wait.Deadline() passes first.
func WaitJS(t testing.TB, ctx context.Context, what, state, done string) string {
	t.Helper()
	deadline := wait.Deadline()
	js := fmt.Sprintf(`new Promise((resolve, reject) => {
	const done = (%s), end = Date.now() + %d;
	const check = () => {
		let s;
		try {
			s = (%s);
			if (done(s)) return resolve({ok: true, state: JSON.stringify(s)});
		} catch (e) {
			return reject(e);
		}
		if (Date.now() > end) return resolve({ok: false, state: JSON.stringify(s)});
		setTimeout(check, 10);
	};
	check();
})`, done, deadline.Milliseconds(), state)
	// The page ends the wait at the deadline; ctx gets a little more, so that
	// the page's answer, with its state, arrives before ctx ends.
	wctx, cancel := context.WithTimeout(ctx, deadline+deadline/4)
	defer cancel()
	type result struct {
		OK    bool   `json:"ok"`
		State string `json:"state"`
	}
	r, err := chromedp.Run(wctx, chromedp.Evaluate[result](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("testenv: waiting in the page for %s: %v", what, err)
	}
	if !r.OK {
		t.Fatalf("testenv: timed out after %v waiting in the page for %s; state: %s", deadline, what, r.State)
	}
	return r.State
}

func remoteObjectString(o *runtime.RemoteObject) string {
	switch {
	case o == nil:
		return "<nil>"
	case len(o.Value) > 0:
		// Print strings without JSON quotes, like the console does.
		var s string
		if err := json.Unmarshal(o.Value, &s); err == nil {
			return s
		}
		return string(o.Value)
	case o.UnserializableValue != "":
		return string(o.UnserializableValue)
	case o.Preview != nil && o.Subtype != runtime.RemoteObjectSubtypeError:
		return previewString(o.Preview)
	case o.Description != "":
		return o.Description
	default:
		return string(o.Type)
	}
}

// previewString renders an object preview as the console shows it, such as
// {hello: "world"} or [1, 2].
func previewString(p *runtime.ObjectPreview) string {
	var b strings.Builder
	isArray := p.Subtype == runtime.ObjectPreviewSubtypeArray
	if isArray {
		b.WriteString("[")
	} else {
		if p.Description != "" && p.Description != "Object" {
			b.WriteString(p.Description + " ")
		}
		b.WriteString("{")
	}
	for i, prop := range p.Properties {
		if i > 0 {
			b.WriteString(", ")
		}
		if !isArray {
			b.WriteString(prop.Name + ": ")
		}
		switch {
		case prop.ValuePreview != nil:
			b.WriteString(previewString(prop.ValuePreview))
		case prop.Type == runtime.PropertyPreviewTypeString:
			b.WriteString(strconv.Quote(prop.Value))
		default:
			b.WriteString(prop.Value)
		}
	}
	if p.Overflow {
		b.WriteString(", …")
	}
	if isArray {
		b.WriteString("]")
	} else {
		b.WriteString("}")
	}
	return b.String()
}
