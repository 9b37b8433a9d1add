//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
)

// waitTrace waits until the devserver's output holds each line, given as
// literal text with \S+ where anything goes.
func (d *devserver) waitTrace(t *testing.T, lines ...string) {
	t.Helper()
	for _, l := range lines {
		d.proc.WaitOutput(t, wait.Deadline(), strings.ReplaceAll(regexp.QuoteMeta(l), `\\S\+`, `\S+`))
	}
}

// traceLines returns the lines of the trace printed so far.
func (d *devserver) traceLines() string {
	var b strings.Builder
	for _, l := range strings.Split(d.proc.Output(), "\n") {
		if strings.Contains(l, "browser ") || strings.Contains(l, "Sec-WebSocket-Accept =") || strings.Contains(l, "relay ended") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestTraceHandshake does the tutorial's handshake by hand, with its key,
// against `devserver -trace`: the answer is 101 with the tutorial's accept
// value, the first frame is the open packet, and the trace shows the
// request, the response, the derivation and the packet.
func TestTraceHandshake(t *testing.T) {
	d := startDevserver(t, "-trace")
	addr := strings.TrimPrefix(d.base, "http://")
	conn, err := net.DialTimeout("tcp", addr, wait.Deadline())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(wait.Deadline()))
	fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"+
		"Host: %s\r\nOrigin: http://%s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: bmxxAd1YiaYzLLnDb9pAEg==\r\n\r\n", addr, addr)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read the handshake response: %v\n%s", err, d.proc.Output())
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "sk85MqSFg1CGhAYRlSvctpzSALA=" {
		t.Fatalf("handshake: %s, Sec-WebSocket-Accept %q; want 101 and sk85MqSFg1CGhAYRlSvctpzSALA=", resp.Status, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	// The first frame: the open packet, a short unmasked text frame.
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatal(err)
	}
	if h[0] != 0x81 || !strings.HasPrefix(string(payload), `0{"sid":`) {
		t.Fatalf("first frame %x %q, want a text frame with the open packet", h, payload)
	}
	d.waitTrace(t,
		"browser → server  GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
		"browser → server    Host: "+addr,
		"browser → server    Connection: Upgrade",
		"browser → server    Upgrade: websocket",
		"browser → server    Sec-WebSocket-Version: 13",
		"browser → server    Sec-WebSocket-Key: bmxxAd1YiaYzLLnDb9pAEg==",
		"browser ← server  HTTP/1.1 101 Switching Protocols",
		"browser ← server    Upgrade: websocket",
		"browser ← server    Connection: Upgrade",
		"browser ← server    Sec-WebSocket-Accept: sk85MqSFg1CGhAYRlSvctpzSALA=",
		`Sec-WebSocket-Accept = base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) = sk85MqSFg1CGhAYRlSvctpzSALA= ✓ matches`,
		"browser ← server  0 open     sid=",
	)
	conn.Close() // a hang-up, no close frame
	d.waitTrace(t, "browser → server  lost       connection to the browser lost, no close frame", "relay ended after")
	d.stop(t)
}

// TestTraceBrowserDemo runs the tutorial's demo in Chromium under
// `devserver -trace`: the trace holds the demo's packets, decoded: the
// CONNECT both ways, `news` {"hello":"world"} to the page, `my other
// event` {"my":"data"} from it; and at shutdown the server's close frame,
// passed on to the page.
func TestTraceBrowserDemo(t *testing.T) {
	d := startDevserver(t, "-trace")
	ctx := testenv.NewBrowser(t)
	tctx, cancel := context.WithTimeout(ctx, wait.Deadline())
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(d.base+"/")); err != nil {
		t.Fatalf("navigate to %s/: %v", d.base, err)
	}
	testenv.WaitJS(t, tctx, `{"hello":"world"} in #log`,
		`(e => e ? e.textContent : "")(document.getElementById("log"))`, `s => s.includes('{"hello":"world"}')`)
	d.proc.WaitOutput(t, wait.Deadline(), regexp.QuoteMeta(`my other event: {"my":"data"}`))
	d.waitTrace(t,
		"browser → server  GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
		"browser ← server  HTTP/1.1 101 Switching Protocols",
		"✓ matches",
		"browser ← server  0 open     sid=",
		"browser → server  4 message  0 CONNECT        nsp=/  (2 B)",
		`browser ← server  4 message  0 CONNECT        nsp=/  socket=\S+  {"sid":"`,
		`browser ← server  4 message  2 EVENT          nsp=/  socket=\S+  "news"  [{"hello":"world"}]  (28 B)`,
		`browser → server  4 message  2 EVENT          nsp=/  socket=\S+  "my other event"  [{"my":"data"}]  (34 B)`,
	)
	d.stop(t)
	d.waitTrace(t, `browser ← server  close      1001 going away  "server shutting down"`)
	if testing.Verbose() {
		t.Logf("the trace:\n%s", d.traceLines())
	}
}
