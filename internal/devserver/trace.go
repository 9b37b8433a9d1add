package devserver

// -trace: the protocol as it happens. The devserver ends the browser's
// WebSocket itself, prints the handshake, and relays each message, whole,
// to the Socket.IO server over a second WebSocket on loopback, decoding it
// on the way with the server's own decoder (package shared/wire).

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared/wire"
)

// Trace is an http.Handler for the Engine.IO endpoint that prints every
// handshake and every packet, both ways, and relays them to a Socket.IO
// server. Create it with TraceServer or NewTrace; Close ends it.
//
// A WebSocket handshake is relayed to the server first, with the browser's
// path, query, Host, Origin and other headers: when the server refuses it,
// the browser gets its answer as is. When it accepts, the Trace accepts the
// browser's WebSocket (from Origins only) and relays each message both ways
// as it came, text or binary, until either side ends; a close frame is
// passed on with its code and reason, a connection lost is dropped on the
// other side too. Other requests (long-polling, a wrong EIO) go to the
// fallback handler, and print their request line and status.
type Trace struct {
	// Origins are the hosts whose pages may connect, as in
	// websocket.AcceptOptions.OriginPatterns. NewTrace sets LoopbackOrigins.
	Origins []string

	out      *tracer
	target   *url.URL // where the Socket.IO server listens: scheme and host
	fallback http.Handler
	client   *http.Client
	inner    *http.Server // TraceServer's own listener for the handler, or nil

	ctx    context.Context // ends every relay when Close gives up waiting
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	live   map[*liveRelay]struct{} // the relays running
	wg     sync.WaitGroup
	conns  atomic.Int64 // numbers the requests traced
}

// NewTrace traces to out and relays WebSocket handshakes to target, the
// ws:// (or http://) URL of a Socket.IO server: its scheme and host, the
// browser's path and query. Other requests go to fallback (an HTTP proxy to
// the same server, or the server's handler itself).
func NewTrace(out io.Writer, target string, fallback http.Handler) (*Trace, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("trace: relay target: %w", err)
	}
	if u.Host == "" || !slices.Contains([]string{"ws", "wss", "http", "https"}, u.Scheme) {
		return nil, fmt.Errorf("trace: relay target %q: want a ws:// or http:// URL", target) // Dial takes all four
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Trace{
		Origins:  LoopbackOrigins,
		out:      &tracer{w: out, now: time.Now},
		target:   u,
		fallback: fallback,
		client:   &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{}).DialContext}},
		ctx:      ctx,
		cancel:   cancel,
		live:     map[*liveRelay]struct{}{},
	}, nil
}

// TraceServer serves h on a listener of its own on 127.0.0.1 and returns a
// Trace that relays to it, with h as the fallback. h is the Socket.IO
// server, or a handler that routes the endpoint to it (the devserver's
// whole handler, which with -run proxies it to the child).
func TraceServer(out io.Writer, h http.Handler) (*Trace, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	t, err := NewTrace(out, "ws://"+ln.Addr().String(), h)
	if err != nil {
		ln.Close()
		return nil, err
	}
	t.inner = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go t.inner.Serve(ln) //nolint:errcheck // ends with ErrServerClosed on Close
	return t, nil
}

// Endpoint returns next with the Engine.IO endpoint, /socket.io/ but the
// loader /socket.io/socket.io.js, served by t.
func (t *Trace) Endpoint(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/socket.io/") && r.URL.Path != "/socket.io/socket.io.js" {
			t.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// traceCloseWait bounds how long Close waits for the relays to end with a
// close handshake on each side before it drops them.
const traceCloseWait = 5 * time.Second

// Close refuses new handshakes, ends every relay still running with a
// close frame to both sides (1001, going away: the server's Shutdown, run
// first, has usually ended them already, and its close frames have been
// passed on), drops those not done after traceCloseWait, and stops
// TraceServer's listener.
func (t *Trace) Close() error {
	t.mu.Lock()
	t.closed = true
	live := make([]*liveRelay, 0, len(t.live))
	for r := range t.live {
		live = append(live, r)
	}
	t.mu.Unlock()
	var closing sync.WaitGroup
	for _, r := range live {
		closing.Go(r.shutdown)
	}
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	timer := time.NewTimer(traceCloseWait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	}
	t.cancel() // what is left fails its Read or Write, and closes its sockets
	<-done
	closing.Wait()
	var err error
	if t.inner != nil {
		err = t.inner.Close()
	}
	t.client.CloseIdleConnections()
	return err
}

// enter counts a relay in, unless Close has begun.
func (t *Trace) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

// liveRelay is a relay running, for Close to end.
type liveRelay struct {
	c            *connTrace
	browser, srv *websocket.Conn
}

// shutdown closes both sides of the relay, concurrently.
func (r *liveRelay) shutdown() {
	const reason = "devserver shutting down"
	r.c.line(note, "the devserver closes both sides: 1001 %s %q", statusName(websocket.StatusGoingAway), reason)
	var wg sync.WaitGroup
	for _, ws := range []*websocket.Conn{r.browser, r.srv} {
		wg.Go(func() { ws.Close(websocket.StatusGoingAway, reason) })
	}
	wg.Wait()
}

// track adds a relay to those Close ends, or reports false when Close has
// begun.
func (t *Trace) track(r *liveRelay) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.live[r] = struct{}{}
	return !t.closed
}

func (t *Trace) untrack(r *liveRelay) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.live, r)
}

// ServeHTTP traces and relays one request of the Engine.IO endpoint.
func (t *Trace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := t.out.conn(t.conns.Add(1))
	if !isWebSocketRequest(r) {
		c.line(toServer, "%s %s %s", r.Method, r.URL.RequestURI(), r.Proto)
		rec := &responseRecorder{ResponseWriter: w}
		t.fallback.ServeHTTP(rec, r)
		c.httpResponse(rec.statusCode(), nil, rec.body.Bytes())
		return
	}
	c.request(r)
	if !t.enter() {
		const msg = "devserver: shutting down"
		http.Error(w, msg, http.StatusServiceUnavailable)
		c.httpResponse(http.StatusServiceUnavailable, nil, []byte(msg))
		return
	}
	defer t.wg.Done()

	srv, resp, err := t.dial(r)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			// The server refused the handshake: the browser gets its answer.
			body, _ := io.ReadAll(resp.Body) // the first 1 KB, which Dial kept
			for k, v := range resp.Header {
				if !hopByHop(k) {
					w.Header()[k] = v
				}
			}
			w.WriteHeader(resp.StatusCode)
			w.Write(body)
			c.httpResponse(resp.StatusCode, resp.Header, body)
			return
		}
		msg := fmt.Sprintf("devserver -trace: cannot relay to the Socket.IO server at %s: %v", t.target.Host, err)
		http.Error(w, msg, http.StatusBadGateway)
		c.httpResponse(http.StatusBadGateway, nil, []byte(msg))
		return
	}
	opts := &websocket.AcceptOptions{OriginPatterns: t.Origins}
	if p := srv.Subprotocol(); p != "" {
		opts.Subprotocols = []string{p}
	}
	if strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	rec := &responseRecorder{ResponseWriter: w}
	browser, err := websocket.Accept(rec, r, opts)
	c.httpResponse(rec.statusCode(), rec.header, rec.body.Bytes())
	if err != nil {
		c.line(note, "refused: %v", err)
		srv.CloseNow()
		return
	}
	c.acceptNote(r.Header.Get("Sec-WebSocket-Key"), rec.header.Get("Sec-WebSocket-Accept"))
	browser.SetReadLimit(wire.DefaultMaxPayload) // until the open packet says the server's
	srv.SetReadLimit(-1)                         // a browser takes messages of any size
	c.onOpen = func(o wire.OpenPacket) {
		if o.MaxPayload > 0 {
			browser.SetReadLimit(o.MaxPayload)
		}
	}
	live := &liveRelay{c: c, browser: browser, srv: srv}
	defer t.untrack(live)
	if !t.track(live) { // Close began meanwhile, and missed this one
		live.shutdown()
	}
	t.relay(c, browser, srv)
}

// dial opens the WebSocket to the server with the browser's request.
func (t *Trace) dial(r *http.Request) (*websocket.Conn, *http.Response, error) {
	u := *t.target
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	h := make(http.Header, len(r.Header))
	for k, v := range r.Header {
		if !hopByHop(k) && !strings.HasPrefix(k, "Sec-Websocket-") {
			h[k] = v
		}
	}
	opts := &websocket.DialOptions{
		HTTPClient:   t.client,
		HTTPHeader:   h,
		Host:         r.Host, // the server checks Origin against the Host the browser used
		Subprotocols: headerTokens(r.Header, "Sec-WebSocket-Protocol"),
	}
	if strings.Contains(strings.Join(r.Header.Values("Sec-WebSocket-Extensions"), ","), "permessage-deflate") {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	return websocket.Dial(ctx, u.String(), opts)
}

// relayEnd is how one direction of a relay ended: failed is the socket that
// failed (the one read from, or, when write is set, the one written to).
type relayEnd struct {
	failed *websocket.Conn
	err    error
	write  bool
}

// relay pumps both directions until either ends, then passes the end on
// to the other side and waits for both pumps.
func (t *Trace) relay(c *connTrace, browser, srv *websocket.Conn) {
	start := time.Now()
	ends := make(chan relayEnd, 2)
	go func() { ends <- t.pump(c, toServer, browser, srv) }()
	go func() { ends <- t.pump(c, toBrowser, srv, browser) }()
	e, got := <-ends, 1
	if e.write {
		// The socket written to failed: its own pump reads why (a close
		// frame, a reset) in a moment.
		timer := time.NewTimer(time.Second)
		select {
		case e2 := <-ends:
			got++
			if !e2.write {
				e = e2
			}
		case <-timer.C:
		}
		timer.Stop()
	}
	live, dir := srv, toServer
	if e.failed == srv {
		live, dir = browser, toBrowser
	}
	c.ended(dir, e.err)
	var ce websocket.CloseError
	if errors.As(e.err, &ce) {
		live.Close(ce.Code, ce.Reason) // 1005, no status, is passed on as a close frame without one
	} else {
		live.CloseNow()
	}
	e.failed.CloseNow()
	for ; got < 2; got++ {
		<-ends
	}
	c.line(note, "relay ended after %v", time.Since(start).Round(time.Millisecond))
}

// pump relays the messages read from src to dst, each traced before it is
// passed on, so that the trace is in causal order.
func (t *Trace) pump(c *connTrace, dir direction, src, dst *websocket.Conn) relayEnd {
	for {
		typ, msg, err := src.Read(t.ctx)
		if err != nil {
			return relayEnd{failed: src, err: err}
		}
		c.message(dir, typ, msg)
		if err := dst.Write(t.ctx, typ, msg); err != nil {
			return relayEnd{failed: dst, err: err, write: true}
		}
	}
}

// isWebSocketRequest reports whether r is a WebSocket handshake that
// coder/websocket can accept; other upgrade attempts go to the fallback,
// whose own Accept refuses them as it would without -trace.
func isWebSocketRequest(r *http.Request) bool {
	return r.Method == http.MethodGet && r.ProtoAtLeast(1, 1) &&
		slices.ContainsFunc(headerTokens(r.Header, "Connection"), func(s string) bool { return strings.EqualFold(s, "upgrade") }) &&
		slices.ContainsFunc(headerTokens(r.Header, "Upgrade"), func(s string) bool { return strings.EqualFold(s, "websocket") }) &&
		r.Header.Get("Sec-WebSocket-Version") == "13" && len(r.Header.Values("Sec-WebSocket-Key")) == 1
}

func headerTokens(h http.Header, key string) []string {
	var tokens []string
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tokens = append(tokens, t)
			}
		}
	}
	return tokens
}

// hopByHop reports whether the header k (canonical) belongs to one hop only.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Upgrade", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding":
		return true
	}
	return false
}

// responseRecorder keeps what a handler answers: the status, the headers
// as they were when it wrote them, and the start of the body. Accept
// writes the 101 through WriteHeader before it hijacks the connection.
type responseRecorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer // the first maxTraceBody bytes
}

const maxTraceBody = 512

func (w *responseRecorder) WriteHeader(code int) {
	if w.status == 0 || w.status < 200 && code >= 200 {
		w.status = code
		w.header = w.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if n := maxTraceBody - w.body.Len(); n > 0 {
		w.body.Write(b[:min(n, len(b))])
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseRecorder) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets coder/websocket and http.ResponseController reach the
// connection's Hijacker and Flusher.
func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a long-poll's flush on.
func (w *responseRecorder) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// direction is which way a line goes.
type direction int

const (
	toServer direction = iota
	toBrowser
	note
)

func (d direction) String() string {
	switch d {
	case toServer:
		return "browser → server"
	case toBrowser:
		return "browser ← server"
	}
	return "                "
}

// tracer writes the trace, one line at a time.
type tracer struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

func (tr *tracer) conn(n int64) *connTrace {
	return &connTrace{tr: tr, n: n, sockets: map[string]string{}}
}

// connTrace traces one connection: it decodes each direction's messages
// with a wire.Decoder of its own, as each end of the connection does.
type connTrace struct {
	tr     *tracer
	n      int64
	onOpen func(wire.OpenPacket) // called with the server's open packet

	mu      sync.Mutex // the two directions are traced from two goroutines
	sid     string
	sockets map[string]string // namespace → Socket.IO socket id, from the server's CONNECT
	dec     [2]wire.Decoder
	pending [2]attachments
}

// attachments labels the binary messages that follow a binary packet.
type attachments struct {
	packet string
	seen   int
	total  int
}

// Trace lines are cut to this many bytes of payload.
const maxTracePayload = 120

// tag names the connection: by its Engine.IO sid once the open packet has
// told it, by number before. Called with c.mu held.
func (c *connTrace) tag() string {
	if c.sid != "" {
		return "sid " + short(c.sid)
	}
	return fmt.Sprintf("conn %d", c.n)
}

func short(id string) string {
	if len(id) > 6 {
		return id[:6]
	}
	return id
}

func (c *connTrace) line(dir direction, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lineLocked(dir, format, args...)
}

func (c *connTrace) lineLocked(dir direction, format string, args ...any) {
	c.tr.mu.Lock()
	defer c.tr.mu.Unlock()
	fmt.Fprintf(c.tr.w, "%s [%-10s] %s  %s\n", c.tr.now().Format("15:04:05.000"), c.tag(), dir, fmt.Sprintf(format, args...))
}

// The handshake headers worth a look, in the order shown; the others are
// named after them.
var (
	requestHeaders  = []string{"Host", "Origin", "Connection", "Upgrade", "Sec-WebSocket-Version", "Sec-WebSocket-Key", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol"}
	responseHeaders = []string{"Upgrade", "Connection", "Sec-WebSocket-Accept", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol"}
)

// request prints the handshake request: its line, the headers that matter
// with their values, and the names of the others.
func (c *connTrace) request(r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lineLocked(toServer, "%s %s %s", r.Method, r.URL.RequestURI(), r.Proto)
	c.lineLocked(toServer, "  Host: %s", printable(r.Host))
	for _, k := range requestHeaders[1:] {
		for _, v := range r.Header.Values(k) {
			c.lineLocked(toServer, "  %s: %s", k, cut(printable(v), maxTracePayload))
		}
	}
	var others []string
	for k := range r.Header {
		if !slices.ContainsFunc(requestHeaders, func(s string) bool { return http.CanonicalHeaderKey(s) == k }) {
			others = append(others, k)
		}
	}
	if len(others) > 0 {
		slices.Sort(others)
		c.lineLocked(toServer, "  (and %s)", printable(strings.Join(others, ", ")))
	}
}

// httpResponse prints a response: its status line, the handshake headers
// of h, and the start of the body when there is one.
func (c *connTrace) httpResponse(status int, h http.Header, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	line := fmt.Sprintf("HTTP/1.1 %d %s", status, http.StatusText(status))
	if status != http.StatusSwitchingProtocols && len(body) > 0 {
		line += "  " + cut(printable(string(bytes.TrimSpace(body))), maxTracePayload)
	}
	c.lineLocked(toBrowser, "%s", line)
	if status != http.StatusSwitchingProtocols {
		return
	}
	for _, k := range responseHeaders {
		for _, v := range h.Values(k) {
			c.lineLocked(toBrowser, "  %s: %s", k, printable(v))
		}
	}
}

// wsGUID is the constant of RFC 6455 that the accept value is derived with.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptNote shows how Sec-WebSocket-Accept comes from the key, computed
// here again, and whether it matches what was sent.
func (c *connTrace) acceptNote(key, accept string) {
	sum := sha1.Sum([]byte(key + wsGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	verdict := "✓ matches"
	if want != accept {
		verdict = fmt.Sprintf("✗ but %q was sent", printable(accept))
	}
	c.line(note, "Sec-WebSocket-Accept = base64(sha1(key + %q)) = %s %s", wsGUID, want, verdict)
}

// message prints one WebSocket message, decoded as its receiver decodes it.
// Bad input prints an error line; nothing here panics on it.
func (c *connTrace) message(dir direction, typ websocket.MessageType, msg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if typ == websocket.MessageBinary {
		c.attachment(dir, msg)
		return
	}
	if !utf8.Valid(msg) {
		c.lineLocked(dir, "%-9s  ERROR  text message is not valid UTF-8  %s  (%d B)", "?", quoteRaw(msg), len(msg))
		return
	}
	t, data, err := wire.DecodeEIO(msg)
	if err != nil {
		c.lineLocked(dir, "%-9s  ERROR  %v  %s  (%d B)", "?", err, quoteRaw(msg), len(msg))
		return
	}
	eio := fmt.Sprintf("%c %s", byte(t), t)
	switch t {
	case wire.EIOOpen:
		o, err := wire.DecodeOpen(data)
		if err != nil {
			c.lineLocked(dir, "%-9s  ERROR  %v  (%d B)", eio, err, len(msg))
			return
		}
		if c.sid == "" {
			c.sid = o.SID
		}
		c.lineLocked(dir, "%-9s  sid=%s (conn %d)  upgrades=%s  pingInterval=%dms  pingTimeout=%dms  maxPayload=%d  (%d B)",
			eio, printable(o.SID), c.n, printable(fmt.Sprint(o.Upgrades)), o.PingInterval, o.PingTimeout, o.MaxPayload, len(msg))
		if c.onOpen != nil && dir == toBrowser {
			c.onOpen(o)
		}
	case wire.EIOMessage:
		c.packet(dir, eio, data, len(msg))
	default:
		if len(data) > 0 {
			c.lineLocked(dir, "%-9s  %s  (%d B)", eio, cut(printable(string(data)), maxTracePayload), len(msg))
		} else {
			c.lineLocked(dir, "%-9s  (%d B)", eio, len(msg))
		}
	}
}

// packet prints the Socket.IO packet of an Engine.IO message.
func (c *connTrace) packet(dir direction, eio string, data []byte, size int) {
	p, _, err := c.dec[dir].Text(data)
	if err != nil {
		c.lineLocked(dir, "%-9s  ERROR  %v  %s  (%d B)", eio, err, quoteRaw(data), size)
		return
	}
	sio := fmt.Sprintf("%d %s", p.Type, p.Type)
	fields := []string{"nsp=" + printable(p.Namespace)}
	if p.Type == wire.Connect && dir == toBrowser {
		if sid, _, err := wire.DecodeConnect(p.Data); err == nil {
			c.sockets[p.Namespace] = sid
		}
	}
	if id, ok := c.sockets[p.Namespace]; ok {
		fields = append(fields, "socket="+short(printable(id)))
	}
	if p.ID != wire.NoID {
		fields = append(fields, fmt.Sprintf("ack=%d", p.ID))
	}
	label := sio // what the attachments of a binary packet are labelled with
	switch p.Type {
	case wire.EventPacket, wire.BinaryEvent:
		var args []string
		name, err := wire.SplitEvent(p.Data, func(a json.RawMessage) { args = append(args, string(a)) })
		if err != nil { // cannot happen: Text checked the payload
			fields = append(fields, cut(printable(string(p.Data)), maxTracePayload))
			break
		}
		quoted := cut(printable(fmt.Sprintf("%q", name)), maxTracePayload)
		label += " " + quoted
		fields = append(fields, quoted, cut(printable("["+strings.Join(args, ",")+"]"), maxTracePayload))
	default:
		if p.Data != nil {
			fields = append(fields, cut(printable(string(p.Data)), maxTracePayload))
		}
	}
	fields = append(fields, fmt.Sprintf("(%d B)", size))
	if p.Type.IsBinary() {
		fields = append(fields, fmt.Sprintf("+%d binary attachment%s", p.Attachments, plural(p.Attachments)))
		c.pending[dir] = attachments{packet: label, total: p.Attachments}
	}
	if p.Type == wire.Disconnect {
		delete(c.sockets, p.Namespace)
	}
	c.lineLocked(dir, "%-9s  %-15s  %s", eio, sio, strings.Join(fields, "  "))
}

// attachment prints a binary message: the next attachment of a binary
// packet.
func (c *connTrace) attachment(dir direction, msg []byte) {
	_, _, err := c.dec[dir].Binary(msg)
	if err != nil {
		c.lineLocked(dir, "%-9s  ERROR  %v  (%d B)", "binary", err, len(msg))
		return
	}
	a := &c.pending[dir]
	a.seen++
	c.lineLocked(dir, "%-9s  attachment %d/%d of %s  (%d B)  %s", "binary", a.seen, a.total, a.packet, len(msg), hexPreview(msg))
}

// ended prints how a relay ended: a close frame from dir's sender, or the
// connection lost.
func (c *connTrace) ended(dir direction, err error) {
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce):
		c.line(dir, "%-9s  %d %s  %s", "close", int(ce.Code), statusName(ce.Code), cut(printable(fmt.Sprintf("%q", ce.Reason)), maxTracePayload))
	case errors.Is(err, websocket.ErrMessageTooBig):
		c.line(dir, "%-9s  message over the server's maxPayload: the socket is closed with 1009  (%v)", "closed", err)
	default:
		who := "the browser"
		if dir == toBrowser {
			who = "the server"
		}
		c.line(dir, "%-9s  connection to %s lost, no close frame  (%v)", "lost", who, err)
	}
}

func statusName(code websocket.StatusCode) string {
	switch code {
	case websocket.StatusNormalClosure:
		return "normal closure"
	case websocket.StatusGoingAway:
		return "going away"
	case websocket.StatusProtocolError:
		return "protocol error"
	case websocket.StatusUnsupportedData:
		return "unsupported data"
	case websocket.StatusNoStatusRcvd:
		return "no status"
	case websocket.StatusInvalidFramePayloadData:
		return "invalid payload data"
	case websocket.StatusPolicyViolation:
		return "policy violation"
	case websocket.StatusMessageTooBig:
		return "message too big"
	case websocket.StatusInternalError:
		return "internal error"
	}
	return "status"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// cut shortens s to about max bytes, on a rune boundary, saying how long
// it was.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:i], len(s))
}

// printable keeps a trace line one line of text: control characters and
// bytes that are not UTF-8 are escaped.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// quoteRaw shows a message that did not decode: quoted, escaped, cut.
func quoteRaw(b []byte) string {
	if len(b) > maxTracePayload {
		return fmt.Sprintf("%+q…(%d bytes)", b[:maxTracePayload], len(b))
	}
	return fmt.Sprintf("%+q", b)
}

// hexPreview shows the first bytes of an attachment.
func hexPreview(b []byte) string {
	const n = 16
	s := fmt.Sprintf("% x", b[:min(n, len(b))])
	if len(b) > n {
		s += " …"
	}
	return s
}
