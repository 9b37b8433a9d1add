package wasmclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// ConnectError is the server's refusal of a connection (CONNECT_ERROR),
// for example from a middleware. It is final: the socket does not retry.
type ConnectError struct {
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *ConnectError) Error() string { return "tsunagi: connect refused: " + e.Message }

// ErrBufferFull is returned by Emit when the offline buffer is full.
var ErrBufferFull = errors.New("tsunagi: offline buffer full")

// Socket is a client of one namespace of a server.
type Socket struct {
	m   *Manager
	nsp string
	reg shared.Registry

	mu        sync.Mutex
	auth      any
	active    bool // wants to be connected: emits are buffered, not refused
	connected bool
	eng       *engine
	askedOn   *engine // the connection this socket's CONNECT went out on: once per connection
	id        string
	pid       string // connection state recovery: the private id …
	offset    string // … and the offset of the last event received
	recovered bool
	acks      map[int64]*pendingAck
	nextAck   int64
	buffer    []*wire.Packet // emits made while not connected
	held      []heldEvent    // events that arrived before the CONNECT reply
	waiters   []chan error   // Connect calls waiting for the outcome
	onConnect []func()
	onConnErr []func(error)
	onDisc    []func(reason string)
}

// heldEvent is an event received before the CONNECT reply: a server that
// recovers a session (Socket.IO's) sends the missed events first.
type heldEvent struct {
	name string
	args shared.Args
	id   int64
}

// holdIfConnecting keeps an event that arrived while the socket waits for
// its CONNECT reply; it runs on the reader, so order is kept.
func (s *Socket) holdIfConnecting(name string, args shared.Args, id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connected || !s.active {
		return false
	}
	if len(s.held) < s.m.opts.MaxBuffer {
		s.held = append(s.held, heldEvent{name, args, id})
	}
	return true
}

type pendingAck struct {
	ch   chan shared.Args
	sent bool // written on a connection: lost if it closes
}

func newSocket(m *Manager, nsp string) *Socket {
	return &Socket{m: m, nsp: nsp, auth: m.opts.Auth, acks: map[int64]*pendingAck{}}
}

// Manager is the connection this socket travels on (socket.io in JavaScript).
func (s *Socket) Manager() *Manager { return s.m }

// Namespace is the namespace this socket joins.
func (s *Socket) Namespace() string { return s.nsp }

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

// Active reports whether the socket is connected or trying to be.
func (s *Socket) Active() bool { return s.isActive() }

func (s *Socket) isActive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Recovered reports whether the last connection restored the previous
// session (connection state recovery): same id, rooms, and every missed event.
func (s *Socket) Recovered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recovered
}

// SetAuth sets the payload of the next CONNECT.
func (s *Socket) SetAuth(v any) {
	s.mu.Lock()
	s.auth = v
	s.mu.Unlock()
}

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

// Open starts connecting in the background, like socket.io-client's
// connect(): emits made meanwhile are buffered and sent once connected;
// failures reach the OnConnectError listeners, and the manager keeps
// trying unless reconnection is off.
func (s *Socket) Open() {
	s.mu.Lock()
	if s.active {
		s.mu.Unlock()
		return
	}
	s.active = true
	s.mu.Unlock()
	s.m.want(s)
}

// Connect connects and waits until the socket is connected, the server
// refuses it (*ConnectError), reconnection gives up, or ctx is done. On
// failure the socket stops trying.
func (s *Socket) Connect(ctx context.Context) error {
	ch := make(chan error, 1)
	s.mu.Lock()
	if s.connected {
		s.mu.Unlock()
		return nil
	}
	s.waiters = append(s.waiters, ch)
	s.mu.Unlock()
	s.Open()
	select {
	case err := <-ch:
		if err != nil {
			s.Disconnect()
		}
		return err
	case <-ctx.Done():
		s.Disconnect()
		return fmt.Errorf("tsunagi: connect: %w", ctx.Err())
	}
}

func (s *Socket) notifyWaiters(err error) {
	s.mu.Lock()
	ws := s.waiters
	s.waiters = nil
	s.mu.Unlock()
	for _, ch := range ws {
		ch <- err
	}
}

// connectPayload is the CONNECT data: the auth object, plus the private id
// and offset when the socket has a session to recover.
func (s *Socket) connectPayload() ([]byte, error) {
	s.mu.Lock()
	auth, pid, offset := s.auth, s.pid, s.offset
	s.mu.Unlock()
	return wire.ConnectPayload(auth, pid, offset)
}

// connected runs when the server accepts the CONNECT.
func (s *Socket) accepted(e *engine, id, pid string) {
	s.mu.Lock()
	if !s.active {
		s.mu.Unlock()
		return
	}
	s.eng = e
	s.connected = true
	s.id = id
	s.recovered = pid != "" && pid == s.pid
	s.pid = pid
	if !s.recovered {
		s.offset = ""
	}
	buffered := s.buffer
	s.buffer = nil
	held := s.held
	s.held = nil
	fns := s.onConnect
	s.mu.Unlock()
	for _, h := range held {
		e.task(func() { s.received(e, h.name, h.args, h.id) })
	}
	s.notifyWaiters(nil)
	for _, p := range buffered {
		if err := s.write(e, p); err != nil {
			s.m.report(err)
			break
		}
	}
	for _, fn := range fns {
		e.task(func() { s.m.safeCall("connect", func() error { fn(); return nil }) })
	}
}

// askOnce reports whether s has yet to send CONNECT on e, and marks it
// sent. Socket.Open (through Manager.want) and Manager.opened both ask for a
// socket that wants to connect, and may both see the new connection: the
// server takes a second CONNECT to the same namespace as bad input and ends
// the whole connection.
func (s *Socket) askOnce(e *engine) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.askedOn == e {
		return false
	}
	s.askedOn = e
	return true
}

// refused runs for CONNECT_ERROR: final, as in socket.io-client.
func (s *Socket) refused(err error) {
	s.mu.Lock()
	s.active = false
	s.askedOn = nil
	s.buffer = nil
	fns := s.onConnErr
	s.mu.Unlock()
	s.releaseAcks(true)
	s.notifyWaiters(err)
	for _, fn := range fns {
		s.m.safeCall("connect_error", func() error { fn(err); return nil })
	}
	s.m.maybeClose()
}

// connectError reports a failed connection attempt; retry says whether the
// manager tries again.
func (s *Socket) connectError(err error, retry bool) {
	if !s.isActive() {
		return
	}
	s.mu.Lock()
	fns := s.onConnErr
	s.mu.Unlock()
	for _, fn := range fns {
		s.m.safeCall("connect_error", func() error { fn(err); return nil })
	}
}

// giveUp runs when the manager stops trying.
func (s *Socket) giveUp(err error) {
	s.mu.Lock()
	s.active = false
	s.buffer = nil
	s.mu.Unlock()
	s.releaseAcks(true)
	s.notifyWaiters(err)
}

// Emit sends an event; []byte arguments travel as binary attachments.
// While the socket is not connected but trying to be, the event is
// buffered and sent on (re)connection, in order.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, wire.NoID, false)
}

// Volatile returns an Emitter whose events are dropped, not buffered, while
// the socket is not connected.
func (s *Socket) Volatile() shared.Emitter { return volatile{s} }

type volatile struct{ s *Socket }

func (v volatile) Emit(event string, args ...any) error {
	return v.s.emit(event, args, wire.NoID, true)
}

func (s *Socket) packet(event string, args []any, id int64) (*wire.Packet, error) {
	if wire.IsReserved(event) {
		return nil, fmt.Errorf("tsunagi: %q is a reserved event name", event)
	}
	return wire.NewEventPacket(s.nsp, event, args, id)
}

func (s *Socket) emit(event string, args []any, id int64, isVolatile bool) error {
	p, err := s.packet(event, args, id)
	if err != nil {
		return err
	}
	return s.send(event, p, isVolatile)
}

func (s *Socket) send(event string, p *wire.Packet, isVolatile bool) error {
	if out := s.reg.AnyOutgoing(); len(out) > 0 {
		_, a, _ := shared.ParseEvent(p.Data, p.Buffers)
		for _, fn := range out {
			fn(event, a)
		}
	}
	s.mu.Lock()
	if !s.connected {
		defer s.mu.Unlock()
		switch {
		case isVolatile:
			return nil
		case !s.active:
			return shared.ErrDisconnected
		case len(s.buffer) >= s.m.opts.MaxBuffer:
			return ErrBufferFull
		}
		s.buffer = append(s.buffer, p)
		return nil
	}
	e := s.eng
	s.mu.Unlock()
	return s.write(e, p)
}

func (s *Socket) write(e *engine, p *wire.Packet) error {
	if p.ID >= 0 {
		s.mu.Lock()
		if a := s.acks[p.ID]; a != nil {
			a.sent = true
		}
		s.mu.Unlock()
	}
	ctx := newSignal(s.m.opts.WriteTimeout)
	defer ctx.stop()
	return e.writePacket(ctx, p)
}

// EmitWithAck sends an event and waits for the server's acknowledgement
// until ctx is done (or Options.AckTimeout when ctx has no deadline).
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (shared.Args, error) {
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); !ok && s.m.opts.AckTimeout > 0 {
		t := time.NewTimer(s.m.opts.AckTimeout)
		defer t.Stop()
		timeout = t.C
	}
	ch := make(chan shared.Args, 1)
	s.mu.Lock()
	if !s.connected && !s.active {
		s.mu.Unlock()
		return shared.Args{}, shared.ErrDisconnected
	}
	id := s.nextAck
	s.nextAck++
	s.acks[id] = &pendingAck{ch: ch}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
	}()
	p, err := s.packet(event, args, id)
	if err != nil {
		return shared.Args{}, err
	}
	if err := s.send(event, p, false); err != nil {
		return shared.Args{}, err
	}
	select {
	case a, ok := <-ch:
		if !ok {
			return shared.Args{}, shared.ErrDisconnected
		}
		return a, nil
	case <-timeout:
		return shared.Args{}, fmt.Errorf("%w: %w", shared.ErrAckTimeout, context.DeadlineExceeded)
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return shared.Args{}, fmt.Errorf("%w: %w", shared.ErrAckTimeout, ctx.Err())
		}
		return shared.Args{}, ctx.Err()
	}
}

// pendingAcks is the number of acknowledgements awaited.
func (s *Socket) pendingAcks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acks)
}

func (s *Socket) resolveAck(id int64, args shared.Args) {
	s.mu.Lock()
	a, ok := s.acks[id]
	delete(s.acks, id)
	s.mu.Unlock()
	if ok {
		a.ch <- args
	}
}

// releaseAcks fails the acks that can no longer be answered: those sent on
// a closed connection, or all of them.
func (s *Socket) releaseAcks(all bool) {
	s.mu.Lock()
	var lost []*pendingAck
	for id, a := range s.acks {
		if all || a.sent {
			lost = append(lost, a)
			delete(s.acks, id)
		}
	}
	s.mu.Unlock()
	for _, a := range lost {
		close(a.ch)
	}
}

// received runs on the engine's dispatcher for each event of this namespace.
func (s *Socket) received(e *engine, event string, args shared.Args, id int64) {
	s.mu.Lock()
	if !s.connected || s.eng != e {
		s.mu.Unlock()
		return
	}
	if s.pid != "" && args.Len() > 0 {
		// With connection state recovery, the server appends the event's
		// offset as its last argument (as Socket.IO does).
		if raw := args.Raw(args.Len() - 1); len(raw) > 0 && raw[0] == '"' {
			if off, err := args.Value(args.Len() - 1); err == nil {
				s.offset = off.(string)
			}
		}
	}
	s.mu.Unlock()
	var send func([]any) error
	if id >= 0 {
		send = func(res []any) error { return s.sendAck(e, id, res) }
	}
	s.reg.Dispatch(event, &args, send, s.m.safeCall)
}

func (s *Socket) sendAck(e *engine, id int64, args []any) error {
	p, err := wire.NewAckPacket(s.nsp, id, args)
	if err != nil {
		return err
	}
	ctx := newSignal(s.m.opts.WriteTimeout)
	defer ctx.stop()
	return e.writePacket(ctx, p)
}

// Disconnect leaves the namespace with reason "io client disconnect" and
// stops reconnecting; the connection closes when no socket uses it.
func (s *Socket) Disconnect() error {
	s.mu.Lock()
	e, connected := s.eng, s.connected
	s.active = false
	s.buffer = nil
	s.mu.Unlock()
	if connected && e != nil {
		ctx := newSignal(s.m.opts.WriteTimeout)
		_ = e.writePacket(ctx, &wire.Packet{Type: wire.Disconnect, Namespace: s.nsp, ID: wire.NoID})
		ctx.stop()
	}
	s.onClose(ReasonClientDisconnect)
	s.releaseAcks(true)
	s.m.maybeClose()
	return nil
}

// serverDisconnect runs for a DISCONNECT packet: final, no reconnection.
func (s *Socket) serverDisconnect() {
	s.mu.Lock()
	s.active = false
	s.buffer = nil
	s.mu.Unlock()
	s.onClose(ReasonServerDisconnect)
	s.releaseAcks(true)
	s.m.maybeClose()
}

// onClose marks the socket disconnected and tells the listeners once.
func (s *Socket) onClose(reason string) {
	s.mu.Lock()
	s.held = nil
	s.askedOn = nil
	was := s.connected
	s.connected = false
	s.eng = nil
	s.id = ""
	fns := s.onDisc
	s.mu.Unlock()
	if !was {
		return
	}
	s.releaseAcks(false)
	for _, fn := range fns {
		s.m.safeCall("disconnect", func() error { fn(reason); return nil })
	}
}
