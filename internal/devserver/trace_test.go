package devserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/leak"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

func TestMain(m *testing.M) { leak.VerifyTestMain(m) }

// fixedTracer traces into a buffer with a clock that does not move.
func fixedTracer() (*tracer, *bytes.Buffer) {
	var buf bytes.Buffer
	return &tracer{w: &buf, now: func() time.Time { return time.Date(2026, 1, 2, 12, 0, 1, 234e6, time.UTC) }}, &buf
}

// TestTraceFormat pins the lines of a session like the tutorial's, with a
// ping, a namespace, an ack, binary attachments and a long payload.
func TestTraceFormat(t *testing.T) {
	tr, buf := fixedTracer()
	c := tr.conn(1)
	text := func(dir direction, s string) { c.message(dir, websocket.MessageText, []byte(s)) }
	text(toBrowser, `0{"sid":"AbCdEfGhIjKlMnOpQrSt","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
	text(toServer, `40`)
	text(toBrowser, `40{"sid":"XyZ987654321"}`)
	text(toBrowser, `42["news",{"hello":"world"}]`)
	text(toServer, `42["my other event",{"my":"data"}]`)
	text(toBrowser, `2`)
	text(toServer, `3`)
	text(toServer, `40/chat,{"token":"t"}`)
	text(toServer, `42/chat,12["echo","hi"]`)
	text(toBrowser, `43/chat,12["hi"]`)
	text(toServer, `452-/chat,13["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.message(toServer, websocket.MessageBinary, []byte{1, 2, 3})
	c.message(toServer, websocket.MessageBinary, bytes.Repeat([]byte{0xff}, 20))
	text(toBrowser, `461-/chat,13[{"_placeholder":true,"num":0}]`)
	c.message(toBrowser, websocket.MessageBinary, []byte("ok"))
	text(toServer, `42["big","`+strings.Repeat("x", 300)+`"]`)
	text(toServer, `41/chat,`)
	text(toServer, `1`)

	want := `12:00:01.234 [sid AbCdEf] browser ← server  0 open     sid=AbCdEfGhIjKlMnOpQrSt (conn 1)  upgrades=[]  pingInterval=25000ms  pingTimeout=20000ms  maxPayload=1000000  (107 B)
12:00:01.234 [sid AbCdEf] browser → server  4 message  0 CONNECT        nsp=/  (2 B)
12:00:01.234 [sid AbCdEf] browser ← server  4 message  0 CONNECT        nsp=/  socket=XyZ987  {"sid":"XyZ987654321"}  (24 B)
12:00:01.234 [sid AbCdEf] browser ← server  4 message  2 EVENT          nsp=/  socket=XyZ987  "news"  [{"hello":"world"}]  (28 B)
12:00:01.234 [sid AbCdEf] browser → server  4 message  2 EVENT          nsp=/  socket=XyZ987  "my other event"  [{"my":"data"}]  (34 B)
12:00:01.234 [sid AbCdEf] browser ← server  2 ping     (1 B)
12:00:01.234 [sid AbCdEf] browser → server  3 pong     (1 B)
12:00:01.234 [sid AbCdEf] browser → server  4 message  0 CONNECT        nsp=/chat  {"token":"t"}  (21 B)
12:00:01.234 [sid AbCdEf] browser → server  4 message  2 EVENT          nsp=/chat  ack=12  "echo"  ["hi"]  (23 B)
12:00:01.234 [sid AbCdEf] browser ← server  4 message  3 ACK            nsp=/chat  ack=12  ["hi"]  (16 B)
12:00:01.234 [sid AbCdEf] browser → server  4 message  5 BINARY_EVENT   nsp=/chat  ack=13  "upload"  [{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]  (82 B)  +2 binary attachments
12:00:01.234 [sid AbCdEf] browser → server  binary     attachment 1/2 of 5 BINARY_EVENT "upload"  (3 B)  01 02 03
12:00:01.234 [sid AbCdEf] browser → server  binary     attachment 2/2 of 5 BINARY_EVENT "upload"  (20 B)  ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff …
12:00:01.234 [sid AbCdEf] browser ← server  4 message  6 BINARY_ACK     nsp=/chat  ack=13  [{"_placeholder":true,"num":0}]  (43 B)  +1 binary attachment
12:00:01.234 [sid AbCdEf] browser ← server  binary     attachment 1/1 of 6 BINARY_ACK  (2 B)  6f 6b
12:00:01.234 [sid AbCdEf] browser → server  4 message  2 EVENT          nsp=/  socket=XyZ987  "big"  ["` + strings.Repeat("x", 118) + `…(304 bytes)  (312 B)
12:00:01.234 [sid AbCdEf] browser → server  4 message  1 DISCONNECT     nsp=/chat  (8 B)
12:00:01.234 [sid AbCdEf] browser → server  1 close    (1 B)
`
	if got := buf.String(); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Errorf("first difference, line %d:\n got %q\nwant %q", i+1, gl[i], wl[i])
				break
			}
		}
	}
}

// TestTraceHandshakeLines: the request and response headers of the
// tutorial's handshake, and the derivation of the accept value, recomputed.
func TestTraceHandshakeLines(t *testing.T) {
	tr, buf := fixedTracer()
	c := tr.conn(7)
	r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	r.Host = "127.0.0.1:8124"
	for k, v := range map[string]string{
		"Origin": "http://127.0.0.1:8124", "Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "bmxxAd1YiaYzLLnDb9pAEg==",
		"User-Agent": "test", "Accept-Encoding": "gzip",
	} {
		r.Header.Set(k, v)
	}
	c.request(r)
	h := http.Header{}
	h.Set("Upgrade", "websocket")
	h.Set("Connection", "Upgrade")
	h.Set("Sec-WebSocket-Accept", "sk85MqSFg1CGhAYRlSvctpzSALA=")
	c.httpResponse(http.StatusSwitchingProtocols, h, nil)
	c.acceptNote("bmxxAd1YiaYzLLnDb9pAEg==", "sk85MqSFg1CGhAYRlSvctpzSALA=")
	c.acceptNote("bmxxAd1YiaYzLLnDb9pAEg==", "wrong=")
	want := `12:00:01.234 [conn 7    ] browser → server  GET /socket.io/?EIO=4&transport=websocket HTTP/1.1
12:00:01.234 [conn 7    ] browser → server    Host: 127.0.0.1:8124
12:00:01.234 [conn 7    ] browser → server    Origin: http://127.0.0.1:8124
12:00:01.234 [conn 7    ] browser → server    Connection: Upgrade
12:00:01.234 [conn 7    ] browser → server    Upgrade: websocket
12:00:01.234 [conn 7    ] browser → server    Sec-WebSocket-Version: 13
12:00:01.234 [conn 7    ] browser → server    Sec-WebSocket-Key: bmxxAd1YiaYzLLnDb9pAEg==
12:00:01.234 [conn 7    ] browser → server    (and Accept-Encoding, User-Agent)
12:00:01.234 [conn 7    ] browser ← server  HTTP/1.1 101 Switching Protocols
12:00:01.234 [conn 7    ] browser ← server    Upgrade: websocket
12:00:01.234 [conn 7    ] browser ← server    Connection: Upgrade
12:00:01.234 [conn 7    ] browser ← server    Sec-WebSocket-Accept: sk85MqSFg1CGhAYRlSvctpzSALA=
12:00:01.234 [conn 7    ]                   Sec-WebSocket-Accept = base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) = sk85MqSFg1CGhAYRlSvctpzSALA= ✓ matches
12:00:01.234 [conn 7    ]                   Sec-WebSocket-Accept = base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) = sk85MqSFg1CGhAYRlSvctpzSALA= ✗ but "wrong=" was sent
`
	if got := buf.String(); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
}

// TestTraceMalformed: bad input prints an ERROR line, one per message, and
// the decoder carries on with the next message.
func TestTraceMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs []string // "b:" starts a binary message
		want string
	}{
		{"empty", []string{""}, `?          ERROR  tsunagi: empty Engine.IO packet  ""  (0 B)`},
		{"unknown EIO type", []string{"9"}, `?          ERROR  tsunagi: unknown Engine.IO packet type '9'  "9"  (1 B)`},
		{"not UTF-8", []string{"4\xff"}, `?          ERROR  text message is not valid UTF-8  "4\xff"  (2 B)`},
		{"bad open", []string{`0{}`}, `0 open     ERROR  tsunagi: invalid open packet {}  (3 B)`},
		{"unknown packet type", []string{"4x"}, `4 message  ERROR  tsunagi: invalid packet: unknown packet type 'x'  "x"  (2 B)`},
		{"event not an array", []string{`42{"a":1}`}, `4 message  ERROR  tsunagi: invalid packet: EVENT payload must be an array  "2{\"a\":1}"  (9 B)`},
		{"event name not a string", []string{`42[1]`}, `4 message  ERROR  tsunagi: invalid packet: event name must be a string, not 1`},
		{"reserved name", []string{`42["connect"]`}, `ERROR  tsunagi: invalid packet: event name "connect" is reserved`},
		{"ack without id", []string{`43["x"]`}, `ERROR  tsunagi: invalid packet: ACK without an id`},
		{"too many attachments", []string{`4511-["x"]`}, `ERROR  tsunagi: invalid packet: 11 attachments (allowed: 1 to 10)`},
		{"binary unannounced", []string{"b:\x00"}, `binary     ERROR  tsunagi: binary message without a binary packet announcing it  (1 B)`},
		{"text while attachments pending", []string{`451-["x",{"_placeholder":true,"num":0}]`, `42["y"]`}, `ERROR  tsunagi: invalid packet: text message while 1 binary attachments were expected`},
		{"long garbage", []string{"4" + strings.Repeat("z", 500)}, `…(500 bytes)  (501 B)`},
		{"control characters", []string{"42[\"a\x01\"]"}, `ERROR`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, buf := fixedTracer()
			c := tr.conn(1)
			for _, m := range tc.msgs {
				if b, ok := strings.CutPrefix(m, "b:"); ok {
					c.message(toServer, websocket.MessageBinary, []byte(b))
				} else {
					c.message(toServer, websocket.MessageText, []byte(m))
				}
			}
			out := buf.String()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(tc.msgs) {
				t.Errorf("%d lines for %d messages:\n%s", len(lines), len(tc.msgs), out)
			}
			if last := lines[len(lines)-1]; !strings.Contains(last, tc.want) {
				t.Errorf("last line\n%s\ndoes not hold\n%s", last, tc.want)
			}
			// The next good packet decodes.
			buf.Reset()
			c.message(toServer, websocket.MessageText, []byte(`42["after"]`))
			if !strings.Contains(buf.String(), `2 EVENT          nsp=/  "after"  []`) {
				t.Errorf("the packet after the bad one: %q", buf.String())
			}
		})
	}
}

// FuzzTraceMessage: whatever comes, one line per message, never a panic.
func FuzzTraceMessage(f *testing.F) {
	for _, s := range []string{"", "0", "40", `42["a",1]`, `451-["a",{"_placeholder":true,"num":0}]`, "4\xff", "6", "2probe", `0{"sid":"x","pingInterval":1,"pingTimeout":1}`} {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, msg string, binary, fromServer bool) {
		tr, buf := fixedTracer()
		c := tr.conn(1)
		dir, typ := toServer, websocket.MessageText
		if fromServer {
			dir = toBrowser
		}
		if binary {
			typ = websocket.MessageBinary
		}
		c.message(dir, typ, []byte(msg))
		c.message(dir, websocket.MessageBinary, []byte(msg))
		if n := strings.Count(buf.String(), "\n"); n != 2 {
			t.Fatalf("%d lines for 2 messages:\n%s", n, buf.String())
		}
	})
}

// lockedBuffer is a trace output that the test reads while relays write.
type lockedBuffer = testenv.Buffer

// waitTrace waits until the trace holds every one of subs.
func waitTrace(t *testing.T, out *lockedBuffer, subs ...string) {
	t.Helper()
	for _, s := range subs {
		wait.For(t, "trace line "+s, func() bool { return strings.Contains(out.String(), s) })
	}
}

// echoTestServer is a Socket.IO server for the relay tests: "echo" acks
// its arguments back, "bin" sends the bytes back as a binary event, "bye"
// makes the server end the connection.
func echoTestServer(opts *server.Options) *server.Server {
	opts.OriginPatterns = LoopbackOrigins
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := server.New(opts)
	srv.OnConnection(func(s *server.Socket) {
		s.On("echo", func(a shared.Args, ack shared.AckFunc) error {
			v, err := a.Values()
			if err != nil || ack == nil {
				return err
			}
			return ack(v...)
		})
		s.On("bin", func(a shared.Args, _ shared.AckFunc) error {
			var b []byte
			if err := a.Decode(0, &b); err != nil {
				return err
			}
			return s.Emit("bin", b)
		})
	})
	return srv
}

// startTrace serves io behind a Trace on loopback and returns the
// endpoint's ws:// URL and the trace output. Cleanup shuts both down.
func startTrace(t *testing.T, srv *server.Server) (string, *lockedBuffer) {
	t.Helper()
	out := &lockedBuffer{}
	tr, err := TraceServer(out, srv)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(tr)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
		tr.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket", out
}

// wsClient is a WebSocket client speaking Engine.IO by hand.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialWS(t *testing.T, url string, h http.Header) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { ws.CloseNow() })
	return &wsClient{t, ws}
}

func (c *wsClient) send(typ websocket.MessageType, msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.ws.Write(ctx, typ, []byte(msg)); err != nil {
		c.t.Fatalf("write %q: %v", msg, err)
	}
}

// read returns the next message; Engine.IO pings are answered on the way.
func (c *wsClient) read() (websocket.MessageType, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	for {
		typ, msg, err := c.ws.Read(ctx)
		if err != nil {
			return 0, "", err
		}
		if typ == websocket.MessageText && string(msg) == "2" {
			if err := c.ws.Write(ctx, websocket.MessageText, []byte("3")); err != nil {
				return 0, "", err
			}
			continue
		}
		return typ, string(msg), nil
	}
}

// waitPing reads until the server's next Engine.IO ping, and answers it.
func (c *wsClient) waitPing() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	typ, msg, err := c.ws.Read(ctx)
	if err != nil || typ != websocket.MessageText || string(msg) != "2" {
		c.t.Fatalf("waiting for a ping: %v %q %v", typ, msg, err)
	}
	if err := c.ws.Write(ctx, websocket.MessageText, []byte("3")); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) expect(typ websocket.MessageType, prefix string) string {
	c.t.Helper()
	gotType, msg, err := c.read()
	if err != nil {
		c.t.Fatalf("waiting for %q: %v", prefix, err)
	}
	if gotType != typ || !strings.HasPrefix(msg, prefix) {
		c.t.Fatalf("got %v %q, want %v %q…", gotType, msg, typ, prefix)
	}
	return msg
}

// TestTraceRelaySocketIO: a session with the real server through the
// relay: the open packet, pings and pongs, CONNECT, an ack, a binary event
// both ways (binary kept binary), each traced, decoded; then a bad packet:
// the server's close frame reaches the client with its code and reason.
func TestTraceRelaySocketIO(t *testing.T) {
	srv := echoTestServer(&server.Options{PingInterval: 50 * time.Millisecond})
	url, out := startTrace(t, srv)
	c := dialWS(t, url, nil)
	c.expect(websocket.MessageText, `0{"sid":`)
	c.send(websocket.MessageText, "40")
	c.expect(websocket.MessageText, `40{"sid":`)
	c.send(websocket.MessageText, `421["echo","hi",{"n":1}]`)
	c.expect(websocket.MessageText, `431["hi",{"n":1}]`)
	c.send(websocket.MessageText, `451-["bin",{"_placeholder":true,"num":0}]`)
	c.send(websocket.MessageBinary, "\x00\x01\x02")
	c.expect(websocket.MessageText, `451-["bin",{"_placeholder":true,"num":0}]`)
	if got := c.expect(websocket.MessageBinary, ""); got != "\x00\x01\x02" {
		t.Errorf("attachment %q, want 00 01 02", got)
	}
	c.waitPing() // nothing else is coming: the next message is a ping
	waitTrace(t, out,
		"browser → server  GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
		"browser ← server  HTTP/1.1 101 Switching Protocols",
		"✓ matches",
		"browser ← server  0 open     sid=",
		"browser ← server  2 ping",
		"browser → server  3 pong",
		"browser → server  4 message  0 CONNECT        nsp=/  (2 B)",
		"browser → server  4 message  2 EVENT          nsp=/  socket=",
		`ack=1  "echo"  ["hi",{"n":1}]  (24 B)`,
		`3 ACK            nsp=/  socket=`,
		`"bin"  [{"_placeholder":true,"num":0}]  (41 B)  +1 binary attachment`,
		`browser → server  binary     attachment 1/1 of 5 BINARY_EVENT "bin"  (3 B)  00 01 02`,
		`browser ← server  binary     attachment 1/1 of 5 BINARY_EVENT "bin"  (3 B)  00 01 02`,
	)

	// Compare with the server's answer to the same bad packet, unrelayed.
	direct := httptest.NewServer(srv)
	defer direct.Close()
	d := dialWS(t, "ws"+strings.TrimPrefix(direct.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	d.expect(websocket.MessageText, `0{"sid":`)
	d.send(websocket.MessageText, "4x")
	_, _, directErr := d.read()
	c.send(websocket.MessageText, "4x")
	_, _, err := c.read()
	var want, got websocket.CloseError
	if !errors.As(directErr, &want) || !errors.As(err, &got) || got != want {
		t.Fatalf("close through the relay: %v; without it: %v", err, directErr)
	}
	waitTrace(t, out,
		`browser → server  4 message  ERROR  tsunagi: invalid packet: unknown packet type 'x'`,
		`browser ← server  close      1008 policy violation  "`+want.Reason+`"`,
		"relay ended after",
	)
}

// TestTraceRefusals: what the relay does not accept, the browser hears
// about as it would from the server: a foreign Origin (403, from the
// server and from the relay), a wrong EIO (the server's 400 and its message, as engine.io answers a
// refused upgrade).
// Long-polling goes to the server through the fallback, and is traced.
func TestTraceRefusals(t *testing.T) {
	url, out := startTrace(t, echoTestServer(&server.Options{}))
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()

	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Origin: %v, %v; want 403", resp, err)
	}
	_, resp, err = websocket.Dial(ctx, strings.Replace(url, "EIO=4", "EIO=3", 1), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("EIO=3: %v, %v; want 400", resp, err)
	}
	hurl := "http" + strings.TrimPrefix(strings.Replace(url, "websocket", "polling", 1), "ws")
	presp, err := http.Get(hurl)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(presp.Body)
	presp.Body.Close()
	if presp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), `0{"sid":`) {
		t.Errorf("polling: %d %s; want the server's open packet", presp.StatusCode, body)
	}
	waitTrace(t, out,
		"    Origin: http://evil.example",
		`browser ← server  HTTP/1.1 403 Forbidden  origin not allowed`,
		"browser → server  GET /socket.io/?EIO=3&transport=websocket HTTP/1.1",
		`browser ← server  HTTP/1.1 400 Bad Request  Unsupported protocol version`,
		"browser → server  GET /socket.io/?EIO=4&transport=polling HTTP/1.1",
		`browser ← server  HTTP/1.1 200 OK  0{"sid":`,
	)
	if strings.Contains(out.String(), "101 Switching Protocols") {
		t.Errorf("a refused handshake was accepted:\n%s", out)
	}
}

// frameTarget is a plain WebSocket server for the relay's mechanics: it
// sends an open packet with a small maxPayload, echoes every message with
// its type, closes with the code a "close:CODE" message asks for, and
// reports the close status it gets.
type frameTarget struct {
	url    string
	closes chan error
}

func startFrameTarget(t *testing.T) *frameTarget {
	ft := &frameTarget{closes: make(chan error, 4)}
	var wg sync.WaitGroup
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		defer ws.CloseNow()
		ctx := context.Background()
		ws.Write(ctx, websocket.MessageText, []byte(`0{"sid":"frames","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":64}`))
		for {
			typ, msg, err := ws.Read(ctx)
			if err != nil {
				ft.closes <- err
				return
			}
			if code, ok := strings.CutPrefix(string(msg), "close:"); ok {
				ws.Close(websocket.StatusCode(atoi(code)), "asked for "+code)
				return
			}
			ws.Write(ctx, typ, msg)
		}
	}))
	t.Cleanup(func() { hs.Close(); wg.Wait() })
	ft.url = "ws" + strings.TrimPrefix(hs.URL, "http")
	return ft
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestTraceRelayFrames: message boundaries and types kept, close codes
// passed on both ways, the browser's read limit the server's maxPayload.
func TestTraceRelayFrames(t *testing.T) {
	ft := startFrameTarget(t)
	out := &lockedBuffer{}
	tr, err := NewTrace(out, ft.url, http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(tr)
	defer func() { hs.Close(); tr.Close() }()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"

	// The browser closes with a code of its own: the server gets it.
	c := dialWS(t, url, nil)
	c.expect(websocket.MessageText, `0{"sid":"frames"`)
	c.send(websocket.MessageBinary, "4not text")
	c.expect(websocket.MessageBinary, "4not text")
	c.send(websocket.MessageText, "")
	c.expect(websocket.MessageText, "")
	c.ws.Close(4001, "bye")
	if got := wait.Recv(t, "the close at the server", ft.closes); websocket.CloseStatus(got) != 4001 || !strings.Contains(got.Error(), `"bye"`) {
		t.Errorf("the server got %v, want 4001 bye", got)
	}

	// The server closes: the browser gets the code and reason.
	c = dialWS(t, url, nil)
	c.expect(websocket.MessageText, `0{"sid":"frames"`)
	c.send(websocket.MessageText, "close:4002")
	if _, _, err := c.read(); websocket.CloseStatus(err) != 4002 || !strings.Contains(err.Error(), "asked for 4002") {
		t.Errorf("the browser got %v, want 4002", err)
	}

	// Over the maxPayload of the open packet: 1009 to the browser, and
	// the server's side dropped.
	c = dialWS(t, url, nil)
	c.expect(websocket.MessageText, `0{"sid":"frames"`)
	c.send(websocket.MessageText, "4"+strings.Repeat("a", 63))
	c.expect(websocket.MessageText, "4aaa")
	c.send(websocket.MessageText, "4"+strings.Repeat("a", 64))
	if _, _, err := c.read(); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("over maxPayload: %v, want 1009", err)
	}
	if got := wait.Recv(t, "the server's side of the oversized message", ft.closes); websocket.CloseStatus(got) != -1 {
		t.Errorf("the server got %v, want the connection dropped", got)
	}
	// Close ends a relay still running with 1001 to both sides, at once,
	// then refuses new handshakes.
	c = dialWS(t, url, nil)
	c.expect(websocket.MessageText, `0{"sid":"frames"`)
	browserEnd := make(chan error, 1)
	go func() { _, _, err := c.read(); browserEnd <- err }() // a browser reads all along
	start := time.Now()
	tr.Close()
	if d := time.Since(start); d >= traceCloseWait {
		t.Errorf("Close took %v: it waited for the relay instead of ending it", d)
	}
	if err := wait.Recv(t, "the browser's close at Close", browserEnd); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("the browser got %v at Close, want 1001", err)
	}
	if got := wait.Recv(t, "the server's close at Close", ft.closes); websocket.CloseStatus(got) != websocket.StatusGoingAway {
		t.Errorf("the server got %v at Close, want 1001", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if _, resp, err := websocket.Dial(ctx, url, nil); resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a handshake after Close: %v %v, want 503", resp, err)
	}
	waitTrace(t, out,
		"browser → server  binary     ERROR  tsunagi: binary message without a binary packet",
		"browser → server  close      4001 status  \"bye\"",
		"browser ← server  close      4002 status  \"asked for 4002\"",
		`the devserver closes both sides: 1001 going away "devserver shutting down"`,
		"browser → server  closed     message over the server's maxPayload",
	)
}
