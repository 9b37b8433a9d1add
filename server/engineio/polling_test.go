package engineio

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/leak"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
)

func TestMain(m *testing.M) {
	testenv.Require(testenv.NeedNode, testenv.NeedNodeModules) // TestOfficialClientUpgrade
	leak.VerifyTestMain(m)
}

// echoServer starts an Engine.IO echo server on loopback; closes records
// every close reason.
type echoServer struct {
	eio    *Server
	url    string // http://127.0.0.1:port/engine.io/
	mu     sync.Mutex
	closes []string
}

func newEcho(t *testing.T, opts *Options) *echoServer {
	t.Helper()
	e := &echoServer{eio: NewServer(opts)}
	e.eio.OnConnection(func(s *Session) {
		s.OnMessage(func(data []byte, binary bool) {
			_ = s.Send(append([]byte(nil), data...), binary)
		})
		s.OnClose(func(reason string) {
			e.mu.Lock()
			e.closes = append(e.closes, reason)
			e.mu.Unlock()
		})
	})
	ts := httptest.NewServer(e.eio)
	e.url = ts.URL + "/engine.io/"
	t.Cleanup(func() {
		e.eio.Close()
		ts.CloseClientConnections()
		ts.Close()
	})
	return e
}

func (e *echoServer) closeReasons() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.closes...)
}

// waitReasons waits until the sessions closed with exactly these reasons
// (OnClose runs after Done is closed).
func (e *echoServer) waitReasons(t *testing.T, want ...string) {
	t.Helper()
	wait.For(t, fmt.Sprintf("close reasons %v", want), func() bool {
		return strings.Join(e.closeReasons(), ",") == strings.Join(want, ",")
	})
}

var client = &http.Client{Timeout: wait.Deadline()}

func do(t *testing.T, method, url, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading: %v", method, url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// handshake opens a polling session and returns its open packet and the
// URL of its requests.
func handshake(t *testing.T, base string) (openPacket, string) {
	t.Helper()
	op, u, rest := handshakeRecords(t, base)
	if len(rest) > 0 {
		t.Fatalf("handshake: the open packet and %d more records", len(rest))
	}
	return op, u
}

// handshakeRecords is handshake for a server whose OnConnection sends: the
// handshake's answer is a payload, the open packet first, then what was
// queued meanwhile, returned as records.
func handshakeRecords(t *testing.T, base string) (openPacket, string, []string) {
	t.Helper()
	status, body, _ := do(t, "GET", base+"?EIO=4&transport=polling", "")
	if status != 200 || !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	recs := strings.Split(body, "\x1e")
	var op openPacket
	if err := json.Unmarshal([]byte(recs[0][1:]), &op); err != nil {
		t.Fatalf("open packet %q: %v", recs[0], err)
	}
	return op, base + "?EIO=4&transport=polling&sid=" + op.SID, recs[1:]
}

func TestHandshakePolling(t *testing.T) {
	e := newEcho(t, &Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	status, body, h := do(t, "GET", e.url+"?EIO=4&transport=polling&t=x", "")
	if status != 200 || h.Get("Content-Type") != "text/plain; charset=UTF-8" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("handshake: %d %q %v", status, body, h)
	}
	if strings.ContainsRune(body, recordSeparator) || body[0] != '0' {
		t.Fatalf("handshake body %q: want the open packet alone", body)
	}
	var keys map[string]any
	if err := json.Unmarshal([]byte(body[1:]), &keys); err != nil {
		t.Fatal(err)
	}
	want := `{"maxPayload":1000000,"pingInterval":300,"pingTimeout":200,"sid":"","upgrades":["websocket"]}`
	keys["sid"] = ""
	if got, _ := json.Marshal(keys); string(got) != want {
		t.Fatalf("open packet %s, want %s", got, want)
	}
	if h.Get("Set-Cookie") != "" {
		t.Fatalf("a cookie without the Cookie option: %q", h.Get("Set-Cookie"))
	}

	// No upgrade offered when upgrades are off or websocket is not a transport.
	for _, o := range []*Options{{AllowUpgrades: Bool(false)}, {Transports: []string{Polling}}} {
		e := newEcho(t, o)
		op, _ := handshake(t, e.url)
		if op.Upgrades == nil || len(op.Upgrades) != 0 {
			t.Fatalf("%+v: upgrades %v, want []", o, op.Upgrades)
		}
	}
}

func TestCookie(t *testing.T) {
	e := newEcho(t, &Options{Cookie: &Cookie{}})
	_, body, h := do(t, "GET", e.url+"?EIO=4&transport=polling", "")
	var op openPacket
	_ = json.Unmarshal([]byte(body[1:]), &op)
	if got, want := h.Get("Set-Cookie"), "io="+op.SID+"; Path=/; HttpOnly; SameSite=Lax"; got != want {
		t.Fatalf("Set-Cookie %q, want %q", got, want)
	}
	// Only the handshake carries it.
	_, _, h = do(t, "POST", e.url+"?EIO=4&transport=polling&sid="+op.SID, "4x")
	if h.Get("Set-Cookie") != "" {
		t.Fatalf("Set-Cookie on a POST: %q", h.Get("Set-Cookie"))
	}
}

func TestEchoPolling(t *testing.T) {
	e := newEcho(t, nil)
	_, u := handshake(t, e.url)
	for _, payload := range []string{"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "bAA==\x1e4é"} {
		status, body, h := do(t, "POST", u, payload)
		if status != 200 || body != "ok" || h.Get("Content-Type") != "text/html" {
			t.Fatalf("POST %q: %d %q %v", payload, status, body, h)
		}
		status, body, _ = do(t, "GET", u, "")
		if status != 200 || body != payload {
			t.Fatalf("GET after POST %q: %d %q", payload, status, body)
		}
	}
}

// TestEchoBinaryServerSide: messages sent with Send reach the GET encoded.
func TestSendPolling(t *testing.T) {
	eio := NewServer(nil)
	sessions := make(chan *Session, 1)
	eio.OnConnection(func(s *Session) { sessions <- s })
	ts := httptest.NewServer(eio)
	defer ts.Close()
	defer eio.Close()
	_, u := handshake(t, ts.URL+"/")
	s := wait.Recv(t, "session", sessions)
	if s.Transport() != Polling {
		t.Fatalf("Transport() = %q", s.Transport())
	}
	_ = s.SendText("a")
	_ = s.SendBinary([]byte{1, 2, 3, 4})
	_ = s.SendText("b")
	if _, body, _ := do(t, "GET", u, ""); body != "4a\x1ebAQIDBA==\x1e4b" {
		t.Fatalf("GET %q", body)
	}
	// A held GET returns when a message is sent.
	got := make(chan string, 1)
	go func() { _, body, _ := do(t, "GET", u, ""); got <- body }()
	wait.For(t, "GET held", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.getHeld })
	_ = s.SendText("late")
	if body := wait.Recv(t, "held GET", got); body != "4late" {
		t.Fatalf("held GET %q", body)
	}
	// Close: the next GET gets what was queued, the one after it the close
	// packet (as from engine.io: socket.io-client would handle a close in
	// the same payload before the packets), then the sid is unknown.
	_ = s.SendText("last")
	s.Close()
	if _, body, _ := do(t, "GET", u, ""); body != "4last" {
		t.Fatalf("GET after Close %q", body)
	}
	if _, body, _ := do(t, "GET", u, ""); body != "1" {
		t.Fatalf("second GET after Close %q", body)
	}
	if status, _, _ := do(t, "GET", u, ""); status != 400 {
		t.Fatalf("GET after the close packet: %d", status)
	}
	if s.Send([]byte("x"), false) != ErrClosed {
		t.Fatal("Send after Close")
	}
}

func TestErrorCodes(t *testing.T) {
	e := newEcho(t, &Options{AllowRequest: func(r *http.Request) error {
		if r.URL.Query().Get("deny") != "" {
			return errors.New("denied")
		}
		return nil
	}})
	wsSID := func() string {
		c := dialWS(t, e.url+"?EIO=4&transport=websocket")
		t.Cleanup(func() { _ = c.CloseNow() })
		_, m := readWS(t, c)
		var op openPacket
		_ = json.Unmarshal(m[1:], &op)
		return op.SID
	}()
	_, u := handshake(t, e.url)
	for _, c := range []struct {
		method, query string
		hdr           []string
		status, code  int
		msg           string
	}{
		{"GET", "EIO=abc&transport=abc", nil, 400, 0, "Transport unknown"}, // transport before EIO
		{"GET", "EIO=4", nil, 400, 0, "Transport unknown"},
		{"GET", "EIO=4&transport=polling&sid=nope", nil, 400, 1, "Session ID unknown"},
		{"POST", "EIO=4&transport=polling", nil, 400, 2, "Bad handshake method"},
		{"PUT", "EIO=4&transport=polling", nil, 400, 2, "Bad handshake method"},
		{"GET", "EIO=4&transport=websocket", nil, 400, 3, "Bad request"},            // no upgrade
		{"GET", "EIO=4&transport=polling&sid=" + wsSID, nil, 400, 3, "Bad request"}, // transport mismatch
		{"GET", "EIO=4&transport=polling&deny=1", nil, 403, 4, "denied"},            // AllowRequest
		{"GET", "EIO=4&transport=polling", []string{"Origin", "http://evil.example"}, 403, 4, "origin not allowed"},
		{"GET", "EIO=3&transport=polling", nil, 400, 5, "Unsupported protocol version"},
		{"GET", "transport=polling", nil, 400, 5, "Unsupported protocol version"},
		{"GET", "EIO=abc&transport=polling&deny=1", nil, 403, 4, "denied"}, // AllowRequest before EIO
	} {
		status, body, h := do(t, c.method, e.url+"?"+c.query, "", c.hdr...)
		want := fmt.Sprintf(`{"code":%d,"message":%q}`, c.code, c.msg)
		if status != c.status || body != want || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s ?%s: %d %s (%s), want %d %s", c.method, c.query, status, body, h.Get("Content-Type"), c.status, want)
		}
	}
	// Another method with a valid sid gets 500.
	if status, _, _ := do(t, "PUT", u, ""); status != 500 {
		t.Errorf("PUT with sid: %d, want 500", status)
	}
}

func TestCORS(t *testing.T) {
	e := newEcho(t, &Options{CORS: &CORS{Origins: []string{"http://app.example"}, Credentials: true}})
	_, _, h := do(t, "GET", e.url+"?EIO=4&transport=polling", "", "Origin", "http://app.example")
	if h.Get("Access-Control-Allow-Origin") != "http://app.example" || h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Vary") != "Origin" {
		t.Fatalf("CORS headers %v", h)
	}
	if status, _, _ := do(t, "GET", e.url+"?EIO=4&transport=polling", "", "Origin", "http://other.example"); status != 403 {
		t.Fatalf("other origin: %d", status)
	}
	status, _, h := do(t, "OPTIONS", e.url+"?EIO=4&transport=polling", "", "Origin", "http://app.example", "Access-Control-Request-Headers", "x-token")
	if status != 204 || h.Get("Access-Control-Allow-Headers") != "x-token" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", status, h)
	}
	// Same origin needs no CORS.
	e2 := newEcho(t, nil)
	host := strings.TrimPrefix(strings.TrimSuffix(e2.url, "/engine.io/"), "http://")
	if status, _, _ := do(t, "GET", e2.url+"?EIO=4&transport=polling", "", "Origin", "http://"+host); status != 200 {
		t.Fatalf("same origin: %d", status)
	}
	// A func decides.
	e3 := newEcho(t, &Options{CORS: &CORS{AllowOrigin: func(o string, _ *http.Request) bool { return strings.HasSuffix(o, ".ok") }}})
	if status, _, _ := do(t, "GET", e3.url+"?EIO=4&transport=polling", "", "Origin", "http://a.ok"); status != 200 {
		t.Fatalf("func origin: %d", status)
	}
	if status, _, _ := do(t, "GET", e3.url+"?EIO=4&transport=polling", "", "Origin", "http://a.no"); status != 403 {
		t.Fatalf("func origin refused: %d", status)
	}
}

func sessionOf(t *testing.T, e *echoServer, sid string) *Session {
	t.Helper()
	s := e.eio.lookup(sid)
	if s == nil {
		t.Fatalf("no session %s", sid)
	}
	return s
}

func heldGET(t *testing.T, u string) <-chan string {
	got := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", u, nil)
		resp, err := client.Do(req)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	return got
}

func TestOverlappingGET(t *testing.T) {
	e := newEcho(t, nil)
	op, u := handshake(t, e.url)
	s := sessionOf(t, e, op.SID)
	first := heldGET(t, u)
	wait.For(t, "first GET held", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.getHeld })
	if status, _, _ := do(t, "GET", u+"&t=burst", ""); status != 400 {
		t.Fatalf("second GET: %d, want 400", status)
	}
	if got := wait.Recv(t, "first GET", first); got != "200 1" {
		t.Fatalf("first GET: %q, want the close packet", got)
	}
	if status, _, _ := do(t, "GET", u, ""); status != 400 {
		t.Fatalf("GET after overlap: %d", status)
	}
	wait.For(t, "close reason", func() bool { return strings.Join(e.closeReasons(), ",") == ReasonTransportError })
}

func TestOverlappingPOST(t *testing.T) {
	e := newEcho(t, &Options{PostTimeout: wait.Deadline()})
	op, u := handshake(t, e.url)
	s := sessionOf(t, e, op.SID)
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.Split(e.url, "/engine.io")[0], "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n4a", op.SID)
	wait.For(t, "first POST in flight", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.postBusy })
	if status, _, _ := do(t, "POST", u, "4b"); status != 400 {
		t.Fatalf("second POST: %d, want 400", status)
	}
	wait.For(t, "session closed", func() bool { return e.eio.Len() == 0 })
}

func TestCancelledGET(t *testing.T) {
	e := newEcho(t, nil)
	op, _ := handshake(t, e.url)
	s := sessionOf(t, e, op.SID)
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.Split(e.url, "/engine.io")[0], "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n", op.SID)
	wait.For(t, "GET held", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.getHeld })
	conn.Close()
	wait.Closed(t, "session closed", s.Done())
	e.waitReasons(t, ReasonTransportError)
}

func TestTooLarge(t *testing.T) {
	e := newEcho(t, &Options{MaxHTTPBufferSize: 100})
	op, u := handshake(t, e.url)
	if op.MaxPayload != 100 {
		t.Fatalf("maxPayload %d", op.MaxPayload)
	}
	if status, _, _ := do(t, "POST", u, "4"+strings.Repeat("x", 100)); status != 413 {
		t.Fatalf("POST over the limit: %d, want 413", status)
	}
	// The session stays, as in engine.io.
	if status, body, _ := do(t, "POST", u, "4"+strings.Repeat("x", 99)); status != 200 || body != "ok" {
		t.Fatalf("POST at the limit: %d %q", status, body)
	}
	// A body over the limit without Content-Length (chunked) too.
	req, _ := http.NewRequest("POST", u, io.MultiReader(strings.NewReader("4"), strings.NewReader(strings.Repeat("y", 200))))
	req.ContentLength = -1
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("chunked POST over the limit: %d", resp.StatusCode)
	}
}

func TestBadPayloads(t *testing.T) {
	e := newEcho(t, nil)
	for _, body := range []string{"abc", "", "4a\x1e\x1e4b", "bnot base64!", "9x", "2"} {
		_, u := handshake(t, e.url)
		if status, _, _ := do(t, "POST", u, body); status != 400 {
			t.Errorf("POST %q: %d, want 400", body, status)
		}
		if status, _, _ := do(t, "GET", u, ""); status != 400 {
			t.Errorf("GET after POST %q: %d, want 400", body, status)
		}
	}
	// An octet-stream body.
	_, u := handshake(t, e.url)
	if status, _, _ := do(t, "POST", u, "4x", "Content-Type", "application/octet-stream"); status != 400 {
		t.Errorf("octet-stream POST: %d", status)
	}
	wait.For(t, "every session closed", func() bool { return e.eio.Len() == 0 })
}

func TestClientClose(t *testing.T) {
	e := newEcho(t, nil)
	op, u := handshake(t, e.url)
	s := sessionOf(t, e, op.SID)
	held := heldGET(t, u)
	wait.For(t, "GET held", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.getHeld })
	if status, body, _ := do(t, "POST", u, "1"); status != 200 || body != "ok" {
		t.Fatalf("POST 1: %d %q", status, body)
	}
	if got := wait.Recv(t, "held GET", held); got != "200 6" {
		t.Fatalf("held GET %q, want noop", got)
	}
	if status, _, _ := do(t, "GET", u, ""); status != 400 {
		t.Fatalf("GET after close: %d", status)
	}
	e.waitReasons(t, ReasonTransportClose)

	// A GET that arrives just after the close packet gets the noop (it
	// was sent before it), once.
	_, u = handshake(t, e.url)
	if status, body, _ := do(t, "POST", u, "1"); status != 200 || body != "ok" {
		t.Fatalf("POST 1: %d %q", status, body)
	}
	if status, body, _ := do(t, "GET", u, ""); status != 200 || body != "6" {
		t.Fatalf("GET after the close packet: %d %q, want the noop", status, body)
	}
	if status, _, _ := do(t, "GET", u, ""); status != 400 {
		t.Fatalf("second GET after close: %d", status)
	}
}

func TestHeartbeatPolling(t *testing.T) {
	e := newEcho(t, &Options{PingInterval: 50 * time.Millisecond, PingTimeout: wait.Deadline()})
	_, u := handshake(t, e.url)
	for i := 0; i < 3; i++ {
		if status, body, _ := do(t, "GET", u, ""); status != 200 || body != "2" {
			t.Fatalf("poll %d: %d %q, want a ping alone", i, status, body)
		}
		if status, _, _ := do(t, "POST", u, "3"); status != 200 {
			t.Fatalf("pong %d: %d", i, status)
		}
	}
}

// TestExpiry: sessions that never poll again end at pingInterval +
// pingTimeout, and the table empties.
func TestExpiry(t *testing.T) {
	e := newEcho(t, &Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	const n = 1000
	start := time.Now()
	var last string
	for i := 0; i < n; i++ {
		_, last = handshake(t, e.url)
	}
	wait.For(t, "every session expired", func() bool { return e.eio.Len() == 0 })
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("expired after %v, before pingInterval + pingTimeout", d)
	}
	wait.For(t, "every OnClose", func() bool { return len(e.closeReasons()) == n })
	for _, r := range e.closeReasons() {
		if r != ReasonPingTimeout {
			t.Fatalf("close reason %q", r)
		}
	}
	if status, _, _ := do(t, "GET", last, ""); status != 400 {
		t.Fatalf("GET of an expired session: %d", status)
	}
}

// TestSlowPOST: a body that does not arrive within PostTimeout closes the
// session and the request.
func TestSlowPOST(t *testing.T) {
	e := newEcho(t, &Options{PostTimeout: 100 * time.Millisecond})
	op, _ := handshake(t, e.url)
	s := sessionOf(t, e, op.SID)
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.Split(e.url, "/engine.io")[0], "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n4abc", op.SID)
	wait.Closed(t, "session closed", s.Done())
	_ = conn.SetReadDeadline(time.Now().Add(wait.Deadline()))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("response to the slow POST: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("slow POST: %d", resp.StatusCode)
	}
	e.waitReasons(t, ReasonTransportError)
}

// FuzzDecodePayload: any body decodes without a panic, and a body made by
// encodePayload decodes back to its packets.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello", "4a\x1ebAQID\x1e3", "", "\x1e", "b", "b=", "4\x1e", "9", "bAQIDBA==\x1e1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pkts, err := decodePayload(body)
		if err != nil {
			return
		}
		again, err := decodePayload(encodePayload(pkts))
		if err != nil || len(again) != len(pkts) {
			t.Fatalf("%q: re-encoded packets decode to %v, %v", body, again, err)
		}
		for i := range pkts {
			if again[i].typ != pkts[i].typ || string(again[i].data) != string(pkts[i].data) || again[i].binary != pkts[i].binary {
				t.Fatalf("%q: packet %d changed: %+v, %+v", body, i, pkts[i], again[i])
			}
		}
	})
}

// TestCompression: a GET body of 1024 bytes or more is gzipped (or
// deflated) when the client accepts it; smaller ones are not.
func TestCompression(t *testing.T) {
	e := newEcho(t, nil)
	_, u := handshake(t, e.url)
	big := "4" + strings.Repeat("x", 2000)
	for _, c := range []struct{ accept, payload, want string }{
		{"gzip, deflate", big, "gzip"},
		{"deflate", big, "deflate"},
		{"br", big, ""},
		{"gzip", "4small", ""},
	} {
		do(t, "POST", u, c.payload)
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept-Encoding", c.accept)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var rd io.Reader = resp.Body
		switch resp.Header.Get("Content-Encoding") {
		case "gzip":
			rd, err = gzip.NewReader(resp.Body)
		case "deflate":
			rd = flate.NewReader(resp.Body)
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rd)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Encoding"); got != c.want || err != nil || string(body) != c.payload {
			t.Fatalf("Accept-Encoding %q, %d bytes: encoding %q (want %q), %d bytes back, %v", c.accept, len(c.payload), got, c.want, len(body), err)
		}
	}
}

// TestHeadersAndInitialPacket: the Headers hook sees every response and
// knows the initial one; InitialPacket follows the open packet.
func TestHeadersAndInitialPacket(t *testing.T) {
	e := newEcho(t, &Options{
		InitialPacket: []byte("welcome"),
		Headers: func(h http.Header, r *http.Request, initial bool) {
			h.Set("X-Initial", fmt.Sprint(initial))
		},
	})
	_, body, h := do(t, "GET", e.url+"?EIO=4&transport=polling", "")
	if h.Get("X-Initial") != "true" || !strings.HasSuffix(body, "\x1e4welcome") {
		t.Fatalf("handshake: %v %q", h, body)
	}
	var op openPacket
	_ = json.Unmarshal([]byte(strings.Split(body, "\x1e")[0][1:]), &op)
	if _, _, h := do(t, "POST", e.url+"?EIO=4&transport=polling&sid="+op.SID, "4x"); h.Get("X-Initial") != "false" {
		t.Fatalf("POST: %v", h)
	}
}

// TestAbortedPOST: a POST whose client goes away mid-body closes the
// session.
func TestAbortedPOST(t *testing.T) {
	e := newEcho(t, &Options{PostTimeout: wait.Deadline()})
	op, _ := handshake(t, e.url)
	s := sessionOf(t, e, op.SID)
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.Split(e.url, "/engine.io")[0], "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n4abc", op.SID)
	wait.For(t, "POST in flight", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.postBusy })
	conn.Close()
	wait.Closed(t, "session closed", s.Done())
	e.waitReasons(t, ReasonTransportError)
}
