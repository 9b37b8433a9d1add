//go:build !js

package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/testenv"
)

// devserver is a running devserver binary started by startDevserver.
type devserver struct {
	proc *testenv.Process
	base string // http://127.0.0.1:port
}

// startDevserver builds the devserver and starts it on a free loopback port
// from the module root, with the extra flags args. It waits until the server
// answers GET / (with any status), for at most 3 minutes, since it builds
// client.wasm first. The process group is killed in t.Cleanup.
func startDevserver(t *testing.T, args ...string) *devserver {
	t.Helper()
	bin := testenv.BuildDevserver(t)
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, append([]string{"-addr", addr}, args...)...)
	cmd.Dir = testenv.ModuleRoot(t)
	d := &devserver{proc: testenv.Start(t, cmd), base: "http://" + addr}

	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := client.Get(d.base + "/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return d
		}
		if d.proc.Exited() {
			t.Fatalf("devserver exited before serving /: %v\n%s", d.proc.Wait(), d.proc.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("devserver did not serve / on %s within 3 minutes (last error: %v)\n%s", addr, err, d.proc.Output())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// stop sends SIGINT and checks that the devserver shuts down gracefully
// within 10 s.
func (d *devserver) stop(t *testing.T) {
	t.Helper()
	if err := d.proc.Cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("send SIGINT to the devserver: %v", err)
	}
	err, ok := d.proc.WaitTimeout(10 * time.Second)
	if !ok {
		t.Fatalf("devserver did not exit within 10s of SIGINT\n%s", d.proc.Output())
	}
	if err != nil {
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
	client := &http.Client{Timeout: 30 * time.Second}
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

	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(d.base+"/")); err != nil {
		t.Fatalf("navigate to %s/: %v", d.base, err)
	}
	const want = `{"hello":"world"}`
	var text string
	for {
		var err error
		text, err = chromedp.Run(tctx, chromedp.Evaluate[string](
			`(function(){ const e = document.getElementById("log"); return e ? e.textContent : ""; })()`))
		if err != nil {
			t.Fatalf("read #log (after 60s at most): %v; #log so far: %q", err, text)
		}
		if strings.Contains(text, want) {
			break
		}
		select {
		case <-tctx.Done():
			t.Fatalf("#log did not contain %s within 60s; it holds %q", want, text)
		case <-time.After(200 * time.Millisecond):
		}
	}

	const wantLog = `my other event: {"my":"data"}`
	if !d.proc.WaitOutput(wantLog, 10*time.Second) {
		t.Fatalf("devserver output lacks %q within 10s:\n%s", wantLog, d.proc.Output())
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
