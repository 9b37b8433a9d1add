package wasmclient

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Manager holds one connection to a server, reconnects it when it drops,
// and carries the Sockets of one or more namespaces over it
// (socket.io-client's Manager).
type Manager struct {
	wsURL   string // the engine endpoint for WebSocket, with EIO and transport in the query
	pollURL string // the same for polling
	opts    Options
	client  *http.Client
	do      roundTrip

	wsWorked    atomic.Bool // a WebSocket connection or upgrade succeeded (RememberUpgrade)
	upgradeGate func()      // for tests: runs before an upgrade starts
	onUpgrade   []func(transport string)

	mu       sync.Mutex
	eng      *engine
	sockets  map[string]*Socket
	opening  bool          // an open loop is running
	stop     chan struct{} // closed by Close: ends the open loop
	closed   bool
	attempts int

	onAttempt []func(attempt int)
	onRecon   []func(attempt int)
	onReErr   []func(error)
	onFailed  []func()
	onOpen    []func()
	onClose   []func(reason string)
	onPing    []func()
}

// NewManager returns a Manager for the server at rawURL ("http://host:port");
// the URL's path is ignored: namespaces are chosen with Socket.
func NewManager(rawURL string, opts *Options) (*Manager, error) {
	u, err := parseLink(rawURL)
	if err != nil {
		return nil, err
	}
	var secure bool
	switch u.scheme {
	case "http", "ws":
	case "https", "wss":
		secure = true
	default:
		return nil, fmt.Errorf("tsunagi: unsupported URL scheme %q", u.scheme)
	}
	m := &Manager{opts: opts.withDefaults(), sockets: map[string]*Socket{}, stop: make(chan struct{})}
	for _, t := range m.opts.Transports {
		if t != TransportPolling && t != TransportWebSocket {
			return nil, fmt.Errorf("tsunagi: unknown transport %q in Options.Transports: use %q or %q", t, TransportPolling, TransportWebSocket)
		}
	}
	m.client = newHTTPClient()
	m.do = newRoundTrip(m.client)
	q := parseQuery(u.query)
	for k, vs := range m.opts.Query {
		q[k] = vs
	}
	q["EIO"] = []string{"4"}
	u.path = m.opts.Path
	u.fragment = ""
	for _, t := range []string{TransportWebSocket, TransportPolling} {
		q["transport"] = []string{t}
		u.query = encodeQuery(q)
		switch {
		case t == TransportWebSocket && secure:
			u.scheme = "wss"
		case t == TransportWebSocket:
			u.scheme = "ws"
		case secure:
			u.scheme = "https"
		default:
			u.scheme = "http"
		}
		if t == TransportWebSocket {
			m.wsURL = u.String()
		} else {
			m.pollURL = u.String()
		}
	}
	return m, nil
}

// Transport returns the name of the transport the connection runs on,
// "websocket" or "polling" (socket.io-client's io.engine.transport.name),
// or "" when it is not connected. It changes to "websocket" after an upgrade.
func (m *Manager) Transport() string {
	m.mu.Lock()
	e := m.eng
	m.mu.Unlock()
	if e == nil {
		return ""
	}
	return e.transport()
}

// OnUpgrade registers fn, called with "websocket" each time a connection
// that opened over polling has moved to WebSocket (engine.io-client's
// "upgrade" event).
func (m *Manager) OnUpgrade(fn func(transport string)) {
	m.add(func() { m.onUpgrade = append(m.onUpgrade, fn) })
}

// transports is the order in which a connection attempt tries them.
func (m *Manager) transports() []string {
	ts := m.opts.Transports
	if len(ts) == 0 {
		return []string{TransportWebSocket, TransportPolling}
	}
	if m.opts.RememberUpgrade && ts[0] != TransportWebSocket && slices.Contains(ts, TransportWebSocket) && m.wsWorked.Load() {
		return append([]string{TransportWebSocket}, slices.DeleteFunc(slices.Clone(ts), func(t string) bool { return t == TransportWebSocket })...)
	}
	return ts
}

// mayUpgrade reports whether a polling connection whose server offers
// upgrades should probe WebSocket.
func (m *Manager) mayUpgrade(upgrades []string) bool {
	return !m.opts.NoUpgrade && slices.Contains(upgrades, TransportWebSocket) &&
		(len(m.opts.Transports) == 0 || slices.Contains(m.opts.Transports, TransportWebSocket))
}

func (m *Manager) upgraded() {
	m.wsWorked.Store(true)
	m.mu.Lock()
	fns := m.onUpgrade
	m.mu.Unlock()
	for _, fn := range fns {
		m.safeCall("upgrade", func() error { fn(TransportWebSocket); return nil })
	}
}

// upgradeFailed is a probe that did not succeed: the connection stays on
// polling, as engine.io-client's upgradeError leaves it, and RememberUpgrade
// forgets the last success.
func (m *Manager) upgradeFailed() { m.wsWorked.Store(false) }

// New returns an unconnected Socket for rawURL, whose path names the
// namespace ("http://host:port/admin"; "/" when empty), on a Manager of its
// own. Call Connect or Open.
func New(rawURL string, opts *Options) (*Socket, error) {
	m, err := NewManager(rawURL, opts)
	if err != nil {
		return nil, err
	}
	u, _ := parseLink(rawURL)
	return m.Socket(u.path), nil
}

// Dial returns a Socket connected to rawURL, or the reason it is not.
func Dial(ctx context.Context, rawURL string, opts *Options) (*Socket, error) {
	s, err := New(rawURL, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Connect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Socket returns the Socket of namespace nsp on this connection, creating it.
func (m *Manager) Socket(nsp string) *Socket {
	if nsp == "" {
		nsp = "/"
	} else if nsp[0] != '/' {
		nsp = "/" + nsp
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sockets[nsp]; ok {
		return s
	}
	s := newSocket(m, nsp)
	m.sockets[nsp] = s
	return s
}

// OnReconnectAttempt registers fn, called before each reconnection attempt.
func (m *Manager) OnReconnectAttempt(fn func(attempt int)) {
	m.add(func() { m.onAttempt = append(m.onAttempt, fn) })
}

// OnReconnect registers fn, called after a successful reconnection.
func (m *Manager) OnReconnect(fn func(attempt int)) {
	m.add(func() { m.onRecon = append(m.onRecon, fn) })
}

// OnReconnectError registers fn, called when a reconnection attempt fails.
func (m *Manager) OnReconnectError(fn func(error)) {
	m.add(func() { m.onReErr = append(m.onReErr, fn) })
}

// OnReconnectFailed registers fn, called when ReconnectionAttempts are used up.
func (m *Manager) OnReconnectFailed(fn func()) { m.add(func() { m.onFailed = append(m.onFailed, fn) }) }

// OnOpen registers fn, called each time the connection opens.
func (m *Manager) OnOpen(fn func()) { m.add(func() { m.onOpen = append(m.onOpen, fn) }) }

// OnClose registers fn, called with the reason each time the connection closes.
func (m *Manager) OnClose(fn func(reason string)) {
	m.add(func() { m.onClose = append(m.onClose, fn) })
}

// OnPing registers fn, called each time the client has answered a heartbeat
// ping of the server (socket.io-client's "ping"). It runs on the
// connection's reader: keep it short.
func (m *Manager) OnPing(fn func()) { m.add(func() { m.onPing = append(m.onPing, fn) }) }

func (m *Manager) pinged() {
	m.mu.Lock()
	fns := m.onPing
	m.mu.Unlock()
	for _, fn := range fns {
		m.safeCall("ping", func() error { fn(); return nil })
	}
}

func (m *Manager) add(f func()) {
	m.mu.Lock()
	f()
	m.mu.Unlock()
}

func (m *Manager) report(err error) {
	if m.opts.OnError != nil {
		m.opts.OnError(err)
		return
	}
	log.Printf("%v", err)
}

// safeCall runs a user callback, reporting its error or panic.
func (m *Manager) safeCall(what string, fn func() error) {
	defer func() {
		if r := recover(); r != nil {
			m.report(fmt.Errorf("tsunagi: %s handler panicked: %v\n%s", what, r, debug.Stack()))
		}
	}()
	if err := fn(); err != nil {
		m.report(err)
	}
}

// want is called when a socket wants to be connected: it sends CONNECT on
// the open connection, or opens one.
func (m *Manager) want(s *Socket) {
	m.mu.Lock()
	m.closed = false
	e := m.eng
	if e == nil && !m.opening {
		m.opening = true
		m.stop = make(chan struct{})
		go m.openLoop(m.stop, 0)
	}
	m.mu.Unlock()
	if e != nil {
		e.sendConnect(s)
	}
}

// openLoop dials until it succeeds, reconnection is off, the attempts are
// used up or Close is called. attempt is 0 for a first connection.
func (m *Manager) openLoop(stop chan struct{}, attempt int) {
	bo := backoff{min: m.opts.ReconnectionDelay, max: m.opts.ReconnectionDelayMax, factor: m.opts.RandomizationFactor}
	for {
		if attempt > 0 {
			select {
			case <-time.After(bo.delay(attempt - 1)):
			case <-stop:
				m.finishOpen(nil)
				return
			}
			m.mu.Lock()
			fns := m.onAttempt
			m.attempts = attempt
			m.mu.Unlock()
			for _, fn := range fns {
				m.safeCall("reconnect_attempt", func() error { fn(attempt); return nil })
			}
		}
		if !m.anyActive() {
			m.finishOpen(nil)
			return
		}
		ctx := newSignal(m.opts.Timeout)
		go func() {
			select {
			case <-stop:
				ctx.stop()
			case <-ctx.Done():
			}
		}()
		e, err := m.dial(ctx)
		ctx.stop()
		if err == nil {
			select {
			case <-stop:
				e.close(ReasonClientDisconnect)
				m.finishOpen(nil)
				return
			default:
			}
			m.finishOpen(e)
			m.opened(e, attempt)
			return
		}
		if attempt == 0 {
			// socket.io-client: the first failure is each socket's connect_error.
			m.eachSocket(func(s *Socket) { s.connectError(err, !m.opts.NoReconnection) })
		} else {
			m.mu.Lock()
			fns := m.onReErr
			m.mu.Unlock()
			for _, fn := range fns {
				m.safeCall("reconnect_error", func() error { fn(err); return nil })
			}
		}
		if m.opts.NoReconnection {
			m.finishOpen(nil)
			m.eachSocket(func(s *Socket) { s.giveUp(err) })
			return
		}
		if m.opts.ReconnectionAttempts > 0 && attempt >= m.opts.ReconnectionAttempts {
			m.finishOpen(nil)
			m.mu.Lock()
			fns := m.onFailed
			m.mu.Unlock()
			for _, fn := range fns {
				m.safeCall("reconnect_failed", func() error { fn(); return nil })
			}
			m.eachSocket(func(s *Socket) { s.giveUp(errReconnectFailed) })
			return
		}
		attempt++
	}
}

var errReconnectFailed = errors.New("tsunagi: reconnection attempts used up")

func (m *Manager) finishOpen(e *engine) {
	m.mu.Lock()
	m.opening = false
	if e != nil {
		m.eng = e
		m.attempts = 0
	}
	m.mu.Unlock()
}

// opened runs after a connection opens: sockets that want to be connected
// send CONNECT.
func (m *Manager) opened(e *engine, attempt int) {
	e.start()
	m.mu.Lock()
	open, recon := m.onOpen, m.onRecon
	m.mu.Unlock()
	for _, fn := range open {
		m.safeCall("open", func() error { fn(); return nil })
	}
	if attempt > 0 {
		for _, fn := range recon {
			m.safeCall("reconnect", func() error { fn(attempt); return nil })
		}
	}
	m.eachSocket(func(s *Socket) {
		if s.isActive() {
			e.sendConnect(s)
		}
	})
}

// dial opens a connection on the first transport that works, in the
// order of transports (socket.io-client's tryAllTransports).
func (m *Manager) dial(ctx context.Context) (*engine, error) {
	var errs []error
	for _, t := range m.transports() {
		var e *engine
		var err error
		if t == TransportWebSocket {
			e, err = m.dialWebSocket(ctx)
			m.wsWorked.Store(err == nil)
		} else {
			e, err = m.dialPolling(ctx)
		}
		if err == nil {
			return e, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

func (m *Manager) dialWebSocket(ctx context.Context) (*engine, error) {
	ws, err := dial(ctx, m.wsURL, m.opts.Header, m.client)
	if err != nil {
		return nil, fmt.Errorf("tsunagi: dial: %w", err)
	}
	e := newEngine(m)
	e.rws, e.ws = ws, ws
	if err := e.handshake(ctx); err != nil {
		ws.CloseNow()
		return nil, err
	}
	return e, nil
}

func (m *Manager) dialPolling(ctx context.Context) (*engine, error) {
	h := pollHeader(m.opts.Header, m.opts.WithCredentials)
	open, rest, err := handshakePolling(ctx, m.do, m.pollURL, h)
	if err != nil {
		return nil, err
	}
	e := newEngine(m)
	e.open, e.pending = open, rest
	e.poll = newPoller(m.do, m.pollURL+"&sid="+url.QueryEscape(open.SID), h, open.MaxPayload,
		func(error) { e.close(ReasonTransportError) })
	e.rpoll, e.polled = e.poll, e.poll
	return e, nil
}

func (m *Manager) eachSocket(fn func(*Socket)) {
	m.mu.Lock()
	socks := make([]*Socket, 0, len(m.sockets))
	for _, s := range m.sockets {
		socks = append(socks, s)
	}
	m.mu.Unlock()
	for _, s := range socks {
		fn(s)
	}
}

func (m *Manager) anyActive() bool {
	active := false
	m.eachSocket(func(s *Socket) { active = active || s.isActive() })
	return active
}

func (m *Manager) socket(nsp string) *Socket {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sockets[nsp]
}

// engineClosed runs once per connection when it has ended: every socket
// disconnects with reason and, unless the end was deliberate, the manager
// reconnects.
func (m *Manager) engineClosed(e *engine, reason string) {
	m.mu.Lock()
	if m.eng != e {
		m.mu.Unlock()
		return
	}
	m.eng = nil
	fns := m.onClose
	m.mu.Unlock()
	for _, fn := range fns {
		m.safeCall("close", func() error { fn(reason); return nil })
	}
	m.eachSocket(func(s *Socket) { s.onClose(reason) })
	if deliberate(reason) || m.opts.NoReconnection || !m.anyActive() {
		return
	}
	m.mu.Lock()
	if m.closed || m.opening || m.eng != nil {
		m.mu.Unlock()
		return
	}
	m.opening = true
	m.stop = make(chan struct{})
	stop := m.stop
	m.mu.Unlock()
	go m.openLoop(stop, 1)
}

// maybeClose closes the connection when no socket wants it any more.
func (m *Manager) maybeClose() {
	if m.anyActive() {
		return
	}
	m.Close()
}

// Close ends the connection and stops reconnecting; every socket
// disconnects with reason "io client disconnect".
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	e := m.eng
	if m.opening {
		select {
		case <-m.stop:
		default:
			close(m.stop)
		}
	}
	m.mu.Unlock()
	if e != nil {
		// Not waiting for it to end: Close may run in a handler, on the
		// dispatcher the connection waits for.
		e.close(ReasonClientDisconnect)
	}
}
