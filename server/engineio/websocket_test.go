package engineio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
)

func dialWS(t *testing.T, u string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+u[len("http"):], nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	return c
}

func readWS(t *testing.T, c *websocket.Conn) (websocket.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	typ, m, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, m
}

func wsMessage(t *testing.T, c *websocket.Conn, typ websocket.MessageType, m string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Write(ctx, typ, []byte(m)); err != nil {
		t.Fatalf("write %q: %v", m, err)
	}
}

func TestHandshakeWebSocket(t *testing.T) {
	e := newEcho(t, &Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	c := dialWS(t, e.url+"?EIO=4&transport=websocket")
	defer c.CloseNow()
	typ, m := readWS(t, c)
	if typ != websocket.MessageText || m[0] != '0' {
		t.Fatalf("first message %v %q", typ, m)
	}
	var keys map[string]any
	if err := json.Unmarshal(m[1:], &keys); err != nil {
		t.Fatal(err)
	}
	keys["sid"] = ""
	want := `{"maxPayload":1000000,"pingInterval":300,"pingTimeout":200,"sid":"","upgrades":[]}`
	if got, _ := json.Marshal(keys); string(got) != want {
		t.Fatalf("open packet %s, want %s", got, want)
	}
	// The upgrade errors over WebSocket are a 400 before the upgrade.
	for _, q := range []string{"EIO=3&transport=websocket", "EIO=4&transport=abc", "EIO=4&transport=websocket&sid=nope"} {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		_, resp, err := websocket.Dial(ctx, "ws"+e.url[len("http"):]+"?"+q, nil)
		cancel()
		if err == nil || resp == nil || resp.StatusCode != 400 {
			t.Errorf("?%s: %v %v, want a 400", q, err, resp)
		}
	}
}

func TestEchoWebSocket(t *testing.T) {
	e := newEcho(t, nil)
	c := dialWS(t, e.url+"?EIO=4&transport=websocket")
	defer c.CloseNow()
	readWS(t, c)
	wsMessage(t, c, websocket.MessageText, "4hello")
	wsMessage(t, c, websocket.MessageBinary, "\x01\x02\x03")
	if typ, m := readWS(t, c); typ != websocket.MessageText || string(m) != "4hello" {
		t.Fatalf("echo %v %q", typ, m)
	}
	if typ, m := readWS(t, c); typ != websocket.MessageBinary || string(m) != "\x01\x02\x03" {
		t.Fatalf("binary echo %v %q", typ, m)
	}
	// A bad packet closes the session.
	wsMessage(t, c, websocket.MessageText, "abc")
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if _, _, err := c.Read(ctx); err == nil {
		t.Fatal("read after a bad packet: no error")
	}
	wait.For(t, "parse error", func() bool { return strings.Join(e.closeReasons(), ",") == ReasonParseError })
}

func TestHeartbeatWebSocket(t *testing.T) {
	// PingTimeout leaves a loaded machine time to pong.
	e := newEcho(t, &Options{PingInterval: 50 * time.Millisecond, PingTimeout: time.Second})
	c := dialWS(t, e.url+"?EIO=4&transport=websocket")
	defer c.CloseNow()
	readWS(t, c)
	for i := 0; i < 3; i++ {
		if _, m := readWS(t, c); string(m) != "2" {
			t.Fatalf("ping %d: %q", i, m)
		}
		wsMessage(t, c, websocket.MessageText, "3")
	}
	// No pong: ping timeout.
	readWS(t, c)
	wait.For(t, "ping timeout", func() bool { return strings.Join(e.closeReasons(), ",") == ReasonPingTimeout })
}

// TestUpgrade is the suite's happy path plus what follows it: a polling
// request after the upgrade gets code 3, a second WebSocket for the sid is
// closed.
func TestUpgrade(t *testing.T) {
	e := newEcho(t, nil)
	op, u := handshake(t, e.url)
	s := sessionOf(t, e, op.SID)
	c := dialWS(t, e.url+"?EIO=4&transport=websocket&sid="+op.SID)
	defer c.CloseNow()
	wsMessage(t, c, websocket.MessageText, "2probe")
	if _, m := readWS(t, c); string(m) != "3probe" {
		t.Fatalf("probe answer %q", m)
	}
	// A second upgrade while this one runs is closed.
	c2 := dialWS(t, e.url+"?EIO=4&transport=websocket&sid="+op.SID)
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	if _, _, err := c2.Read(ctx); err == nil {
		t.Fatal("second upgrade: not closed")
	}
	cancel()
	// A poll during the probe returns with a noop at once, and is never
	// held: the client pauses polling and sends 5 (see pollGET).
	for range 3 {
		if status, body, _ := do(t, "GET", u, ""); status != 200 || body != "6" {
			t.Fatalf("poll during the probe: %d %q", status, body)
		}
	}
	s.mu.Lock()
	held := s.getHeld
	s.mu.Unlock()
	if held {
		t.Fatal("a GET is held during the probe")
	}
	wsMessage(t, c, websocket.MessageText, "5")
	wsMessage(t, c, websocket.MessageText, "4hello")
	if _, m := readWS(t, c); string(m) != "4hello" {
		t.Fatalf("echo after the upgrade %q", m)
	}
	if s.Transport() != WebSocket {
		t.Fatalf("Transport() = %q", s.Transport())
	}
	// Not as a plain GET with transport=websocket either.
	if status, _, _ := do(t, "GET", e.url+"?EIO=4&transport=websocket&sid="+op.SID, ""); status != 400 {
		t.Fatalf("plain GET with transport=websocket: %d", status)
	}
	status, body, _ := do(t, "GET", u, "")
	if status != 400 || body != `{"code":3,"message":"Bad request"}` {
		t.Fatalf("poll after the upgrade: %d %s", status, body)
	}
	if status, _, _ := do(t, "POST", u, "4x"); status != 400 {
		t.Fatalf("POST after the upgrade: %d", status)
	}
	c3 := dialWS(t, e.url+"?EIO=4&transport=websocket&sid="+op.SID)
	ctx, cancel = context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if _, _, err := c3.Read(ctx); err == nil {
		t.Fatal("WebSocket after the upgrade: not closed")
	}
	// The session still works.
	wsMessage(t, c, websocket.MessageText, "4again")
	if _, m := readWS(t, c); string(m) != "4again" {
		t.Fatalf("echo %q", m)
	}
}

// TestUpgradeTimeout: a probe that never sends 5 is closed, and the
// session goes on over polling.
func TestUpgradeTimeout(t *testing.T) {
	e := newEcho(t, &Options{UpgradeTimeout: time.Second})
	op, u := handshake(t, e.url)
	c := dialWS(t, e.url+"?EIO=4&transport=websocket&sid="+op.SID)
	defer c.CloseNow()
	wsMessage(t, c, websocket.MessageText, "2probe")
	readWS(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if _, _, err := c.Read(ctx); err == nil {
		t.Fatal("probe not closed after UpgradeTimeout")
	}
	do(t, "POST", u, "4still")
	if _, body, _ := do(t, "GET", u, ""); body != "4still" {
		t.Fatalf("polling after a failed upgrade: %q", body)
	}
}

// TestUpgradeUnderTraffic: while the server streams 10,000 messages and
// echoes the client's 10,000, the client upgrades; every message arrives
// once, in order, on whichever transport.
func TestUpgradeUnderTraffic(t *testing.T) {
	const n = 10000
	eio := NewServer(&Options{PingInterval: wait.Deadline(), PingTimeout: wait.Deadline()})
	var mu sync.Mutex
	var fromClient []string
	streamDone := make(chan struct{})
	eio.OnConnection(func(s *Session) {
		s.OnMessage(func(data []byte, binary bool) {
			mu.Lock()
			fromClient = append(fromClient, string(data))
			mu.Unlock()
			_ = s.Send(append([]byte("e"), data...), binary)
		})
		go func() {
			defer close(streamDone)
			for i := 0; i < n; i++ {
				if s.SendText(fmt.Sprintf("s%d", i)) != nil {
					return
				}
			}
		}()
	})
	ts := httptest.NewServer(eio)
	defer ts.Close()
	defer eio.Close()
	base := ts.URL + "/"
	// The stream starts in OnConnection: its first messages may come with
	// the open packet.
	op, u, first := handshakeRecords(t, base)

	var got []string
	take := func(m string) {
		if m == "" || m[0] == '6' {
			return
		}
		if m[0] != '4' {
			t.Fatalf("unexpected packet %q", m)
		}
		got = append(got, m[1:])
	}
	for _, rec := range first {
		take(rec)
	}
	poll := func() {
		status, body, _ := do(t, "GET", u, "")
		if status != 200 {
			t.Fatalf("poll: %d %q", status, body)
		}
		for _, rec := range strings.Split(body, "\x1e") {
			take(rec)
		}
	}
	sent := 0
	postBatch := func(k int) {
		var recs []string
		for ; k > 0 && sent < n; k-- {
			recs = append(recs, fmt.Sprintf("4c%d", sent))
			sent++
		}
		if status, body, _ := do(t, "POST", u, strings.Join(recs, "\x1e")); status != 200 || body != "ok" {
			t.Fatalf("POST: %d %q", status, body)
		}
	}
	// Some traffic over polling.
	for i := 0; i < 5; i++ {
		postBatch(50)
		poll()
	}
	c := dialWS(t, strings.Replace(base, "http", "http", 1)+"?EIO=4&transport=websocket&sid="+op.SID)
	defer c.CloseNow()
	wsMessage(t, c, websocket.MessageText, "2probe")
	if _, m := readWS(t, c); string(m) != "3probe" {
		t.Fatalf("probe answer %q", m)
	}
	// Traffic between the probe and the switch: a POST whose echoes are
	// queued, and a last poll (data or a noop).
	postBatch(100)
	poll()
	postBatch(100)
	wsMessage(t, c, websocket.MessageText, "5")
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	for sent < n {
		if err := c.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf("4c%d", sent))); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	for len(got) < 2*n {
		_, m, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read after %d messages: %v", len(got), err)
		}
		take(string(m))
	}
	<-streamDone
	// Split the two streams; each must be complete and in order.
	var stream, echoes []string
	for _, m := range got {
		if m[0] == 's' {
			stream = append(stream, m)
		} else {
			echoes = append(echoes, m)
		}
	}
	check := func(what string, ms []string, format string) {
		if len(ms) != n {
			t.Fatalf("%s: %d messages, want %d", what, len(ms), n)
		}
		for i, m := range ms {
			if m != fmt.Sprintf(format, i) {
				t.Fatalf("%s: message %d is %q", what, i, m)
			}
		}
	}
	check("server stream", stream, "s%d")
	check("echoes", echoes, "ec%d")
	mu.Lock()
	check("received by the server", fromClient, "c%d")
	mu.Unlock()
}

// TestNoUpgrades: with AllowUpgrades false, a probe is closed and the
// session stays on polling.
func TestNoUpgrades(t *testing.T) {
	e := newEcho(t, &Options{AllowUpgrades: Bool(false)})
	op, u := handshake(t, e.url)
	c := dialWS(t, e.url+"?EIO=4&transport=websocket&sid="+op.SID)
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, []byte("2probe"))
	if _, _, err := c.Read(ctx); err == nil {
		t.Fatal("probe with upgrades off: not closed")
	}
	do(t, "POST", u, "4x")
	if _, body, _ := do(t, "GET", u, ""); body != "4x" {
		t.Fatalf("polling after a refused upgrade: %q", body)
	}
}
