//go:build !js

// Package testenv holds helpers for tests that use real parts: headless
// Chromium, Node.js with the official socket.io packages, and binaries built
// from this module. A helper whose tool is missing fails the test (it never
// skips): scripts/test installs everything these helpers need.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const installHint = "run scripts/test, which installs it"

// Chromium returns the path of the Chromium binary: $TSUNAGI_CHROMIUM,
// /usr/bin/chromium, or chromium on PATH. The test fails when none exists.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TSUNAGI_CHROMIUM"); p != "" {
		if isExecutable(p) {
			return p
		}
		t.Fatalf("testenv: TSUNAGI_CHROMIUM=%q is not an executable file; %s", p, installHint)
	}
	if isExecutable("/usr/bin/chromium") {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("testenv: chromium not found (set TSUNAGI_CHROMIUM or install Debian's chromium); %s", installHint)
	return ""
}

// NodeModules returns the node_modules directory that holds socket.io and
// socket.io-client: $TSUNAGI_NODE_MODULES, else
// $HOME/.cache/tsunagi/node/node_modules. The test fails when it is missing.
func NodeModules(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("TSUNAGI_NODE_MODULES")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("testenv: TSUNAGI_NODE_MODULES is unset and there is no home directory (%v); %s", err, installHint)
		}
		dir = filepath.Join(home, ".cache", "tsunagi", "node", "node_modules")
	}
	for _, pkg := range []string{"socket.io-client", "socket.io"} {
		if _, err := os.Stat(filepath.Join(dir, pkg, "package.json")); err != nil {
			t.Fatalf("testenv: npm package %s not found in %s; %s", pkg, dir, installHint)
		}
	}
	return dir
}

// Node returns the path of the node binary; the test fails when it is missing.
func Node(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("testenv: node not found on PATH (Node.js 20 is required); %s", installHint)
	}
	return p
}

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

// FreeAddr returns a 127.0.0.1:port address that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: listen on 127.0.0.1:0: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("testenv: close listener: %v", err)
	}
	return addr
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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

// Buffer is a bytes.Buffer safe for concurrent use, for process output.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("testenv: %s did not exit 10s after SIGKILL", cmd.Path)
			}
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", strings.Join(cmd.Args, " "), p.combined.String())
		}
	})
	return p
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

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns its exit error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// WaitTimeout waits at most d for the process to exit. ok is false when it
// is still running.
func (p *Process) WaitTimeout(d time.Duration) (err error, ok bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(d):
		return nil, false
	}
}

// WaitOutput polls the combined output until it contains substr, for at
// most d. It reports whether it was found.
func (p *Process) WaitOutput(substr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if strings.Contains(p.Output(), substr) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-p.done:
			return strings.Contains(p.Output(), substr)
		case <-time.After(50 * time.Millisecond):
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
	case <-time.After(60 * time.Second):
		t.Fatalf("testenv: chromium %s did not start within 60s", chromium)
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

// ErrTimeout is returned by Poll when the condition was not met in time.
var ErrTimeout = errors.New("testenv: timed out")

// Poll calls cond every interval until it returns true or d has passed.
func Poll(d, interval time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrTimeout
		}
		time.Sleep(interval)
	}
}
