// Package wasmclient is the tsunagi client. Its core (dial, events, acks)
// is portable Go: it runs in the browser under GOOS=js GOARCH=wasm, where it
// replaces the socket.io JavaScript client, and natively, where it serves as
// a Go client for services and load tests.
//
//	sock, err := wasmclient.Dial(ctx, "http://127.0.0.1:8124", nil)
//	events.News.On(sock, func(n events.News) { … })
//	events.MyOtherEvent.Emit(sock, events.MyData{My: "data"})
package wasmclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared"
)

// Options configure a client Socket. The zero value of every field is its default.
type Options struct {
	// Auth is sent with CONNECT (socket.io-client's auth option); the
	// server's middleware sees it in the handshake.
	Auth any
	// Query is added to the handshake URL.
	Query url.Values
	// Path is where the server listens. Defaults to "/socket.io/".
	Path string
	// Header is sent with the WebSocket handshake (native only: browsers
	// do not let pages set handshake headers).
	Header http.Header
	// AckTimeout bounds EmitWithAck when its ctx has no deadline. Defaults to none.
	AckTimeout time.Duration
	// WriteTimeout bounds each write. Defaults to 10 s.
	WriteTimeout time.Duration
	// MaxBuffer is the most emits queued while the socket is connecting;
	// Emit returns ErrBufferFull beyond it. Defaults to 1024.
	MaxBuffer int
	// OnError receives errors that have no caller to return to: a handler's
	// error, a payload that did not decode, a recovered panic. Defaults to log.Printf.
	OnError func(error)
}

// Disconnect reasons, as socket.io-client names them.
const (
	ReasonServerDisconnect = "io server disconnect"
	ReasonClientDisconnect = "io client disconnect"
	ReasonPingTimeout      = "ping timeout"
	ReasonTransportClose   = "transport close"
	ReasonTransportError   = "transport error"
	ReasonParseError       = "parse error"
)

// ConnectError is the server's refusal of a connection (CONNECT_ERROR),
// for example from a middleware.
type ConnectError struct {
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *ConnectError) Error() string { return "tsunagi: connect refused: " + e.Message }

// Socket is a client connected to one namespace of a server.
type Socket struct {
	base *url.URL // the engine endpoint, without query
	nsp  string
	opts Options
	reg  shared.Registry

	mu         sync.Mutex
	eng        *engine
	id         string
	connected  bool
	acks       map[int64]chan shared.Args
	nextAck    int64
	onConnect  []func()
	onConnErr  []func(error)
	onDisc     []func(reason string)
	lastReason string
	active     bool             // connecting or connected: emits are buffered, not refused
	buffer     []*shared.Packet // emits made while connecting, sent on connect
}

// ErrBufferFull is returned by Emit when the offline buffer is full.
var ErrBufferFull = errors.New("tsunagi: offline buffer full")

// New returns an unconnected Socket for rawURL, whose path names the
// namespace ("http://host:port/admin"; "/" when empty). Call Connect.
func New(rawURL string, opts *Options) (*Socket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("tsunagi: %w", err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("tsunagi: unsupported URL scheme %q", u.Scheme)
	}
	s := &Socket{nsp: "/", acks: map[int64]chan shared.Args{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Path == "" {
		s.opts.Path = "/socket.io/"
	}
	if s.opts.MaxBuffer <= 0 {
		s.opts.MaxBuffer = 1024
	}
	if s.opts.WriteTimeout <= 0 {
		s.opts.WriteTimeout = 10 * time.Second
	}
	if u.Path != "" && u.Path != "/" {
		s.nsp = u.Path
	}
	q := u.Query()
	for k, vs := range s.opts.Query {
		q[k] = vs
	}
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u.Path = s.opts.Path
	u.RawQuery = q.Encode()
	u.Fragment = ""
	s.base = u
	return s, nil
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

// ID is the socket id the server assigned, empty while disconnected.
func (s *Socket) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Namespace is the namespace this socket joins.
func (s *Socket) Namespace() string { return s.nsp }

// On adds a handler for event; the returned func removes it. Handlers run
// one at a time, in arrival order, outside the library's locks.
func (s *Socket) On(event string, h shared.Handler) (off func()) { return s.reg.On(event, h) }

// Off removes every handler of event.
func (s *Socket) Off(event string) { s.reg.Off(event) }

// OnAny adds a listener for every incoming event.
func (s *Socket) OnAny(fn shared.AnyHandler) (off func()) { return s.reg.OnAny(fn) }

// OffAny removes every catch-all listener of incoming events.
func (s *Socket) OffAny() { s.reg.OffAny() }

// OnAnyOutgoing adds a listener for every event this socket emits.
func (s *Socket) OnAnyOutgoing(fn shared.AnyHandler) (off func()) { return s.reg.OnAnyOutgoing(fn) }

// OffAnyOutgoing removes every catch-all listener of outgoing events.
func (s *Socket) OffAnyOutgoing() { s.reg.OffAnyOutgoing() }

// OnConnect registers fn, called after each successful connection.
func (s *Socket) OnConnect(fn func()) {
	s.mu.Lock()
	s.onConnect = append(s.onConnect, fn)
	s.mu.Unlock()
}

// OnConnectError registers fn, called when a connection attempt fails.
func (s *Socket) OnConnectError(fn func(error)) {
	s.mu.Lock()
	s.onConnErr = append(s.onConnErr, fn)
	s.mu.Unlock()
}

// OnDisconnect registers fn, called with the reason when the socket disconnects.
func (s *Socket) OnDisconnect(fn func(reason string)) {
	s.mu.Lock()
	s.onDisc = append(s.onDisc, fn)
	s.mu.Unlock()
}

func (s *Socket) report(err error) {
	if s.opts.OnError != nil {
		s.opts.OnError(err)
		return
	}
	log.Printf("%v", err)
}

// safeCall runs a user callback, reporting its error or panic.
func (s *Socket) safeCall(what string, fn func() error) {
	defer func() {
		if r := recover(); r != nil {
			s.report(fmt.Errorf("tsunagi: %s handler panicked: %v\n%s", what, r, debug.Stack()))
		}
	}()
	if err := fn(); err != nil {
		s.report(err)
	}
}

// Connect opens the connection and joins the namespace. It returns a
// *ConnectError when the server refuses.
func (s *Socket) Connect(ctx context.Context) error {
	s.mu.Lock()
	if s.connected {
		s.mu.Unlock()
		return nil
	}
	s.active = true
	s.mu.Unlock()
	err := s.connect(ctx)
	if err != nil {
		s.mu.Lock()
		s.active = false
		s.buffer = nil
		fns := s.onConnErr
		s.mu.Unlock()
		s.failAcks()
		for _, fn := range fns {
			s.safeCall("connect_error", func() error { fn(err); return nil })
		}
	}
	return err
}

func (s *Socket) connect(ctx context.Context) error {
	ws, err := dial(ctx, s.base.String(), s.opts.Header)
	if err != nil {
		return fmt.Errorf("tsunagi: dial: %w", err)
	}
	e := newEngine(s, ws)
	if err := e.handshake(ctx); err != nil {
		ws.CloseNow()
		return err
	}
	var auth []byte
	if s.opts.Auth != nil {
		if auth, err = json.Marshal(s.opts.Auth); err != nil {
			ws.CloseNow()
			return fmt.Errorf("tsunagi: auth: %w", err)
		}
	}
	if err := e.writePacket(ctx, &shared.Packet{Type: shared.Connect, Namespace: s.nsp, ID: shared.NoID, Data: auth}); err != nil {
		ws.CloseNow()
		return err
	}
	id, err := e.awaitConnect(ctx)
	if err != nil {
		ws.Close(websocket.StatusNormalClosure, "")
		return err
	}
	s.mu.Lock()
	s.eng = e
	s.id = id
	s.connected = true
	fns := s.onConnect
	buffered := s.buffer
	s.buffer = nil
	s.mu.Unlock()
	e.start()
	for _, p := range buffered {
		wctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
		err := e.writePacket(wctx, p)
		cancel()
		if err != nil {
			break
		}
	}
	for _, fn := range fns {
		e.task(func() { s.safeCall("connect", func() error { fn(); return nil }) })
	}
	return nil
}

// Open starts connecting in the background, like socket.io-client's
// connect(): emits made meanwhile are buffered and sent once connected, and
// a failure reaches the OnConnectError listeners.
func (s *Socket) Open() {
	s.mu.Lock()
	if s.connected || s.active {
		s.mu.Unlock()
		return
	}
	s.active = true
	s.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s.Connect(ctx)
	}()
}

func (s *Socket) failAcks() {
	s.mu.Lock()
	acks := s.acks
	s.acks = map[int64]chan shared.Args{}
	s.mu.Unlock()
	for _, ch := range acks {
		close(ch)
	}
}

// Emit sends an event. []byte arguments travel as binary attachments.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, shared.NoID)
}

func (s *Socket) emit(event string, args []any, id int64) error {
	if shared.IsReserved(event) {
		return fmt.Errorf("tsunagi: %q is a reserved event name", event)
	}
	var enc shared.Encoder
	if err := enc.AppendArgs(event, args); err != nil {
		return err
	}
	p := &shared.Packet{Type: shared.EventPacket, Namespace: s.nsp, ID: id, Data: enc.Buf, Buffers: enc.Buffers}
	if len(enc.Buffers) > 0 {
		p.Type = shared.BinaryEvent
	}
	if out := s.reg.AnyOutgoing(); len(out) > 0 {
		_, a, _ := shared.ParseEvent(p.Data, p.Buffers)
		for _, fn := range out {
			fn(event, a)
		}
	}
	s.mu.Lock()
	e := s.eng
	connected, active := s.connected, s.active
	if !connected && active {
		defer s.mu.Unlock()
		if len(s.buffer) >= s.opts.MaxBuffer {
			return ErrBufferFull
		}
		s.buffer = append(s.buffer, p)
		return nil
	}
	s.mu.Unlock()
	if !connected {
		return shared.ErrDisconnected
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
	defer cancel()
	return e.writePacket(ctx, p)
}

// EmitWithAck sends an event and waits for the server's acknowledgement
// until ctx is done (or Options.AckTimeout when ctx has no deadline).
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (shared.Args, error) {
	if _, ok := ctx.Deadline(); !ok && s.opts.AckTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.AckTimeout)
		defer cancel()
	}
	ch := make(chan shared.Args, 1)
	s.mu.Lock()
	if !s.connected && !s.active {
		s.mu.Unlock()
		return shared.Args{}, shared.ErrDisconnected
	}
	id := s.nextAck
	s.nextAck++
	s.acks[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
	}()
	if err := s.emit(event, args, id); err != nil {
		return shared.Args{}, err
	}
	select {
	case a, ok := <-ch:
		if !ok {
			return shared.Args{}, shared.ErrDisconnected
		}
		return a, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return shared.Args{}, fmt.Errorf("%w: %w", shared.ErrAckTimeout, ctx.Err())
		}
		return shared.Args{}, ctx.Err()
	}
}

// PendingAcks is the number of acknowledgements awaited.
func (s *Socket) PendingAcks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acks)
}

func (s *Socket) resolveAck(id int64, args shared.Args) {
	s.mu.Lock()
	ch, ok := s.acks[id]
	delete(s.acks, id)
	s.mu.Unlock()
	if ok {
		ch <- args
	}
}

// dispatch runs the handlers of one event, on the engine's dispatcher.
func (s *Socket) dispatch(e *engine, event string, args shared.Args, id int64) {
	var ack shared.AckFunc
	if id >= 0 {
		var once sync.Once
		ack = func(res ...any) error {
			err := fmt.Errorf("tsunagi: ack for %q already sent", event)
			once.Do(func() { err = s.sendAck(e, id, res) })
			return err
		}
	}
	for _, fn := range s.reg.Any() {
		s.safeCall("onAny", func() error { fn(event, args); return nil })
	}
	for _, h := range s.reg.Handlers(event) {
		s.safeCall(event, func() error { return h(args, ack) })
	}
}

func (s *Socket) sendAck(e *engine, id int64, args []any) error {
	var enc shared.Encoder
	if err := enc.AppendArgs("", args); err != nil {
		return err
	}
	p := &shared.Packet{Type: shared.Ack, Namespace: s.nsp, ID: id, Data: enc.Buf, Buffers: enc.Buffers}
	if len(enc.Buffers) > 0 {
		p.Type = shared.BinaryAck
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
	defer cancel()
	return e.writePacket(ctx, p)
}

// Disconnect leaves the namespace and closes the connection, with reason
// "io client disconnect".
func (s *Socket) Disconnect() error {
	s.mu.Lock()
	e := s.eng
	s.active = false
	s.buffer = nil
	s.mu.Unlock()
	if e == nil {
		s.failAcks()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
	defer cancel()
	_ = e.writePacket(ctx, &shared.Packet{Type: shared.Disconnect, Namespace: s.nsp, ID: shared.NoID})
	e.close(ReasonClientDisconnect)
	e.wait()
	return nil
}

// closed is called once per engine when it has ended.
func (s *Socket) closed(e *engine, reason string) {
	s.mu.Lock()
	if s.eng != e {
		s.mu.Unlock()
		return
	}
	s.eng = nil
	wasConnected := s.connected
	s.connected = false
	s.active = false
	s.id = ""
	s.lastReason = reason
	acks := s.acks
	s.acks = map[int64]chan shared.Args{}
	fns := s.onDisc
	s.mu.Unlock()
	for _, ch := range acks {
		close(ch)
	}
	if !wasConnected {
		return
	}
	for _, fn := range fns {
		s.safeCall("disconnect", func() error { fn(reason); return nil })
	}
}
