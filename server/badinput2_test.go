package server_test

// Bad input beyond badinput_test.go: acks, rooms, attachments, frames and
// handshakes. Each case checks that nothing panics, that the offending
// connection is closed with a clear reason (or the handshake refused with a
// 4xx), that a well-behaved client is unaffected, and, through TestMain,
// that no goroutine is left behind.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// echoServer starts a server whose sockets answer "echo" and returns it with
// a connected well-behaved client, to show that bad input elsewhere leaves
// it alone.
func echoServer(t *testing.T, opts *server.Options) (*server.Server, string, *logBuffer, *wasmclient.Socket) {
	t.Helper()
	srv, url, logs := start(t, opts)
	srv.OnConnection(func(s *server.Socket) {
		echo.Handle(s, func(in string) (string, error) { return in, nil })
	})
	return srv, url, logs, dial(t, url, nil)
}

// stillServes fails the test unless c's echo round-trips.
func stillServes(t *testing.T, c *wasmclient.Socket) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if res, err := echo.Call(ctx, c, "still here"); err != nil || res != "still here" {
		t.Fatalf("the well-behaved client: %q, %v", res, err)
	}
}

// joined opens a raw session joined to "/".
func joined(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws := rawDial(t, url)
	readText(t, ws) // open
	writeText(t, ws, "40")
	if got := readText(t, ws); !strings.HasPrefix(got, "40{") {
		t.Fatalf("CONNECT reply = %q", got)
	}
	return ws
}

// waitLog waits for the server's log to contain s.
func waitLog(t *testing.T, logs *logBuffer, s string) {
	t.Helper()
	if !wait.Until(func() bool { return strings.Contains(logs.String(), s) }) {
		t.Errorf("the server's log does not say %q:\n%s", s, tail(logs.String()))
	}
}

// closedFor checks the close frame the server sent.
func closedFor(t *testing.T, err error, code websocket.StatusCode, reason string) {
	t.Helper()
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code || !strings.Contains(ce.Reason, reason) {
		t.Errorf("closed with %v, want status %d saying %q", err, code, reason)
	}
}

// Acks that are never answered time out, release what they held, and a
// late answer is ignored.
func TestBadInputAcksNeverAnswered(t *testing.T) {
	t.Parallel()
	srv, url, _, good := echoServer(t, &server.Options{AckTimeout: 200 * time.Millisecond})
	const n = 200
	errs := make(chan error, n)
	srv.OnConnection(func(s *server.Socket) {
		s.On("ask-me", func(shared.Args, shared.AckFunc) error {
			for i := range n {
				go func() {
					_, err := s.EmitWithAck(context.Background(), "question", i)
					errs <- err
				}()
			}
			return nil
		})
	})
	ws := joined(t, url)
	writeText(t, ws, `42["ask-me"]`)
	begin := time.Now()
	for range n {
		if err := recv(t, errs); !errors.Is(err, shared.ErrAckTimeout) {
			t.Fatalf("EmitWithAck: %v, want ErrAckTimeout", err)
		}
	}
	// The 3 s is the guarantee under test (the acks time out together, not
	// one after another), not a wait.
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("%d unanswered acks took %v to time out (AckTimeout 200ms)", n, d)
	}
	// The questions arrived (ids 0 to n-1); answers after the timeout, and
	// answers to ids never asked, are ignored without closing.
	seen := 0
	for i := 0; seen < n; i++ {
		if i > 2*n {
			t.Fatalf("%d messages, %d of them questions", i, seen)
		}
		if strings.HasPrefix(readText(t, ws), `42`) {
			seen++
		}
	}
	for _, ack := range []string{`430["late"]`, fmt.Sprintf(`43%d["late"]`, n-1), `43999999["never asked"]`, `43/nope,1[]`} {
		writeText(t, ws, ack)
	}
	writeText(t, ws, `421["echo","after late acks"]`)
	if got := readText(t, ws); got != `431["after late acks"]` {
		t.Fatalf("after late acks: %q", got)
	}
	stillServes(t, good)
}

// A client that asks for acks the server never gives costs the server
// nothing: it keeps no state for them.
func TestBadInputClientAcksNeverAnswered(t *testing.T) {
	t.Parallel()
	_, url, _, good := echoServer(t, nil)
	ws := joined(t, url)
	for i := range 10_000 {
		writeText(t, ws, fmt.Sprintf(`42%d["nobody listens"]`, i))
	}
	writeText(t, ws, `42123456["echo","done"]`)
	if got := readText(t, ws); got != `43123456["done"]` {
		t.Fatalf("reply = %q", got)
	}
	stillServes(t, good)
}

// Ack ids that are not natural numbers make the packet invalid.
func TestBadInputAckIDs(t *testing.T) {
	t.Parallel()
	_, url, logs, good := echoServer(t, nil)
	for _, msg := range []string{
		`42-1["echo","x"]`,                // negative
		`43-1["x"]`,                       // negative, on an ACK
		`43abc["x"]`,                      // not a number
		`421.5["echo","x"]`,               // not an integer
		`421e3["echo","x"]`,               // an exponent
		`42 12["echo","x"]`,               // a space before the id
		`4212 ["echo","x"]`,               // JSON after a space is fine, but…
		`42+1["echo","x"]`,                // a sign
		`42０["echo","x"]`,                 // a full-width digit
		`4290071992547409931["echo","x"]`, // 19 digits
		`43["x"]`,                         // an ACK without an id
	} {
		t.Run(msg, func(t *testing.T) {
			ws := joined(t, url)
			writeText(t, ws, msg)
			if msg == `4212 ["echo","x"]` { // valid: JSON may start with spaces
				if got := readText(t, ws); got != `4312["x"]` {
					t.Fatalf("reply = %q", got)
				}
				return
			}
			closedFor(t, expectClosed(t, ws), websocket.StatusPolicyViolation, server.ReasonParseError)
			stillServes(t, good)
		})
	}
	waitLog(t, logs, "invalid packet")
}

// Attachment counts that do not match the binary messages that follow.
func TestBadInputAttachmentMismatch(t *testing.T) {
	t.Parallel()
	srv, url, logs, good := echoServer(t, nil)
	got := make(chan string, 8)
	srv.OnConnection(func(s *server.Socket) {
		s.On("x", func(a shared.Args, _ shared.AckFunc) error {
			got <- fmt.Sprintf("%d args, %d attachments", a.Len(), len(a.Buffers()))
			return nil
		})
	})
	ph := `{"_placeholder":true,"num":0}`

	for _, tc := range []struct {
		name string
		send func(*websocket.Conn) error
		log  string
	}{
		{"more binary messages than announced", seq(text(`451-["y",`+ph+`]`), bin("a"), bin("b")), "binary message without a binary packet"},
		{"no attachment count", text(`45-["y",` + ph + `]`), "attachment count"},
		{"a count of zero", text(`450-["x"]`), "attachments"},
		{"a count that is not a number", text(`45a-["y",` + ph + `]`), "attachment count"},
		{"a count without its dash", text(`451["y",` + ph + `]`), "attachment count"},
		{"a huge count", text(`4599999999999999999999-["y",` + ph + `]`), "attachment count"},
		{"an ACK with too many", text(`4611-1[` + ph + `]`), "attachments"},
		{"a binary packet interrupted by an event", seq(text(`452-["y",`+ph+`,{"_placeholder":true,"num":1}]`), bin("a"), text(`42["y"]`)), "binary attachments were expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := joined(t, url)
			_ = tc.send(ws)
			expectClosed(t, ws)
			waitLog(t, logs, tc.log)
			stillServes(t, good)
		})
	}

	// Fewer binary messages than announced, then the client goes away: the
	// handler never runs with a partial packet.
	ws := joined(t, url)
	_ = seq(text(`452-["x",`+ph+`,{"_placeholder":true,"num":1}]`), bin("a"))(ws)
	ws.CloseNow()
	// Its socket leaves "/" once the connection is torn down, after its
	// dispatcher ended: a handler run for it would be in got by then.
	wait.For(t, "the partial sender torn down", func() bool { return len(srv.Of("/").Sockets()) == 1 })
	// Engine.IO packets between the parts belong to another layer: fine.
	ws = joined(t, url)
	_ = seq(text(`451-["x",`+ph+`]`), text("3"), text("6"), bin("a"))(ws)
	if g := recv(t, got); g != "1 args, 1 attachments" {
		t.Errorf("handler got %s", g)
	}
	// More attachments than placeholders: the packet is whole once all
	// announced messages have come; the extra one is unused.
	_ = seq(text(`452-["x",`+ph+`]`), bin("a"), bin("b"))(ws)
	if g := recv(t, got); g != "1 args, 2 attachments" {
		t.Errorf("handler got %s", g)
	}
	// A barrier: handlers run in order, so once this one has run, any
	// handler the extra attachment could have started has too.
	writeText(t, ws, `42["x","barrier"]`)
	if g := recv(t, got); g != "1 args, 0 attachments" {
		t.Errorf("handler got %s, want the barrier's", g)
	}
	select {
	case g := <-got:
		t.Errorf("handler ran for an incomplete packet: %s", g)
	default:
	}
	stillServes(t, good)
}

// One socket joins 10,000 rooms. Rooms are the application's business, so
// the server sets no limit; what it owes is that joins stay cheap, memory
// stays in proportion, broadcasts still reach each socket once, and every
// room is freed when the socket leaves.
func TestBadInputTenThousandRooms(t *testing.T) {
	// Not parallel: it measures the heap.
	srv, url, _, good := echoServer(t, nil)
	const rooms = 10_000
	srv.OnConnection(func(s *server.Socket) {
		s.On("join", func(a shared.Args, _ shared.AckFunc) error {
			var r string
			if err := a.Decode(0, &r); err != nil {
				return err
			}
			s.Join(r)
			return nil
		})
		s.On("count", func(_ shared.Args, ack shared.AckFunc) error { return ack(len(s.Rooms())) })
	})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	ws := joined(t, url)
	begin := time.Now()
	for i := range rooms {
		writeText(t, ws, fmt.Sprintf(`42["join","room-%d"]`, i))
	}
	writeText(t, ws, `421["count"]`)
	if got, want := readText(t, ws), fmt.Sprintf(`431[%d]`, rooms+1); got != want { // its own room too
		t.Fatalf("count = %q, want %q", got, want)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("%d joins took %v", rooms, d)
	}
	grown := int64(heap()) - int64(before)
	t.Logf("%d rooms: heap grew by %d KiB", rooms, grown/1024)
	if grown > 32<<20 {
		t.Errorf("%d rooms grew the heap by %d MiB", rooms, grown>>20)
	}

	// A broadcast to one of them, and to a hundred of them, arrives once.
	if err := srv.To("room-9999").Emit("one"); err != nil {
		t.Fatal(err)
	}
	many := make([]string, 100)
	for i := range many {
		many[i] = "room-" + strconv.Itoa(i)
	}
	if err := srv.To(many...).Emit("many"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Emit("all"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`42["one"]`, `42["many"]`, `42["all"]`} {
		if got := readText(t, ws); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	stillServes(t, good)

	// Leaving frees every room.
	writeText(t, ws, "41")
	wait.For(t, "the rooms to let the socket go after it left", func() bool {
		return len(srv.To(many...).Sockets()) == 0 && len(srv.To("room-9999").Sockets()) == 0
	})
	if n := len(srv.Of("/").Sockets()); n != 1 {
		t.Errorf("%d sockets left in /, want the good client only", n)
	}
	stillServes(t, good)
}

// A panicking middleware must refuse the connection, not wave it through:
// an auth payload that crashes the check is no pass.
func TestBadInputAuthThatPanicsMiddleware(t *testing.T) {
	t.Parallel()
	srv, url, logs, good := echoServer(t, nil)
	guarded := srv.Of("/guarded")
	connected := make(chan string, 1)
	guarded.Use(func(s *server.Socket) error {
		var auth map[string]any
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		_ = auth["token"].(string) // panics when the token is missing or not a string
		return nil
	})
	guarded.OnConnection(func(s *server.Socket) {
		select {
		case connected <- s.ID():
		default:
		}
	})
	for _, auth := range []string{`{"token":42}`, `{}`, ``} {
		ws := rawDial(t, url)
		readText(t, ws)
		writeText(t, ws, "40/guarded,"+auth)
		if got := readText(t, ws); !strings.HasPrefix(got, "44/guarded,") {
			t.Errorf("auth %q: reply %q, want a CONNECT_ERROR", auth, got)
		}
	}
	select {
	case id := <-connected:
		t.Errorf("socket %s connected although the middleware panicked", id)
	default:
	}
	waitLog(t, logs, "panicked")
	stillServes(t, good)
}

// rawWebSocket does the opening handshake on a bare TCP connection, for
// frames a WebSocket library would not send.
func rawWebSocket(t *testing.T, url string, header http.Header) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), wait.Deadline())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(wait.Deadline()))
	var key [16]byte
	rand.Read(key[:])
	req, _ := http.NewRequest("GET", url+"/socket.io/?EIO=4&transport=websocket", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key[:]))
	for k, v := range header {
		req.Header[k] = v
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	return conn, br
}

// readUntilClose reads frames until a close frame and returns its code and
// reason, or fails the test.
func readUntilClose(t *testing.T, r *bufio.Reader) (websocket.StatusCode, string) {
	t.Helper()
	for range 100 {
		first, payload, err := server.ReadServerFrame(r)
		if err != nil {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
		if first&0x0f == 0x8 {
			if len(payload) < 2 {
				return websocket.StatusNoStatusRcvd, ""
			}
			return websocket.StatusCode(int(payload[0])<<8 | int(payload[1])), string(payload[2:])
		}
	}
	t.Fatal("no close frame in 100 frames")
	return 0, ""
}

// Frames that break RFC 6455 close the connection with 1002.
func TestBadInputFrames(t *testing.T) {
	t.Parallel()
	_, url, logs, good := echoServer(t, nil)
	for _, tc := range []struct {
		name    string
		first   byte
		payload []byte
	}{
		// Compression was not negotiated, so RSV1 (a compressed message) is illegal.
		{"a compressed frame without permessage-deflate", 0x80 | 0x40 | 0x1, []byte{0x33, 0x31, 0x02, 0x00}},
		{"RSV2 set", 0x80 | 0x20 | 0x1, []byte("40")},
		{"an unknown opcode", 0x80 | 0x3, []byte("40")},
		{"a fragmented ping", 0x9, nil},
		{"a continuation with nothing to continue", 0x80, []byte("40")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, br := rawWebSocket(t, url, nil)
			if _, _, err := server.ReadServerFrame(br); err != nil { // open packet
				t.Fatal(err)
			}
			if err := server.WriteClientFrame(conn, tc.first, tc.payload); err != nil {
				t.Fatal(err)
			}
			if code, reason := readUntilClose(t, br); code != websocket.StatusProtocolError {
				t.Errorf("close %d %q, want 1002 (protocol error)", code, reason)
			}
			stillServes(t, good)
		})
	}
	waitLog(t, logs, "read failed")
}

// RFC 6455 §8.1: text that is not UTF-8 fails the connection, with 1007.
func TestBadInputInvalidUTF8(t *testing.T) {
	t.Parallel()
	_, url, _, good := echoServer(t, nil)
	for _, msg := range []string{
		"421[\"echo\",\"\xff\xfe\"]",     // invalid bytes in a string
		"421[\"echo\",\"\xed\xa0\x80\"]", // an encoded surrogate
		"421[\"echo\",\"\xc0\xaf\"]",     // an overlong encoding
		"421[\"ech\xf0\x9f\"]",           // a truncated sequence in the event name
	} {
		t.Run(fmt.Sprintf("%q", msg), func(t *testing.T) {
			ws := joined(t, url)
			writeText(t, ws, msg)
			_ = ws.Write(context.Background(), websocket.MessageText, []byte(`429["echo","next"]`))
			ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
			defer cancel()
			if _, b, err := ws.Read(ctx); err == nil {
				t.Errorf("the connection is still open: the server answered %q", b)
			} else if websocket.CloseStatus(err) != websocket.StatusInvalidFramePayloadData {
				t.Errorf("closed with %v, want status 1007 (invalid frame payload data)", err)
			}
			stillServes(t, good)
		})
	}
}

// A small compressed frame that inflates past maxPayload: the server stops
// inflating at the limit and closes with 1009, whatever the frame's size.
func TestBadInputDeflateBomb(t *testing.T) {
	t.Parallel()
	_, url, _, good := echoServer(t, &server.Options{Compression: true})
	conn, br := rawWebSocket(t, url, http.Header{
		"Sec-WebSocket-Extensions": {"permessage-deflate; client_no_context_takeover; server_no_context_takeover"},
	})
	if _, _, err := server.ReadServerFrame(br); err != nil { // open packet
		t.Fatal(err)
	}
	// 4 MB of JSON text in one message, compressed as RFC 7692 says: raw
	// deflate without the final empty block's 00 00 ff ff.
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.DefaultCompression)
	fw.Write([]byte(`42["echo","`))
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for range 4 {
		fw.Write(chunk)
	}
	fw.Write([]byte(`"]`))
	fw.Flush()
	payload := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
	if len(payload) > 20_000 {
		t.Fatalf("test bug: the compressed frame has %d bytes", len(payload))
	}
	t.Logf("a frame of %d bytes that inflates to 4 MB", len(payload))
	if err := server.WriteClientFrame(conn, 0x80|0x40|0x1, payload); err != nil { // FIN, RSV1 (compressed), text
		t.Fatal(err)
	}
	if code, reason := readUntilClose(t, br); code != websocket.StatusMessageTooBig {
		t.Errorf("close %d %q, want 1009 (message too big)", code, reason)
	}
	stillServes(t, good)
}

// Handshakes that break RFC 6455 get a 4xx and never reach a socket.
func TestBadInputHandshakeHeaders(t *testing.T) {
	t.Parallel()
	srv, url, logs, good := echoServer(t, nil)
	connected := make(chan struct{}, 8)
	goodID := good.ID() // its connection handlers may still be running
	srv.OnConnection(func(s *server.Socket) {
		if s.ID() != goodID {
			connected <- struct{}{}
		}
	})
	goodKey := "dGhlIHNhbXBsZSBub25jZQ=="
	for _, tc := range []struct {
		name    string
		header  map[string][]string
		status  int
		version bool // the response must say Sec-WebSocket-Version: 13
	}{
		{"a key that is not base64", map[string][]string{"Sec-WebSocket-Key": {"!!not base64!!"}}, 400, false},
		{"a key of 15 bytes", map[string][]string{"Sec-WebSocket-Key": {base64.StdEncoding.EncodeToString(make([]byte, 15))}}, 400, false},
		{"a key of 17 bytes", map[string][]string{"Sec-WebSocket-Key": {base64.StdEncoding.EncodeToString(make([]byte, 17))}}, 400, false},
		{"no key", map[string][]string{"Sec-WebSocket-Key": nil}, 400, false},
		{"two keys", map[string][]string{"Sec-WebSocket-Key": {goodKey, goodKey}}, 400, false},
		{"version 8", map[string][]string{"Sec-WebSocket-Version": {"8"}}, 400, true},
		{"version 14", map[string][]string{"Sec-WebSocket-Version": {"14"}}, 400, true},
		{"version 13 twice", map[string][]string{"Sec-WebSocket-Version": {"13, 13"}}, 400, true},
		{"no version", map[string][]string{"Sec-WebSocket-Version": nil}, 400, true},
		{"no Upgrade", map[string][]string{"Upgrade": nil}, 400, false}, // a GET for transport=websocket: code 3, as from Node
		{"no Connection: Upgrade", map[string][]string{"Connection": {"keep-alive"}}, 426, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", url+"/socket.io/?EIO=4&transport=websocket", nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", goodKey)
			for k, v := range tc.header {
				if v == nil {
					req.Header.Del(k)
				} else {
					req.Header[k] = v
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode == http.StatusSwitchingProtocols {
				resp.Body.Close()
				t.Fatal("accepted")
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, bytes.TrimSpace(body), tc.status)
			}
			if v := resp.Header.Get("Sec-WebSocket-Version"); tc.version && v != "13" {
				t.Errorf("Sec-WebSocket-Version: %q, want 13", v)
			}
			stillServes(t, good)
		})
	}
	select {
	case <-connected:
		t.Error("a socket connected through a bad handshake")
	default:
	}
	waitLog(t, logs, "websocket handshake refused")
}

// Cross-origin handshakes are refused with 403 unless OriginPatterns allow them.
func TestBadInputCrossOrigin(t *testing.T) {
	t.Parallel()
	_, url, logs, good := echoServer(t, &server.Options{OriginPatterns: []string{"good.example"}})
	host := strings.TrimPrefix(url, "http://")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"http://evil.example", false},
		{"null", false},
		{"http://" + host + ".evil.example", false},
		{"http://evil.example/" + host, false},
		{"http://[::1", false}, // not a URL
		{"http://good.example.evil.example", false},
		{"http://good.example", true},
		{"http://" + host, true},
		{"", true}, // not a browser
	} {
		t.Run(tc.origin, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
			defer cancel()
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			ws, resp, err := websocket.Dial(ctx, "ws://"+host+"/socket.io/?EIO=4&transport=websocket", &websocket.DialOptions{HTTPHeader: h})
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				ws.CloseNow()
				return
			}
			if err == nil {
				ws.CloseNow()
				t.Fatal("accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("refused with %v, want HTTP 403", err)
			}
			stillServes(t, good)
		})
	}
	waitLog(t, logs, "origin not allowed")
}

// Query values that are object keys in JavaScript are just unknown transports.
func TestBadInputTransportNames(t *testing.T) {
	t.Parallel()
	_, url, _, good := echoServer(t, nil)
	for _, q := range []string{
		"transport=__proto__", "transport=constructor", "transport=toString", "transport=hasOwnProperty",
		"transport[]=websocket", "transport[__proto__]=websocket", "transport=WEBSOCKET", "transport=websocket%00",
		"transport=" + strings.Repeat("x", 4000),
	} {
		resp, err := http.Get(url + "/socket.io/?EIO=4&" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"code":0`) {
			t.Errorf("%.60s: %d %s, want 400 with code 0", q, resp.StatusCode, body)
		}
	}
	stillServes(t, good)
}

// An h2c upgrade (RFC 7540 §3.2) is not a WebSocket upgrade: refused with
// 400 (code 3, as from Node), the connection stays HTTP/1.1. So is HTTP/2's connection preface.
func TestBadInputH2C(t *testing.T) {
	t.Parallel()
	srv, url, _, good := echoServer(t, nil)
	connected := make(chan struct{}, 1)
	goodID := good.ID() // its connection handlers may still be running
	srv.OnConnection(func(s *server.Socket) {
		if s.ID() != goodID {
			connected <- struct{}{}
		}
	})
	for _, tc := range []struct {
		name, request string
		status        int
	}{
		{"Upgrade: h2c", "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n" +
			"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", 400},
		{"Upgrade: h2c, websocket without the WebSocket headers", "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n" +
			"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c, websocket\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", 400},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), wait.Deadline())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(wait.Deadline()))
			if _, err := io.WriteString(conn, tc.request); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.ProtoMajor != 1 {
				t.Errorf("%s %s, want HTTP/1.1 %d", resp.Proto, resp.Status, tc.status)
			}
			stillServes(t, good)
		})
	}
	select {
	case <-connected:
		t.Error("an h2c request reached a socket")
	default:
	}
}

// startHTTPServer serves srv the way internal/devserver does: through an
// http.Server with MaxHeaderBytes 1 MiB and a ReadHeaderTimeout (shortened
// here).
func startHTTPServer(t *testing.T, h http.Handler, readHeaderTimeout time.Duration) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(h)
	hs.Config.MaxHeaderBytes = 1 << 20
	hs.Config.ReadHeaderTimeout = readHeaderTimeout
	hs.Start()
	t.Cleanup(hs.Close)
	return hs.URL
}

// Over 1 MiB of headers: 431, and the handler never runs.
func TestBadInputHugeHeaders(t *testing.T) {
	t.Parallel()
	srv, _, _, good := echoServer(t, nil)
	var reached atomic.Int32
	url := startHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		srv.ServeHTTP(w, r)
	}), 5*time.Second)
	for _, tc := range []struct {
		name   string
		header string
	}{
		{"one 2 MiB header", "X-Big: " + strings.Repeat("a", 2<<20) + "\r\n"},
		{"40,000 small headers", strings.Repeat("X-Many: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", 40_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), wait.Deadline())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(wait.Deadline()))
			// The server answers before it has read everything: write in
			// the background and read the answer.
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.WriteString(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"+
					"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"+
					"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+tc.header+"\r\n")
			}()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			conn.Close()
			wg.Wait()
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("status %s, want 431", resp.Status)
			}
			stillServes(t, good)
		})
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("%d oversized requests reached the handler", n)
	}
}

// A client that sends its headers a byte at a time is cut off at
// ReadHeaderTimeout, without an answer.
func TestBadInputSlowHeaders(t *testing.T) {
	t.Parallel()
	srv, _, _, good := echoServer(t, nil)
	const timeout = 300 * time.Millisecond
	url := startHTTPServer(t, srv, timeout)
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), wait.Deadline())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begin := time.Now()
	type end struct {
		err error
		at  time.Time
	}
	closed := make(chan end, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(wait.Deadline()))
		_, err := io.ReadAll(conn)
		closed <- end{err, time.Now()}
	}()
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200)
	cut := false
	for i := 0; i < len(req) && !cut; i++ {
		if _, err := conn.Write([]byte{req[i]}); err != nil {
			break // cut off
		}
		// A byte every 20 ms: the pace of the slow client, not a wait.
		select {
		case e := <-closed:
			closed <- e
			cut = true
		case <-time.After(20 * time.Millisecond):
		}
	}
	e := wait.Recv(t, "the slow client cut off", closed)
	// What the server guarantees is that it ends the connection, without an
	// answer, once ReadHeaderTimeout has passed. How the client sees that
	// end is the kernel's choice: EOF when the server's socket closed with
	// nothing unread, a reset (ECONNRESET) when a byte the client sent after
	// the server stopped reading was still in it (RFC 2525 §2.17). Both are
	// the end; only a timeout (the connection lived on) is a failure.
	var ne net.Error
	if errors.As(e.err, &ne) && ne.Timeout() {
		t.Fatalf("read: %v: the slow client was not cut off", e.err)
	}
	// Not before ReadHeaderTimeout; after it, as soon as a loaded machine
	// gets to it.
	if d := e.at.Sub(begin); d < timeout-50*time.Millisecond || d > timeout+2*time.Second*time.Duration(wait.Scale()) {
		t.Errorf("cut off after %v, want about ReadHeaderTimeout = %v", d, timeout)
	}
	stillServes(t, good)
}
