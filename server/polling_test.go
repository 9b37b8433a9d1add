package server

// Tests of the Socket.IO server over HTTP long-polling, with raw requests
// (net/http) and the official socket.io-client: Shutdown, connection state
// recovery, CORS, the sticky-session cookie and AllowRequest. The bad
// inputs are in polling_badinput_test.go; both use the helpers here.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server/engineio"
	"github.com/tsunagi/tsunagi/shared"
)

// pollLog collects a server's log.
type pollLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *pollLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *pollLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until the log says every one of words on one line.
func (l *pollLog) waitFor(t testing.TB, words ...string) {
	t.Helper()
	has := func() bool {
		for line := range strings.SplitSeq(l.String(), "\n") {
			all := true
			for _, w := range words {
				all = all && strings.Contains(line, w)
			}
			if all {
				return true
			}
		}
		return false
	}
	if !wait.Until(has) {
		s := l.String()
		if len(s) > 3000 {
			s = "…" + s[len(s)-3000:]
		}
		t.Errorf("the server's log has no line with %q:\n%s", words, s)
	}
}

var pollEcho = shared.NewRequest[string, string]("echo")

// pollEnv is a Server on a loopback httptest server, every socket of "/"
// answering "echo".
type pollEnv struct {
	srv  *Server
	hs   *httptest.Server
	url  string // http://127.0.0.1:port
	logs *pollLog
	tr   *http.Transport
	hc   *http.Client
	acks atomic.Int64
}

func startPolling(t testing.TB, o Options) *pollEnv {
	t.Helper()
	e := &pollEnv{logs: &pollLog{}}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	}
	e.srv = New(&o)
	e.srv.OnConnection(func(s *Socket) {
		pollEcho.Handle(s, func(in string) (string, error) { return in, nil })
	})
	e.hs = httptest.NewServer(e.srv)
	e.url = e.hs.URL
	e.tr = &http.Transport{MaxIdleConnsPerHost: 16}
	e.hc = &http.Client{Transport: e.tr, Timeout: wait.Deadline()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.hs.Close()
		e.tr.CloseIdleConnections()
	})
	return e
}

// sessions returns the Engine.IO sessions and the Socket.IO connections
// the server holds.
func (e *pollEnv) sessions() (eio, conns int) {
	e.srv.mu.Lock()
	conns = len(e.srv.conns)
	e.srv.mu.Unlock()
	return e.srv.eio.Len(), conns
}

// waitSessions waits until the server holds eio sessions and conns
// connections.
func (e *pollEnv) waitSessions(t testing.TB, eio, conns int) {
	t.Helper()
	var ge, gc int
	if !wait.Until(func() bool { ge, gc = e.sessions(); return ge == eio && gc == conns }) {
		t.Fatalf("the server holds %d sessions and %d connections, want %d and %d", ge, gc, eio, conns)
	}
}

// request sends one request to /socket.io/?EIO=4&transport=polling&query.
func (e *pollEnv) request(method, query, body string, header http.Header) (*http.Response, string, error) {
	var rd io.Reader
	if method == http.MethodPost {
		rd = strings.NewReader(body)
	}
	q := "EIO=4&transport=polling"
	if query != "" {
		q += "&" + query
	}
	req, err := http.NewRequest(method, e.url+"/socket.io/?"+q, rd)
	if err != nil {
		return nil, "", err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if method == http.MethodPost && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func (e *pollEnv) must(t testing.TB, method, query, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	resp, b, err := e.request(method, query, body, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, query, err)
	}
	return resp, b
}

// poller is a raw polling client of one session.
type poller struct {
	e   *pollEnv
	sid string
}

// handshake opens a polling session.
func (e *pollEnv) handshake(t testing.TB) *poller {
	t.Helper()
	resp, body := e.must(t, http.MethodGet, "", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %q", resp.StatusCode, body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(strings.Split(body, "\x1e")[0][1:]), &open); err != nil || open.SID == "" {
		t.Fatalf("open packet %q: %v", body, err)
	}
	return &poller{e: e, sid: open.SID}
}

func (p *poller) get(t testing.TB) (int, string) {
	t.Helper()
	resp, b := p.e.must(t, http.MethodGet, "sid="+p.sid, "", nil)
	return resp.StatusCode, b
}

func (p *poller) post(t testing.TB, body string) (int, string) {
	t.Helper()
	resp, b := p.e.must(t, http.MethodPost, "sid="+p.sid, body, nil)
	return resp.StatusCode, b
}

// until polls until a record has prefix, answering pings (every one of
// the payload, the match's too), and returns it.
func (p *poller) until(t testing.TB, prefix string) string {
	t.Helper()
	for range 100 {
		status, body := p.get(t)
		if status != http.StatusOK {
			t.Fatalf("GET: %d %q, waiting for %q", status, body, prefix)
		}
		found := ""
		for rec := range strings.SplitSeq(body, "\x1e") {
			switch {
			case found == "" && strings.HasPrefix(rec, prefix):
				found = rec
			case rec == "2":
				p.post(t, "3")
			case rec == "1":
				t.Fatalf("session closed while waiting for %q", prefix)
			}
		}
		if found != "" {
			return found
		}
	}
	t.Fatalf("no %q in 100 polls", prefix)
	return ""
}

// join joins "/".
func (p *poller) join(t testing.TB) {
	t.Helper()
	if status, body := p.post(t, "40"); status != http.StatusOK || body != "ok" {
		t.Fatalf("POST 40: %d %q", status, body)
	}
	p.until(t, "40{")
}

// echo round-trips msg through the server's "echo" handler.
func (p *poller) echo(t testing.TB, msg string) {
	t.Helper()
	id := p.e.acks.Add(1)
	if status, body := p.post(t, fmt.Sprintf(`42%d["echo",%q]`, id, msg)); status != http.StatusOK || body != "ok" {
		t.Fatalf("POST echo: %d %q", status, body)
	}
	if rec := p.until(t, fmt.Sprintf("43%d", id)); rec != fmt.Sprintf(`43%d[%q]`, id, msg) {
		t.Fatalf("echo reply %q", rec)
	}
}

// joinWebSocket opens a WebSocket session joined to "/".
func (e *pollEnv) joinWebSocket(t testing.TB) *websocket.Conn {
	t.Helper()
	return joinMain(t, "ws"+strings.TrimPrefix(e.url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
}

// wsEcho round-trips msg over a WebSocket joined to "/".
func (e *pollEnv) wsEcho(t testing.TB, ws *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	id := e.acks.Add(1)
	if err := ws.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `42%d["echo",%q]`, id, msg)); err != nil {
		t.Fatalf("WebSocket echo: %v", err)
	}
	want := fmt.Sprintf(`43%d[%q]`, id, msg)
	for range 100 {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("WebSocket echo: %v", err)
		}
		switch string(b) {
		case want:
			return
		case "2":
			_ = ws.Write(ctx, websocket.MessageText, []byte("3"))
		}
	}
	t.Fatalf("no %q in 100 messages", want)
}

// engineErr checks a refused request: its status and the JSON body
// {"code":code,"message":…} with message in it.
func engineErr(t testing.TB, resp *http.Response, body string, status, code int, message string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d (body %q)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Code    *int
		Message string
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Code == nil {
		t.Errorf("body %q is not an Engine.IO error: %v", body, err)
		return
	}
	if *e.Code != code || !strings.Contains(e.Message, message) {
		t.Errorf("error %d %q, want %d with %q", *e.Code, e.Message, code, message)
	}
}

// slowPost sends a POST for sid whose body stops after its first byte,
// on a connection of its own, and returns it.
func (e *pollEnv) slowPost(t testing.TB, sid string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", e.hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\n"+
		"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 100\r\n\r\n4", sid, e.hs.Listener.Addr())
	return c, bufio.NewReader(c)
}

// serving reports whether a goroutine runs in fn of package engineio.
func serving(fn string) bool {
	buf := make([]byte, 1<<22)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("server/engineio."+fn))
}

// TestPollingShutdown: Shutdown with a polling client holding a GET and
// another in the middle of a POST returns, with no error; the held GET
// gets the close packet, and neither session is left.
func TestPollingShutdown(t *testing.T) {
	e := startPolling(t, Options{})
	held, posting := e.handshake(t), e.handshake(t)
	held.join(t)
	posting.join(t)
	ws := e.joinWebSocket(t)
	e.waitSessions(t, 2, 3)

	got := make(chan string, 1)
	go func() {
		_, body, err := e.request(http.MethodGet, "sid="+held.sid, "", nil)
		if err != nil {
			body = err.Error()
		}
		got <- body
	}()
	conn, br := e.slowPost(t, posting.sid)
	// No other test runs meanwhile (this one is not parallel): the
	// handlers in pollGET and pollPOST are these two requests'.
	wait.For(t, "the GET held and the POST reading", func() bool {
		return serving("(*Session).pollGET") && serving("(*Session).pollPOST")
	})

	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	body := wait.Recv(t, "the held GET's answer", got)
	if !strings.HasSuffix(body, "1") {
		t.Errorf("the held GET got %q, want the close packet (1) last", body)
	}
	// The POST in flight is cut when its session closes, as engine.io
	// destroys it, not left to read its body until PostTimeout: had it
	// timed out, the server would have logged so before answering.
	_ = conn.SetReadDeadline(time.Now().Add(wait.Deadline()))
	line, err := br.ReadString('\n')
	if err == nil && !strings.HasPrefix(line, "HTTP/1.1 400") {
		t.Errorf("the POST in flight got %q", line)
	}
	if strings.Contains(e.logs.String(), "POST body not read in full") {
		t.Errorf("the POST in flight ran until PostTimeout after Shutdown:\n%s", e.logs.String())
	}
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("WebSocket client: %v, want a close with status 1001", err)
	}
	e.waitSessions(t, 0, 0)
	if resp, body, err := e.request(http.MethodGet, "", "", nil); err == nil && resp.StatusCode == http.StatusOK {
		t.Errorf("a handshake after Shutdown: %d %q", resp.StatusCode, body)
	}
}

const pollRecoveryJS = `"use strict";
const { io } = require("socket.io-client");
const out = (...a) => console.log(a.map((x) => typeof x === "string" ? x : JSON.stringify(x)).join(" "));
const socket = io(process.env.URL, { transports: ["polling"], reconnectionDelay: 100, reconnectionDelayMax: 200 });
const got = [];
socket.on("seq", (n) => got.push(n));
const connected = () => new Promise((ok) => socket.once("connect", ok));
const timeout = setTimeout(() => { out("timeout", got); process.exit(1); }, 15000);
(async () => {
  await connected();
  const first = socket.id;
  out("recovered", socket.recovered, socket.io.engine.transport.name);
  // The server sends seq 0 before the ack (recovery needs an offset),
  // and 1..3 once this socket is gone.
  await socket.emitWithAck("cut");
  socket.io.engine.close();
  await connected();
  out("recovered", socket.recovered, socket.io.engine.transport.name);
  out("same id", socket.id === first);
  await socket.emitWithAck("barrier");
  out("seq", got);
  clearTimeout(timeout);
  socket.disconnect();
})();
`

// TestPollingRecovery: the official socket.io-client on polling loses its
// session; what was broadcast meanwhile reaches it when it comes back, with
// socket.recovered and the same id.
func TestPollingRecovery(t *testing.T) {
	t.Parallel()
	e := startPolling(t, Options{Recovery: RecoveryOptions{MaxDisconnectionDuration: time.Minute}})
	e.srv.OnConnection(func(s *Socket) {
		if !s.Recovered() {
			s.Join("r")
		}
		s.On("cut", func(_ shared.Args, ack shared.AckFunc) error {
			_ = e.srv.To("r").Emit("seq", 0)
			s.OnDisconnect(func(string) {
				for i := 1; i <= 3; i++ {
					_ = e.srv.To("r").Emit("seq", i)
				}
			})
			return ack()
		})
		s.On("barrier", func(_ shared.Args, ack shared.AckFunc) error { return ack() })
	})
	script := filepath.Join(t.TempDir(), "recovery.js")
	if err := os.WriteFile(script, []byte(pollRecoveryJS), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	p := testenv.RunNode(t, ctx, script, "URL="+e.url)
	if err := p.Wait(); err != nil {
		t.Fatalf("recovery.js: %v\n%s", err, p.Output())
	}
	want := "recovered false polling\nrecovered true polling\nsame id true\nseq [0,1,2,3]\n"
	if got := p.Stdout(); got != want {
		t.Fatalf("client printed:\n%s\nwant:\n%s\n%s", got, want, p.Stderr())
	}
	e.waitSessions(t, 0, 0)
}

// TestPollingCORS: with CORS set, an allowed origin gets
// Access-Control-Allow-Origin on its handshake, its POST and its preflight;
// another origin is refused with code 4 (403), and logged.
func TestPollingCORS(t *testing.T) {
	t.Parallel()
	const allowed, other = "https://app.example.com", "https://evil.example.com"
	e := startPolling(t, Options{CORS: &engineio.CORS{Origins: []string{allowed}, Credentials: true}})
	h := http.Header{"Origin": {allowed}}

	resp, body := e.must(t, http.MethodGet, "", "", h)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != allowed ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("handshake from %s: %d %q %v", allowed, resp.StatusCode, body, resp.Header)
	}
	var open struct{ SID string }
	_ = json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open)
	resp, body = e.must(t, http.MethodPost, "sid="+open.SID, "40", h)
	if resp.StatusCode != http.StatusOK || body != "ok" || resp.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Errorf("POST from %s: %d %q %v", allowed, resp.StatusCode, body, resp.Header)
	}
	pre := http.Header{"Origin": {allowed}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"}}
	resp, _ = e.must(t, http.MethodOptions, "sid="+open.SID, "", pre)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != allowed ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight from %s: %d %v", allowed, resp.StatusCode, resp.Header)
	}

	for _, q := range []string{"", "sid=" + open.SID} {
		resp, body = e.must(t, http.MethodGet, q, "", http.Header{"Origin": {other}})
		engineErr(t, resp, body, http.StatusForbidden, engineio.CodeForbidden, "origin not allowed")
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("refused origin got Access-Control-Allow-Origin %q", v)
		}
	}
	e.logs.waitFor(t, "request refused", "code=4", other)
	// The refused requests closed nothing.
	p := &poller{e: e, sid: open.SID}
	p.until(t, "40{")
	p.echo(t, "after a refused origin")
	e.waitSessions(t, 1, 1)
}

// TestPollingCookie: with Options.Cookie the handshake of a polling
// session sets the io cookie to the sid; without it, none.
func TestPollingCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cookie *engineio.Cookie
		want   string // "" for none; SID replaced by the sid
	}{
		{"off", nil, ""},
		{"default", &engineio.Cookie{}, "io=SID; Path=/; HttpOnly; SameSite=Lax"},
		{"named", &engineio.Cookie{Name: "lb", Path: "/app", Secure: true}, "lb=SID; Path=/app; HttpOnly; Secure; SameSite=Lax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startPolling(t, Options{Cookie: tc.cookie})
			resp, body := e.must(t, http.MethodGet, "", "", nil)
			var open struct{ SID string }
			_ = json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open)
			got := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
			if want := strings.ReplaceAll(tc.want, "SID", open.SID); open.SID == "" || got != want {
				t.Errorf("Set-Cookie %q, want %q (body %q)", got, want, body)
			}
			// The cookie is the handshake's: a later GET sets none.
			p := &poller{e: e, sid: open.SID}
			p.post(t, "40")
			resp, _ = e.must(t, http.MethodGet, "sid="+open.SID, "", nil)
			if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
				t.Errorf("a later GET sets %q", v)
			}
		})
	}
}

// TestPollingAllowRequest: an AllowRequest that refuses gives 403, code 4
// and its error's text, on polling; the refusal is logged and leaves no
// session. Requests it lets through connect.
func TestPollingAllowRequest(t *testing.T) {
	t.Parallel()
	e := startPolling(t, Options{AllowRequest: func(r *http.Request) error {
		if r.Header.Get("X-Token") != "let-me-in" {
			return errors.New("a valid X-Token is required")
		}
		return nil
	}})
	resp, body := e.must(t, http.MethodGet, "", "", nil)
	engineErr(t, resp, body, http.StatusForbidden, engineio.CodeForbidden, "a valid X-Token is required")
	e.logs.waitFor(t, "request refused", "code=4", "a valid X-Token is required")
	e.waitSessions(t, 0, 0)

	resp, body = e.must(t, http.MethodGet, "", "", http.Header{"X-Token": {"let-me-in"}})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("allowed handshake: %d %q", resp.StatusCode, body)
	}
	var open struct{ SID string }
	_ = json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open)
	p := &poller{e: e, sid: open.SID}
	p.join(t) // requests with a sid are not asked again
	p.echo(t, "allowed")
}
