//go:build !js

package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
)

func TestMain(m *testing.M) {
	testenv.Require(testenv.NeedChromium) // TestBrowserDemo
	os.Exit(m.Run())
}

// devserver is a running devserver binary started by startDevserver.
type devserver struct {
	proc *testenv.Process
	base string // http://127.0.0.1:port
}

// startDevserver builds the devserver and starts it from the module root on
// 127.0.0.1:0, with the extra flags args, and waits until it prints that it
// serves, with the address it bound: it binds before it builds client.wasm,
// so no port is guessed and none is raced for. The process group is killed
// in t.Cleanup.
func startDevserver(t *testing.T, args ...string) *devserver {
	t.Helper()
	d := launch(t, args...)
	d.base = d.proc.WaitOutput(t, testenv.BuildDeadline(), `listening on (http://127\.0\.0\.1:\d+)/`)[1]
	return d
}

// launch starts the devserver on 127.0.0.1:0 without waiting for it.
func launch(t *testing.T, args ...string) *devserver {
	t.Helper()
	bin := testenv.BuildDevserver(t)
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = testenv.ModuleRoot(t)
	return &devserver{proc: testenv.Start(t, cmd)}
}

// stop sends SIGINT and checks that the devserver shuts down gracefully.
func (d *devserver) stop(t *testing.T) {
	t.Helper()
	if err := d.proc.Cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("send SIGINT to the devserver: %v", err)
	}
	if err := d.proc.WaitExit(t, "SIGINT"); err != nil {
		var exit *exec.ExitError
		// 130 is the conventional status of a program that chose to
		// exit because of SIGINT; death by the signal itself is not a
		// graceful shutdown.
		if !errors.As(err, &exit) || exit.ExitCode() != 130 {
			t.Errorf("devserver did not exit cleanly after SIGINT: %v\n%s", err, d.proc.Output())
		}
	}
}

// get fetches path and returns the response with its body read.
func (d *devserver) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	client := &http.Client{Timeout: wait.Deadline()}
	resp, err := client.Get(d.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp, body
}

// TestBrowserDemo is the end-to-end demo: headless Chromium loads the page,
// client.wasm connects, the server's "news" reaches the page and the page's
// "my other event" reaches the server.
func TestBrowserDemo(t *testing.T) {
	d := startDevserver(t)
	ctx := testenv.NewBrowser(t)

	tctx, cancel := context.WithTimeout(ctx, wait.Deadline())
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(d.base+"/")); err != nil {
		t.Fatalf("navigate to %s/: %v", d.base, err)
	}
	testenv.WaitJS(t, tctx, `{"hello":"world"} in #log`,
		`(e => e ? e.textContent : "")(document.getElementById("log"))`, `s => s.includes('{"hello":"world"}')`)
	d.proc.WaitOutput(t, wait.Deadline(), regexp.QuoteMeta(`my other event: {"my":"data"}`))
	// The page's socket, its "my other event" and the server's "news"
	// are in /metrics, which the devserver announced.
	d.proc.WaitOutput(t, wait.Deadline(), regexp.QuoteMeta("metrics: "+d.base+"/metrics"))
	resp, body := d.get(t, "/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`tsunagi_sockets{namespace="/"} 1`,
		`tsunagi_events_received_total{namespace="/"} 1`,
		`tsunagi_events_sent_total{namespace="/"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	d.stop(t)
}

// TestServesFiles checks the files the devserver serves and their types.
func TestServesFiles(t *testing.T) {
	d := startDevserver(t)
	for _, tc := range []struct {
		path, typ string
		check     func(body []byte) bool
	}{
		{"/", "text/html", func(b []byte) bool { return len(b) > 0 }},
		{"/client.wasm", "application/wasm", func(b []byte) bool { return strings.HasPrefix(string(b), "\x00asm") }},
		{"/wasm_exec.js", "javascript", func(b []byte) bool { return len(b) > 0 }},
		{"/socket.io/socket.io.js", "javascript", func(b []byte) bool { return len(b) > 0 }},
	} {
		resp, body := d.get(t, tc.path)
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200 (body %.200q)", tc.path, resp.StatusCode, body)
			continue
		}
		if !strings.Contains(ct, tc.typ) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.typ)
		}
		if !tc.check(body) {
			t.Errorf("GET %s: unexpected body (%d bytes, starts %.40q)", tc.path, len(body), body)
		}
	}
	d.stop(t)
}

// TestMissingIndex checks that a web directory without index.html gives a
// clear 500 rather than a listing or an empty page.
func TestMissingIndex(t *testing.T) {
	d := startDevserver(t, "-web", t.TempDir())
	resp, body := d.get(t, "/")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("GET / with an empty -web dir: status %d, want 500 (body %.200q)", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), "index.html") {
		t.Errorf("GET / with an empty -web dir: body %.200q does not mention index.html", body)
	}
	d.stop(t)
}

// TestPortHeldWhileBuilding: the devserver binds its address before it
// builds client.wasm, says which, and a connection made during the build
// is served once the build is done; SIGINT during the build ends it
// gracefully.
func TestPortHeldWhileBuilding(t *testing.T) {
	d := launch(t)
	addr := d.proc.WaitOutput(t, wait.Deadline(), `building \S+ as client\.wasm for http://(127\.0\.0\.1:\d+)/`)[1]
	conn, err := net.DialTimeout("tcp", addr, wait.Deadline())
	if err != nil {
		t.Fatalf("dial %s while the devserver builds: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testenv.BuildDeadline()))
	if _, err := io.WriteString(conn, "GET /wasm_exec.js HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer to a request made during the build: %v\n%s", err, d.proc.Output())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /wasm_exec.js made during the build: status %d", resp.StatusCode)
	}
	d.stop(t)

	d = launch(t)
	d.proc.WaitOutput(t, wait.Deadline(), `building \S+ as client\.wasm`)
	d.stop(t)
	if out := d.proc.Output(); !strings.Contains(out, "interrupted while building") && !strings.Contains(out, "bye") {
		t.Fatalf("no goodbye after SIGINT during the build:\n%s", out)
	}
}
