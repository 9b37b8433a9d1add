package server_test

// Conformance with the Engine.IO v4 and Socket.IO v5 protocols over the
// WebSocket transport, case by case. The cases follow the official test
// suites (test-suite/test-suite.js in socketio/engine.io-protocol and
// socketio/socket.io-protocol), whose server uses pingInterval 300 ms,
// pingTimeout 200 ms, and these handlers on "/" and "/custom":
//
//	socket.emit("auth", socket.handshake.auth)
//	socket.on("message", (...args) => socket.emit("message-back", ...args))
//	socket.on("message-with-ack", (...args) => args.pop()(...args))
//
// The suite's HTTP long-polling cases were run by hand against this server
// (32/32); polling is covered by server/engineio's tests, the polling tests
// here, and internal/interop's matrix.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// The official test suites' heartbeat.
const (
	suitePingInterval = 300 * time.Millisecond
	suitePingTimeout  = 200 * time.Millisecond
)

// startSuiteServer starts a server with the official test suites' handlers.
// opts nil means the suites' heartbeat.
func startSuiteServer(t *testing.T, opts *server.Options) (*server.Server, string) {
	t.Helper()
	if opts == nil {
		opts = &server.Options{PingInterval: suitePingInterval, PingTimeout: suitePingTimeout}
	}
	srv, url, _ := start(t, opts)
	handlers := func(s *server.Socket) {
		auth := s.Handshake().Auth
		if len(auth) == 0 {
			auth = json.RawMessage(`{}`) // socket.handshake.auth is {} when absent
		}
		s.Emit("auth", auth)
		s.On("message", func(a shared.Args, _ shared.AckFunc) error {
			v, err := a.Values()
			if err != nil {
				return err
			}
			return s.Emit("message-back", v...)
		})
		s.On("message-with-ack", func(a shared.Args, ack shared.AckFunc) error {
			v, err := a.Values()
			if err != nil {
				return err
			}
			return ack(v...)
		})
	}
	srv.OnConnection(handlers)
	srv.Of("/custom").OnConnection(handlers)
	return srv, url
}

// quietServer is the suite's server with a heartbeat slow enough that no
// ping arrives during a test.
func quietServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	return startSuiteServer(t, &server.Options{})
}

// openSession dials the endpoint and returns the connection and its open packet.
func openSession(t *testing.T, url string) (*websocket.Conn, wire.OpenPacket) {
	t.Helper()
	ws := rawDial(t, url)
	open := readText(t, ws)
	if !strings.HasPrefix(open, "0") {
		t.Fatalf("first message = %q, want the open packet", open)
	}
	o, err := wire.DecodeOpen([]byte(open[1:]))
	if err != nil {
		t.Fatal(err)
	}
	return ws, o
}

// socketIOSession is the suites' initSocketIOConnection: an Engine.IO
// session joined to "/", its CONNECT reply and "auth" event read.
func socketIOSession(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws, _ := openSession(t, url)
	writeText(t, ws, "40")
	if got := readText(t, ws); !strings.HasPrefix(got, "40{") {
		t.Fatalf("CONNECT reply = %q", got)
	}
	if got := readText(t, ws); got != `42["auth",{}]` {
		t.Fatalf("auth event = %q", got)
	}
	return ws
}

// readMessage reads one message of either type.
func readMessage(t *testing.T, ws *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(b)
}

func writeBinary(t *testing.T, ws *websocket.Conn, b ...byte) {
	t.Helper()
	if err := ws.Write(context.Background(), websocket.MessageBinary, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// engineError is the JSON body of an Engine.IO handshake error.
type engineError struct {
	Code    *int    `json:"code"`
	Message *string `json:"message"`
}

func checkEngineError(t *testing.T, resp *http.Response, wantCode int, wantMessage string) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400 (body %s)", resp.StatusCode, body)
		return
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e engineError
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Code == nil || e.Message == nil {
		t.Errorf(`body %s is not {"code":…,"message":…} (%v)`, body, err)
		return
	}
	if *e.Code != wantCode || !strings.Contains(*e.Message, wantMessage) {
		t.Errorf("error %d %q, want %d and a message containing %q", *e.Code, *e.Message, wantCode, wantMessage)
	}
}

// Engine.IO: handshake

func TestConformanceOpenPacket(t *testing.T) {
	t.Parallel()
	_, url := startSuiteServer(t, nil)
	ws := rawDial(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageText || len(b) == 0 || b[0] != '0' {
		t.Fatalf("first message: %v %q %v, want a text open packet", typ, b, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b[1:], &fields); err != nil {
		t.Fatalf("open packet %s: %v", b, err)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}; !slices.Equal(keys, want) {
		t.Errorf("open packet keys %v, want %v", keys, want)
	}
	var o struct {
		SID          *string   `json:"sid"`
		Upgrades     *[]string `json:"upgrades"`
		PingInterval *int      `json:"pingInterval"`
		PingTimeout  *int      `json:"pingTimeout"`
		MaxPayload   *int      `json:"maxPayload"`
	}
	if err := json.Unmarshal(b[1:], &o); err != nil {
		t.Fatalf("open packet %s: %v", b, err)
	}
	if o.SID == nil || *o.SID == "" {
		t.Errorf("sid %s, want a non-empty string", fields["sid"])
	}
	// A WebSocket session has nothing to upgrade to: [], not null.
	if string(fields["upgrades"]) != "[]" {
		t.Errorf("upgrades %s, want []", fields["upgrades"])
	}
	if o.PingInterval == nil || *o.PingInterval != 300 || o.PingTimeout == nil || *o.PingTimeout != 200 {
		t.Errorf("pingInterval %s pingTimeout %s, want 300 and 200", fields["pingInterval"], fields["pingTimeout"])
	}
	if o.MaxPayload == nil || *o.MaxPayload != wire.DefaultMaxPayload {
		t.Errorf("maxPayload %s, want %d", fields["maxPayload"], wire.DefaultMaxPayload)
	}

	// Every session has its own sid, safe in a URL.
	seen := map[string]bool{*o.SID: true}
	for range 3 {
		_, o := openSession(t, url)
		if seen[o.SID] {
			t.Errorf("sid %q given twice", o.SID)
		}
		seen[o.SID] = true
		if strings.ContainsAny(o.SID, "+/=?&# ") {
			t.Errorf("sid %q is not URL-safe", o.SID)
		}
	}

	// maxPayload is the server's option.
	_, url2, _ := start(t, &server.Options{MaxPayload: 5000})
	if _, o := openSession(t, url2); o.MaxPayload != 5000 {
		t.Errorf("maxPayload %d with MaxPayload 5000", o.MaxPayload)
	}
}

func TestConformanceHandshakeErrors(t *testing.T) {
	t.Parallel()
	_, url := quietServer(t)
	for _, tc := range []struct {
		method, query string
		code          int
		message       string
	}{
		// "should fail with an invalid 'EIO' query parameter"
		{"GET", "transport=polling", 5, "Unsupported protocol version"},
		{"GET", "EIO=abc&transport=polling", 5, "Unsupported protocol version"},
		{"GET", "EIO=3&transport=polling", 5, "Unsupported protocol version"},
		{"GET", "EIO=5&transport=polling", 5, "Unsupported protocol version"},
		// a GET for the WebSocket transport that is not an upgrade
		{"GET", "EIO=4&transport=websocket", 3, "Bad request"},
		// "should fail with an invalid 'transport' query parameter"
		{"GET", "EIO=4", 0, "Transport unknown"},
		{"GET", "EIO=4&transport=abc", 0, "Transport unknown"},
		{"GET", "EIO=4&transport=webtransport", 0, "Transport unknown"},
		// an upgrade of a session this server does not know
		{"GET", "EIO=4&transport=websocket&sid=abc", 1, "Session ID unknown"},
		// "should fail with an invalid request method"
		{"POST", "EIO=4&transport=websocket", 2, "Bad handshake method"},
		{"PUT", "EIO=4&transport=websocket", 2, "Bad handshake method"},
	} {
		t.Run(tc.method+" "+tc.query, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url+"/socket.io/?"+tc.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			checkEngineError(t, resp, tc.code, tc.message)
		})
	}

	// The same refusals reach a WebSocket client as a failed handshake.
	for _, query := range []string{"transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"} {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/socket.io/?"+query, nil)
		cancel()
		if err == nil {
			ws.CloseNow()
			t.Errorf("WebSocket handshake with %q accepted", query)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("WebSocket handshake with %q: %v (response %v), want HTTP 400", query, err, resp)
		}
	}

	// A plain GET of the WebSocket endpoint (no Upgrade) is refused too.
	resp, err := http.Get(url + "/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode > 499 {
		t.Errorf("GET without Upgrade: status %d, want 4xx", resp.StatusCode)
	}
}

// Engine.IO: heartbeat

func TestConformanceHeartbeat(t *testing.T) {
	t.Parallel()
	_, url := startSuiteServer(t, nil)

	t.Run("should send ping/pong packets", func(t *testing.T) {
		t.Parallel()
		ws, _ := openSession(t, url)
		begin := time.Now()
		for i := range 3 {
			if got := readText(t, ws); got != "2" {
				t.Fatalf("message %d = %q, want a ping", i, got)
			}
			writeText(t, ws, "3")
		}
		// Pings come every pingInterval: three take at least 3 × 300 ms.
		if d := time.Since(begin); d < 3*suitePingInterval-50*time.Millisecond {
			t.Errorf("3 pings in %v, want at least %v", d, 3*suitePingInterval)
		}
	})

	t.Run("should close the session upon ping timeout", func(t *testing.T) {
		t.Parallel()
		ws, _ := openSession(t, url)
		begin := time.Now()
		err := expectClosed(t, ws)
		d := time.Since(begin)
		if d < suitePingInterval+suitePingTimeout-50*time.Millisecond || d > 3*time.Second {
			t.Errorf("closed after %v, want about pingInterval + pingTimeout = %v", d, suitePingInterval+suitePingTimeout)
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Reason != server.ReasonPingTimeout {
			t.Errorf("closed with %v, want a close frame saying %q", err, server.ReasonPingTimeout)
		}
	})

	// The probe of the upgrade mechanism: a ping with data gets a pong
	// with the same data.
	t.Run("ping probe is answered", func(t *testing.T) {
		t.Parallel()
		ws, _ := openSession(t, url)
		writeText(t, ws, "2probe")
		if got := readAnswering(t, ws); got != "3probe" {
			t.Fatalf("reply to 2probe = %q, want 3probe", got)
		}
	})

	// A pong that answers no ping, and a noop, change nothing.
	t.Run("stray pong and noop are ignored", func(t *testing.T) {
		t.Parallel()
		ws, _ := openSession(t, url)
		writeText(t, ws, "3")
		writeText(t, ws, "6")
		writeText(t, ws, "40")
		if got := readAnswering(t, ws); !strings.HasPrefix(got, "40{") {
			t.Fatalf("CONNECT reply = %q", got)
		}
	})
}

// readAnswering returns the next message but the server's pings, which it
// answers: on a loaded machine the suite's 300 ms pingInterval can pass
// before a reply comes.
func readAnswering(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	for range 10 {
		if got := readText(t, ws); got != "2" {
			return got
		}
		writeText(t, ws, "3")
	}
	t.Fatal("ten pings and no other message")
	return ""
}

// Engine.IO: close and packet types

func TestConformanceEngineClose(t *testing.T) {
	t.Parallel()
	srv, url := quietServer(t)
	reasons := make(chan string, 1)
	srv.Of("/custom").OnConnection(func(s *server.Socket) { s.OnDisconnect(func(r string) { reasons <- r }) })

	// "should forcefully close the session"
	ws, _ := openSession(t, url)
	writeText(t, ws, "40/custom,")
	readText(t, ws) // CONNECT reply
	readText(t, ws) // auth
	writeText(t, ws, "1")
	expectClosed(t, ws)
	if r := recv(t, reasons); r != server.ReasonTransportClose {
		t.Errorf("reason %q, want %q", r, server.ReasonTransportClose)
	}

	// "should close the session upon invalid packet format"; an upgrade
	// packet with no upgrade under way is one too.
	for _, msg := range []string{"abc", "5", "7", "0"} {
		ws, _ := openSession(t, url)
		writeText(t, ws, msg)
		expectClosed(t, ws)
	}
}

// maxPayload bounds each message: one of exactly maxPayload bytes passes,
// one byte more closes the connection with 1009 (message too big).
func TestConformanceMaxPayload(t *testing.T) {
	t.Parallel()
	const limit = 200
	_, url := startSuiteServer(t, &server.Options{MaxPayload: limit})
	ws := socketIOSession(t, url)
	message := func(size int) string {
		const prefix, suffix = `421["message-with-ack","`, `"]`
		return prefix + strings.Repeat("a", size-len(prefix)-len(suffix)) + suffix
	}
	writeText(t, ws, message(limit))
	if got := readText(t, ws); !strings.HasPrefix(got, `431["aaa`) {
		t.Fatalf("reply to a message of exactly maxPayload = %.40q", got)
	}
	_ = ws.Write(context.Background(), websocket.MessageText, []byte(message(limit+1)))
	err := expectClosed(t, ws)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("closed with %v, want status 1009 (message too big)", err)
	}
}

// Socket.IO: connect

func TestConformanceConnect(t *testing.T) {
	t.Parallel()
	_, url := quietServer(t)
	for _, tc := range []struct {
		name, send, prefix, auth string
	}{
		{"main namespace", "40", "40", `42["auth",{}]`},
		{"main namespace with a payload", `40{"token":"123"}`, "40", `42["auth",{"token":"123"}]`},
		{"custom namespace", "40/custom,", "40/custom,", `42/custom,["auth",{}]`},
		{"custom namespace with a payload", `40/custom,{"token":"abc"}`, "40/custom,", `42/custom,["auth",{"token":"abc"}]`},
		{"custom namespace without a comma", "40/custom", "40/custom,", `42/custom,["auth",{}]`},
	} {
		t.Run("should allow connection to the "+tc.name, func(t *testing.T) {
			ws, open := openSession(t, url)
			writeText(t, ws, tc.send)
			got := readText(t, ws)
			rest, ok := strings.CutPrefix(got, tc.prefix)
			if !ok {
				t.Fatalf("CONNECT reply = %q, want prefix %q", got, tc.prefix)
			}
			var hs map[string]any
			if err := json.Unmarshal([]byte(rest), &hs); err != nil || len(hs) != 1 {
				t.Fatalf("CONNECT reply payload %s, want {\"sid\":…}", rest)
			}
			sid, _ := hs["sid"].(string)
			if sid == "" || sid == open.SID {
				t.Errorf("socket sid %q: want a non-empty string other than the Engine.IO sid %q", sid, open.SID)
			}
			if got := readText(t, ws); got != tc.auth {
				t.Errorf("auth packet = %q, want %q", got, tc.auth)
			}
		})
	}

	t.Run("should disallow connection to an unknown namespace", func(t *testing.T) {
		ws, _ := openSession(t, url)
		writeText(t, ws, "40/random")
		if got := readText(t, ws); got != `44/random,{"message":"Invalid namespace"}` {
			t.Fatalf("reply = %q", got)
		}
		// The connection stays usable.
		writeText(t, ws, "40")
		if got := readText(t, ws); !strings.HasPrefix(got, "40{") {
			t.Fatalf("CONNECT reply after a refusal = %q", got)
		}
	})

	t.Run("should disallow connection with an invalid handshake", func(t *testing.T) {
		ws, _ := openSession(t, url)
		writeText(t, ws, "4abc")
		expectClosed(t, ws)
	})

	for _, payload := range []string{`40"token"`, `40[1]`, `40 1`, `40{`} {
		t.Run("a CONNECT payload that is not an object closes: "+payload, func(t *testing.T) {
			ws, _ := openSession(t, url)
			writeText(t, ws, payload)
			expectClosed(t, ws)
		})
	}

	t.Run("middleware refusal", func(t *testing.T) {
		srv, url, _ := start(t, nil)
		srv.Of("/guarded").Use(func(*server.Socket) error {
			return &server.ConnectError{Message: "not authorized", Data: map[string]any{"code": 42}}
		})
		srv.Of("/plain").Use(func(*server.Socket) error { return errors.New("no") })
		ws, _ := openSession(t, url)
		writeText(t, ws, "40/guarded,")
		if got := readText(t, ws); got != `44/guarded,{"message":"not authorized","data":{"code":42}}` {
			t.Errorf("refusal = %q", got)
		}
		writeText(t, ws, "40/plain,")
		if got := readText(t, ws); got != `44/plain,{"message":"no"}` {
			t.Errorf("refusal = %q", got)
		}
	})
}

func TestConformanceConnectTimeout(t *testing.T) {
	t.Parallel()
	// "should close the connection if no handshake is received"
	_, url := startSuiteServer(t, &server.Options{ConnectTimeout: 300 * time.Millisecond})
	ws, _ := openSession(t, url)
	begin := time.Now()
	err := expectClosed(t, ws)
	if d := time.Since(begin); d < 250*time.Millisecond {
		t.Errorf("closed after %v, before the connect timeout", d)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Reason != server.ReasonConnectTimeout {
		t.Errorf("closed with %v, want a close frame saying %q", err, server.ReasonConnectTimeout)
	}
}

// Socket.IO: disconnect

func TestConformanceDisconnect(t *testing.T) {
	t.Parallel()

	t.Run("should disconnect from the main namespace", func(t *testing.T) {
		t.Parallel()
		_, url := startSuiteServer(t, nil)
		ws := socketIOSession(t, url)
		writeText(t, ws, "41")
		// Nothing but the next ping: the connection stays open.
		if got := readText(t, ws); got != "2" {
			t.Fatalf("after 41: %q, want a ping", got)
		}
	})

	t.Run("should connect then disconnect from a custom namespace", func(t *testing.T) {
		t.Parallel()
		srv, url := quietServer(t)
		reasons := make(chan string, 1)
		srv.Of("/custom").OnConnection(func(s *server.Socket) { s.OnDisconnect(func(r string) { reasons <- r }) })
		ws := socketIOSession(t, url)
		writeText(t, ws, "40/custom")
		readText(t, ws) // CONNECT reply
		readText(t, ws) // auth
		writeText(t, ws, "41/custom")
		writeText(t, ws, `42["message","message to main namespace"]`)
		if got := readText(t, ws); got != `42["message-back","message to main namespace"]` {
			t.Fatalf("reply = %q", got)
		}
		if r := recv(t, reasons); r != server.ReasonClientDisconnect {
			t.Errorf("reason %q, want %q", r, server.ReasonClientDisconnect)
		}
		// Events for a namespace the client left are ignored; and it can join again.
		writeText(t, ws, `42/custom,["message","gone"]`)
		writeText(t, ws, "40/custom,")
		if got := readText(t, ws); !strings.HasPrefix(got, `40/custom,{"sid":`) {
			t.Fatalf("second CONNECT reply = %q", got)
		}
	})

	t.Run("the server disconnects a namespace", func(t *testing.T) {
		t.Parallel()
		srv, url := quietServer(t)
		srv.Of("/custom").OnConnection(func(s *server.Socket) {
			s.On("leave", func(shared.Args, shared.AckFunc) error { s.Disconnect(false); return nil })
		})
		ws := socketIOSession(t, url)
		writeText(t, ws, "40/custom,")
		readText(t, ws) // CONNECT reply
		readText(t, ws) // auth
		writeText(t, ws, `42/custom,["leave"]`)
		if got := readText(t, ws); got != "41/custom," {
			t.Fatalf("got %q, want 41/custom,", got)
		}
		// The main namespace is still there.
		writeText(t, ws, `42["message",1]`)
		if got := readText(t, ws); got != `42["message-back",1]` {
			t.Fatalf("reply = %q", got)
		}
	})
}

// Socket.IO: messages

func TestConformanceMessages(t *testing.T) {
	t.Parallel()
	_, url := quietServer(t)
	ph := func(n string) string { return `{"_placeholder":true,"num":` + n + `}` }
	for _, tc := range []struct {
		name string
		text string
		bins [][]byte
		want []string // text replies, then binary replies as "bin:" + content
	}{
		{"should send a plain-text packet",
			`42["message",1,"2",{"3":[true]}]`, nil,
			[]string{`42["message-back",1,"2",{"3":[true]}]`}},
		{"should send a packet with binary attachments",
			`452-["message",` + ph("0") + `,` + ph("1") + `]`, [][]byte{{1, 2, 3}, {4, 5, 6}},
			[]string{`452-["message-back",` + ph("0") + `,` + ph("1") + `]`, "bin:\x01\x02\x03", "bin:\x04\x05\x06"}},
		{"should send a plain-text packet with an ack",
			`42456["message-with-ack",1,"2",{"3":[false]}]`, nil,
			[]string{`43456[1,"2",{"3":[false]}]`}},
		{"should send a packet with binary attachments and an ack",
			`452-789["message-with-ack",` + ph("0") + `,` + ph("1") + `]`, [][]byte{{1, 2, 3}, {4, 5, 6}},
			[]string{`462-789[` + ph("0") + `,` + ph("1") + `]`, "bin:\x01\x02\x03", "bin:\x04\x05\x06"}},
		{"an event in a custom namespace",
			`42/custom,["message",1]`, nil,
			[]string{`42/custom,["message-back",1]`}},
		{"an ack in a custom namespace",
			`42/custom,7["message-with-ack",1]`, nil,
			[]string{`43/custom,7[1]`}},
		{"a binary ack in a custom namespace",
			`451-/custom,8["message-with-ack",` + ph("0") + `]`, [][]byte{{9}},
			[]string{`461-/custom,8[` + ph("0") + `]`, "bin:\x09"}},
		{"the largest ack id, 2^53",
			`429007199254740992["message-with-ack","x"]`, nil,
			[]string{`439007199254740992["x"]`}},
		{"an ack id of 0",
			`420["message-with-ack"]`, nil,
			[]string{`430[]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := socketIOSession(t, url)
			writeText(t, ws, "40/custom,")
			readText(t, ws) // CONNECT reply
			readText(t, ws) // auth
			writeText(t, ws, tc.text)
			for _, b := range tc.bins {
				writeBinary(t, ws, b...)
			}
			for i, want := range tc.want {
				typ, got := readMessage(t, ws)
				if typ == websocket.MessageBinary {
					got = "bin:" + got
				}
				if got != want {
					t.Errorf("message %d = %q, want %q", i, got, want)
				}
			}
		})
	}

	for _, msg := range []string{
		"4abc", // "should close the connection upon invalid format (unknown packet type)"
		"42{}", // "… (invalid payload format)"
		`42abc["message-with-ack",1,"2",{"3":[false]}]`, // "… (invalid ack id)"
		`43["message"]`,      // an ACK without an id
		`41{"reason":"bye"}`, // a DISCONNECT with a payload
		"4",                  // a message with no packet
	} {
		t.Run("should close the connection upon invalid format "+msg, func(t *testing.T) {
			ws := socketIOSession(t, url)
			writeText(t, ws, msg)
			expectClosed(t, ws)
		})
	}

	t.Run("events before CONNECT and for other namespaces are ignored", func(t *testing.T) {
		ws, _ := openSession(t, url)
		writeText(t, ws, `42["message","before connect"]`)
		writeText(t, ws, "40")
		readText(t, ws) // CONNECT reply
		readText(t, ws) // auth
		writeText(t, ws, `42/custom,["message","not joined"]`)
		writeText(t, ws, `42["message","joined"]`)
		if got := readText(t, ws); got != `42["message-back","joined"]` {
			t.Fatalf("reply = %q", got)
		}
	})
}

// The server's side of an ack: EVENT with an id, answered by ACK (binary or not).
func TestConformanceServerAcks(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	results := make(chan string, 2)
	srv.Of("/custom").OnConnection(func(s *server.Socket) {
		go func() {
			for _, arg := range []any{"question", []byte{1, 2}} {
				ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
				a, err := s.EmitWithAck(ctx, "ask", arg)
				cancel()
				if err != nil {
					results <- "error: " + err.Error()
					continue
				}
				var b []byte
				if a.Decode(0, &b) == nil && len(a.Buffers()) > 0 {
					results <- "bin:" + string(b)
					continue
				}
				results <- string(a.Raw(0))
			}
		}()
	})
	ws, _ := openSession(t, url)
	writeText(t, ws, "40/custom,")
	readText(t, ws) // CONNECT reply
	if got := readText(t, ws); got != `42/custom,0["ask","question"]` {
		t.Fatalf("event with ack = %q", got)
	}
	writeText(t, ws, `43/custom,0["answer"]`)
	if got := recv(t, results); got != `"answer"` {
		t.Errorf("server got %s", got)
	}
	if got := readText(t, ws); got != `451-/custom,1["ask",{"_placeholder":true,"num":0}]` {
		t.Fatalf("binary event with ack = %q", got)
	}
	if typ, got := readMessage(t, ws); typ != websocket.MessageBinary || got != "\x01\x02" {
		t.Fatalf("attachment = %v %q", typ, got)
	}
	writeText(t, ws, `461-/custom,1[{"_placeholder":true,"num":0}]`)
	writeBinary(t, ws, 3, 4)
	if got := recv(t, results); got != "bin:\x03\x04" {
		t.Errorf("server got %q", got)
	}
}
