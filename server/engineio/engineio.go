// Package engineio is an Engine.IO v4 server, usable alone like npm's
// engine.io: sessions with Send, OnMessage and Close over HTTP long-polling
// and WebSocket, the handshake, heartbeats, limits, the error codes 0–5 and
// the upgrade from polling to WebSocket.
//
//	eio := engineio.NewServer(nil)
//	eio.OnConnection(func(s *engineio.Session) {
//		s.OnMessage(func(data []byte, binary bool) { s.Send(data, binary) })
//	})
//	http.Handle("/engine.io/", eio)
//
// The handler answers every path it is given; mount it where the clients
// look (engine.io's default is /engine.io/, Socket.IO's /socket.io/). A held
// GET lasts up to PingInterval: an http.Server's WriteTimeout (or a proxy's
// read timeout) must be longer. In a cluster, polling needs sticky sessions
// (the Cookie option gives load balancers a key); WebSocket alone does not.
// Not implemented: EIO=3 (JSONP, b64), WebTransport.
//
// # Use in package server
//
// The Socket.IO server (package server) answers every request through a
// Server of this package, so that refusals, CORS, the cookie and
// AllowRequest are the same on both transports. It sets ServeWebSocket: a
// WebSocket that opens a session (transport=websocket, no sid, as the wasm
// client and clients set to WebSocket connect) goes to the Socket.IO
// server's own WebSocket transport, which coalesces writes and parks idle
// connections. Polling sessions run here, and with Session.TakeUpgrades
// the server accepts the WebSocket of an upgrade itself and takes it over
// once the upgrade is done, so upgraded sessions end on that transport too.
// Used alone, this package runs a session's WebSocket as described below
// (one reader, one writer, a write per packet, no idle parking).
//
// # Goroutines per session
//
//   - Polling: none of its own. A held GET and an in-flight POST each run on
//     the net/http handler goroutine of their request. The heartbeat timers
//     are time.AfterFunc timers: they run a goroutine only while they fire.
//   - WebSocket: two. The handler goroutine of the upgrade request reads
//     frames; one writer goroutine, started when the session runs on
//     WebSocket, writes what is queued.
//   - During an upgrade, the handler goroutine of the probing WebSocket
//     reads "2probe" and "5", and a ticker goroutine sends the noops to a
//     held GET between the two; it ends with the probe. The held GET and
//     the POSTs go on meanwhile on their own handler goroutines.
//
// Callbacks (OnConnection, OnMessage, OnClose) run on those goroutines with
// no lock held. OnMessage calls of one session never overlap: the client
// sends on one channel at a time (one POST, or the WebSocket after the
// upgrade, which the client starts only once its last POST was answered).
//
// # Lock order
//
// Server.mu guards the session table; Session.mu guards a session's state
// and its write buffer. They are never held together: a session is looked
// up under Server.mu, which is released before Session.mu is taken, and a
// session removes itself from the table after releasing Session.mu. No
// network write happens under a lock: a writer takes the buffer under
// Session.mu and writes it after releasing it. Every packet is queued once
// into one write buffer and taken from it once, by the held GET or by the
// WebSocket writer, so none is lost or doubled across the upgrade.
package engineio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Transport names, as in the transport query parameter.
const (
	Polling   = "polling"
	WebSocket = "websocket"
)

// Close reasons given to OnClose, as in engine.io.
const (
	ReasonTransportClose = "transport close"
	ReasonTransportError = "transport error"
	ReasonPingTimeout    = "ping timeout"
	ReasonParseError     = "parse error"
	ReasonForcedClose    = "forced close"
	ReasonServerClose    = "forced server close"
)

// Error codes of a refused request, as in engine.io's Server.errors.
const (
	CodeUnknownTransport = 0
	CodeUnknownSID       = 1
	CodeBadHandshake     = 2
	CodeBadRequest       = 3
	CodeForbidden        = 4
	CodeUnsupported      = 5
)

var errorMessages = [...]string{
	"Transport unknown",
	"Session ID unknown",
	"Bad handshake method",
	"Bad request",
	"Forbidden",
	"Unsupported protocol version",
}

// ErrClosed is returned by Send on a closed session.
var ErrClosed = errors.New("engineio: session closed")

// closeTimeout is how long a session closed by the server waits for a GET
// to carry its close packet.
const closeTimeout = 30 * time.Second

// Options configure a Server. The zero value of each field is its default.
type Options struct {
	// PingInterval is how often the server pings. Defaults to 25 s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for the pong after queueing
	// a ping. Defaults to 20 s. A polling session that never polls again
	// ends at PingInterval + PingTimeout.
	PingTimeout time.Duration
	// UpgradeTimeout bounds the upgrade of a polling session to WebSocket:
	// past it the WebSocket is closed and the session stays on polling.
	// Defaults to 10 s.
	UpgradeTimeout time.Duration
	// MaxHTTPBufferSize is the largest POST body and WebSocket message, in
	// bytes, and the maxPayload of the open packet. Defaults to 1e6.
	MaxHTTPBufferSize int64
	// PostTimeout bounds the reading of a POST body: a body still
	// incomplete then closes the session. Defaults to 10 s.
	PostTimeout time.Duration
	// Transports lists the transports accepted, among "polling" and
	// "websocket". Defaults to both.
	Transports []string
	// AllowUpgrades, when non-nil and false, offers no upgrade to polling
	// sessions (upgrades: []) and refuses one. Defaults to true.
	AllowUpgrades *bool
	// AllowRequest is called for each handshake (a request without sid);
	// an error refuses it with code 4 (403 on polling), the error's text
	// as the message.
	AllowRequest func(r *http.Request) error
	// Cookie, when non-nil, is set on the handshake response of a polling
	// session, for sticky sessions at a load balancer.
	Cookie *Cookie
	// CORS, when non-nil, allows cross-origin requests. Without it only
	// same-origin requests and requests without an Origin are served.
	CORS *CORS
	// DisableHTTPCompression turns off the gzip or deflate (chosen by
	// Accept-Encoding) of GET responses of 1024 bytes or more.
	DisableHTTPCompression bool
	// Headers, when set, may add headers to every polling response and to
	// the WebSocket handshake response; initial is true for the response
	// that opens a session (engine.io's initial_headers and headers).
	Headers func(h http.Header, r *http.Request, initial bool)
	// InitialPacket, when non-nil, is queued as a message right after the
	// open packet.
	InitialPacket []byte
	// ServeWebSocket, when set, is handed each WebSocket handshake that
	// opens a session (transport=websocket, no sid) once it passed every
	// check above, instead of a Session being opened here. A server with
	// a WebSocket transport of its own uses it: package server does, for
	// its write coalescing and idle parking. Polling sessions and their
	// upgrades stay here.
	ServeWebSocket http.HandlerFunc
	// OnRefuse, when set, is told of every request refused with an error
	// code (0–5), with its message: for logs and metrics.
	OnRefuse func(r *http.Request, code int, message string)
	// OnError, when set, is told of every request of a session that fails
	// without an error code: an overlapping GET or POST, a body that is
	// malformed, over MaxHTTPBufferSize or not read within PostTimeout, an
	// aborted GET, a refused or failed upgrade. status is the HTTP status
	// it got (0 when none was sent, 101 for an upgrade), description
	// engine.io's ("overlap from client"): for logs and metrics.
	OnError func(r *http.Request, sid string, status int, description string)
}

// Bool returns a pointer to v, for Options.AllowUpgrades.
func Bool(v bool) *bool { return &v }

// Cookie is the sticky-session cookie: Set-Cookie: <Name>=<sid>.
type Cookie struct {
	Name       string        // defaults to "io"
	Path       string        // defaults to "/"
	NoPath     bool          // omit Path
	SameSite   http.SameSite // defaults to Lax
	Secure     bool
	NoHTTPOnly bool
	MaxAge     int
	Domain     string
}

// CORS configures cross-origin access, as the npm cors package does.
type CORS struct {
	// Origins lists the allowed origins ("https://example.com"); "*"
	// allows any.
	Origins []string
	// AllowOrigin, when set, decides instead of Origins.
	AllowOrigin func(origin string, r *http.Request) bool
	// Credentials adds Access-Control-Allow-Credentials: true.
	Credentials bool
	// Methods for preflight answers. Defaults to GET,HEAD,PUT,PATCH,POST,DELETE.
	Methods []string
	// Headers for preflight answers. Defaults to the requested ones.
	Headers []string
}

// Server is an Engine.IO server: an http.Handler.
type Server struct {
	opts      Options
	upgrades  bool
	polling   bool
	websocket bool

	mu       sync.Mutex
	sessions map[string]*Session
	onConn   func(*Session)
	closed   bool
}

// NewServer returns a Server; opts may be nil.
func NewServer(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 20 * time.Second
	}
	if o.UpgradeTimeout <= 0 {
		o.UpgradeTimeout = 10 * time.Second
	}
	if o.MaxHTTPBufferSize <= 0 {
		o.MaxHTTPBufferSize = 1e6
	}
	if o.PostTimeout <= 0 {
		o.PostTimeout = 10 * time.Second
	}
	if o.Transports == nil {
		o.Transports = []string{Polling, WebSocket}
	}
	s := &Server{opts: o, sessions: make(map[string]*Session)}
	for _, t := range o.Transports {
		switch t {
		case Polling:
			s.polling = true
		case WebSocket:
			s.websocket = true
		}
	}
	s.upgrades = s.websocket && (o.AllowUpgrades == nil || *o.AllowUpgrades)
	return s
}

// OnConnection sets the function called with each new session, before its
// open packet is sent: a handler set there sees every message.
func (s *Server) OnConnection(f func(*Session)) {
	s.mu.Lock()
	s.onConn = f
	s.mu.Unlock()
}

// Len returns the number of sessions.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close closes every session and refuses new ones.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	all := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.close(ReasonServerClose, closeServer)
		ss.srv.remove(ss) // one closed earlier may linger for its close packet
	}
}

func (s *Server) lookup(sid string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[sid]
}

func (s *Server) remove(ss *Session) {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
}

// ServeHTTP serves polling requests and WebSocket upgrades. It checks a
// request in engine.io's order: transport (code 0), Origin (code 3), then
// with a sid the session (code 1) and its transport (code 3), or without
// one the method (code 2), the upgrade (code 3), AllowRequest (code 4) and
// the protocol version (code 5).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	transport := q.Get("transport")
	upgrade := isUpgrade(r)
	origin := r.Header.Get("Origin")

	if r.Method == http.MethodOptions && s.opts.CORS != nil && origin != "" {
		s.preflight(w, r, origin)
		return
	}
	allowed := s.originAllowed(origin, r)
	if allowed && origin != "" && s.opts.CORS != nil && !upgrade {
		s.corsHeaders(w.Header(), origin)
	}

	if !(transport == Polling && s.polling || transport == WebSocket && s.websocket) {
		s.refuse(w, r, upgrade, CodeUnknownTransport, "")
		return
	}
	if !validHeaderValue(origin) {
		s.refuse(w, r, upgrade, CodeBadRequest, "")
		return
	}
	if !allowed {
		s.refuse(w, r, upgrade, CodeForbidden, "origin not allowed")
		return
	}
	sid := q.Get("sid")
	if s.opts.Headers != nil {
		s.opts.Headers(w.Header(), r, sid == "")
	}
	if sid != "" {
		ss := s.lookup(sid)
		if ss == nil {
			s.refuse(w, r, upgrade, CodeUnknownSID, "")
			return
		}
		if transport == WebSocket && upgrade {
			ss.serveUpgrade(w, r)
			return
		}
		if transport != Polling || ss.Transport() != Polling {
			s.refuse(w, r, upgrade, CodeBadRequest, "")
			return
		}
		ss.servePoll(w, r)
		return
	}
	if r.Method != http.MethodGet {
		s.refuse(w, r, upgrade, CodeBadHandshake, "")
		return
	}
	if transport == WebSocket && !upgrade {
		s.refuse(w, r, upgrade, CodeBadRequest, "")
		return
	}
	if s.opts.AllowRequest != nil {
		if err := s.opts.AllowRequest(r); err != nil {
			s.refuse(w, r, upgrade, CodeForbidden, err.Error())
			return
		}
	}
	if q.Get("EIO") != "4" {
		s.refuse(w, r, upgrade, CodeUnsupported, "")
		return
	}
	if transport == WebSocket {
		if s.opts.ServeWebSocket != nil {
			s.opts.ServeWebSocket(w, r)
			return
		}
		s.handshakeWebSocket(w, r)
		return
	}
	s.handshakePolling(w, r)
}

// fail tells OnError of a failed request of ss.
func (ss *Session) fail(r *http.Request, status int, description string) {
	if f := ss.srv.opts.OnError; f != nil {
		f(r, ss.id, status, description)
	}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// refuse answers a refused request: a JSON error (403 for code 4, else
// 400), or for a WebSocket upgrade a 400 with the message as text, as
// engine.io's abortUpgrade does.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, upgrade bool, code int, msg string) {
	if msg == "" {
		msg = errorMessages[code]
	}
	if s.opts.OnRefuse != nil {
		s.opts.OnRefuse(r, code, msg)
	}
	if upgrade {
		// engine.io answers 400 to every refused upgrade; a forbidden one
		// gets 403 here, which says more to whoever reads it.
		status := http.StatusBadRequest
		if code == CodeForbidden {
			status = http.StatusForbidden
		}
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(msg))
		return
	}
	status := http.StatusBadRequest
	if code == CodeForbidden {
		status = http.StatusForbidden
	}
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// validHeaderValue reports whether v holds only the characters Node
// accepts in a header value.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\t' && (c < 0x20 || c == 0x7f) {
			return false
		}
	}
	return true
}

// originAllowed: no Origin, the same origin, or one CORS allows.
func (s *Server) originAllowed(origin string, r *http.Request) bool {
	if origin == "" {
		return true
	}
	if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	c := s.opts.CORS
	if c == nil {
		return false
	}
	if c.AllowOrigin != nil {
		return c.AllowOrigin(origin, r)
	}
	for _, o := range c.Origins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func (s *Server) corsHeaders(h http.Header, origin string) {
	c := s.opts.CORS
	wildcard := c.AllowOrigin == nil && len(c.Origins) == 1 && c.Origins[0] == "*" && !c.Credentials
	if wildcard {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if c.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

func (s *Server) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	if !s.originAllowed(origin, r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h := w.Header()
	s.corsHeaders(h, origin)
	methods := s.opts.CORS.Methods
	if methods == nil {
		methods = []string{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"}
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ","))
	if hs := s.opts.CORS.Headers; hs != nil {
		h.Set("Access-Control-Allow-Headers", strings.Join(hs, ","))
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

// newSession creates a session on transport, queues its open packet, adds
// it to the table and calls OnConnection. It returns nil when the server
// is closed.
func (s *Server) newSession(transport string, r *http.Request) *Session {
	var b [15]byte
	_, _ = rand.Read(b[:])
	ss := &Session{
		srv:       s,
		id:        base64.RawURLEncoding.EncodeToString(b[:]),
		transport: transport,
		header:    r.Header.Clone(),
		remote:    r.RemoteAddr,
		uri:       requestURI(r),
		changed:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	upgrades := []string{}
	if transport == Polling && s.upgrades {
		upgrades = []string{WebSocket}
	}
	open, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int64    `json:"maxPayload"`
	}{ss.id, upgrades, s.opts.PingInterval.Milliseconds(), s.opts.PingTimeout.Milliseconds(), s.opts.MaxHTTPBufferSize})
	ss.wbuf = append(ss.wbuf, packet{typ: '0', data: open})
	if s.opts.InitialPacket != nil {
		ss.wbuf = append(ss.wbuf, packet{typ: '4', data: s.opts.InitialPacket})
	}

	ss.mu.Lock()
	ss.pingTimer = time.AfterFunc(s.opts.PingInterval, ss.ping)
	ss.mu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ss.pingTimer.Stop()
		return nil
	}
	s.sessions[ss.id] = ss
	onConn := s.onConn
	s.mu.Unlock()
	if onConn != nil {
		onConn(ss)
	}
	return ss
}

// packet is one queued outgoing packet.
type packet struct {
	typ    byte // '0'..'6'
	data   []byte
	binary bool
}

// closeKind says what a held GET gets when the session closes.
type closeKind int

const (
	closeError  closeKind = iota // the held GET gets "1"; the session goes at once
	closeClient                  // the client closed: the held GET gets "6"
	closeServer                  // the next GET gets what is queued and "1"
)

// Session is one Engine.IO session.
type Session struct {
	srv    *Server
	id     string
	header http.Header
	remote string
	uri    string

	mu         sync.Mutex
	transport  string
	wbuf       []packet
	changed    chan struct{} // closed and replaced when wbuf or the state changes
	getHeld    bool
	postBusy   bool
	upgrading  bool
	probed     bool          // upgrading, and "3probe" was sent: a GET gets a noop at once
	upgraded   bool          // now on WebSocket after an upgrade from polling
	takenOver  bool          // upgraded, and the WebSocket is run by the caller (TakeUpgrades)
	takeAccept UpgradeAccept // TakeUpgrades'
	discard    bool          // polling was left: a held GET gets "6"
	closed     bool
	kind       closeKind
	final      bool // closed by the server (or the client): one GET is still owed the close packet (or a noop)
	reason     string
	onMessage  func([]byte, bool)
	onClose    func(string)
	pingTimer  *time.Timer
	pongTimer  *time.Timer
	lingering  *time.Timer
	cancelWS   func() // ends the WebSocket (probe or transport)
	cutPost    func() // ends the read of the body of the POST in flight
	done       chan struct{}
}

// ID returns the session id (sid).
func (ss *Session) ID() string { return ss.id }

// Header returns the headers of the handshake request.
func (ss *Session) Header() http.Header { return ss.header }

// RemoteAddr returns the address of the handshake request.
func (ss *Session) RemoteAddr() string { return ss.remote }

// RequestURI returns the request target of the handshake, as the client
// sent it ("/socket.io/?EIO=4&transport=polling&t=…").
func (ss *Session) RequestURI() string { return ss.uri }

// Buffered returns the number of packets queued and not yet written: a
// polling client that does not poll lets it grow until the session
// expires, so a caller that sends a lot checks it.
func (ss *Session) Buffered() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.wbuf)
}

// Transport returns "polling" or "websocket".
func (ss *Session) Transport() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.transport
}

// Done is closed when the session closes.
func (ss *Session) Done() <-chan struct{} { return ss.done }

// OnMessage sets the function called with each message.
func (ss *Session) OnMessage(f func(data []byte, binary bool)) {
	ss.mu.Lock()
	ss.onMessage = f
	ss.mu.Unlock()
}

// OnClose sets the function called once when the session closes, with the
// reason. Set after the close, it is called at once.
func (ss *Session) OnClose(f func(reason string)) {
	ss.mu.Lock()
	if ss.closed {
		r := ss.reason
		ss.mu.Unlock()
		f(r)
		return
	}
	ss.onClose = f
	ss.mu.Unlock()
}

// Send queues a message: text (sent as is) or binary.
func (ss *Session) Send(data []byte, binary bool) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return ErrClosed
	}
	if ss.takenOver {
		return ErrTakenOver
	}
	ss.wbuf = append(ss.wbuf, packet{typ: '4', data: data, binary: binary})
	ss.notifyLocked()
	return nil
}

// SendText queues a text message.
func (ss *Session) SendText(s string) error { return ss.Send([]byte(s), false) }

// SendBinary queues a binary message.
func (ss *Session) SendBinary(b []byte) error { return ss.Send(b, true) }

// Close closes the session: what is queued is still sent, then the close
// packet (over polling) or the close frame (over WebSocket).
func (ss *Session) Close() { ss.close(ReasonForcedClose, closeServer) }

func (ss *Session) notifyLocked() {
	close(ss.changed)
	ss.changed = make(chan struct{})
}

// close ends the session once; OnClose runs on the caller's goroutine.
func (ss *Session) close(reason string, kind closeKind) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	ss.reason = reason
	ss.kind = kind
	if ss.pingTimer != nil {
		ss.pingTimer.Stop()
	}
	if ss.pongTimer != nil {
		ss.pongTimer.Stop()
	}
	linger := false
	if kind == closeServer && ss.transport == Polling && !ss.upgraded {
		if reason == ReasonServerClose {
			// The server is shutting down: only a held GET gets the close.
			ss.kind = closeError
		} else if !ss.getHeld || len(ss.wbuf) > 0 {
			// A GET is still owed the close packet: the next one, or the
			// one after the held GET took what is queued.
			ss.final = true
			linger = true
			ss.lingering = time.AfterFunc(closeTimeout, func() { ss.srv.remove(ss) })
		}
	}
	if kind == closeClient && ss.transport == Polling && !ss.getHeld {
		// A GET the client sent before its close packet may arrive after
		// it: it gets the noop a held GET would have (once, within
		// PingTimeout), not an error.
		ss.final = true
		linger = true
		ss.lingering = time.AfterFunc(ss.srv.opts.PingTimeout, func() { ss.srv.remove(ss) })
	}
	if ss.cutPost != nil {
		// The POST in flight is cut, as engine.io destroys it; setting a
		// deadline writes nothing.
		ss.cutPost()
		ss.cutPost = nil
	}
	cancelWS := ss.cancelWS
	if kind != closeServer || ss.transport != WebSocket {
		// A probe WebSocket ends now; a WebSocket transport closed by the
		// server ends after its writer flushed the buffer.
		ss.cancelWS = nil
	} else {
		cancelWS = nil
	}
	f := ss.onClose
	ss.onClose = nil
	ss.notifyLocked()
	close(ss.done)
	ss.mu.Unlock()

	if !linger {
		ss.srv.remove(ss)
	}
	if cancelWS != nil {
		cancelWS()
	}
	if f != nil {
		f(reason)
	}
}

// ping queues a ping and arms the pong deadline (from when the ping is
// queued, as engine.io does).
func (ss *Session) ping() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return
	}
	ss.wbuf = append(ss.wbuf, packet{typ: '2'})
	ss.notifyLocked()
	ss.pongTimer = time.AfterFunc(ss.srv.opts.PingTimeout, func() { ss.close(ReasonPingTimeout, closeError) })
}

func (ss *Session) pong() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return
	}
	if ss.pongTimer != nil {
		ss.pongTimer.Stop()
	}
	ss.pingTimer.Reset(ss.srv.opts.PingInterval)
}

// onPacket handles one packet from the client, over either transport. It
// reports false when the session closed.
func (ss *Session) onPacket(typ byte, data []byte, binary bool) bool {
	switch typ {
	case '4':
		ss.mu.Lock()
		f := ss.onMessage
		ss.mu.Unlock()
		if f != nil {
			f(data, binary)
		}
	case '3':
		ss.pong()
	case '6':
	case '1':
		ss.close(ReasonTransportClose, closeClient)
		return false
	case '2':
		// "invalid heartbeat direction"
		ss.close(ReasonTransportError, closeError)
		return false
	default:
		ss.close(ReasonParseError, closeError)
		return false
	}
	return true
}

func (ss *Session) isClosed() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.closed
}

// requestURI is r's request target as the client sent it.
func requestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI() // a request that did not come from a client
}
