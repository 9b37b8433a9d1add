package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// Handshake is what the client sent when it connected.
type Handshake struct {
	Headers http.Header
	Query   url.Values
	// Auth is the CONNECT payload (socket.io-client's auth option), or nil.
	Auth    json.RawMessage
	Address string // remote address
	Time    time.Time
	URL     string
}

// Socket is one client connected to one namespace.
type Socket struct {
	conn     *conn
	nsp      *Namespace
	id       string
	auth     json.RawMessage // of the CONNECT: the rest of Handshake is the conn's
	joinedAt int64           // Unix nanoseconds
	stats    *nsStats        // the namespace's counters

	reg shared.Registry

	mu         sync.Mutex
	onDisc     []func(reason string)
	rare       *socketRare // OnError listeners and packet middleware, which few sockets have
	acks       map[int64]func(shared.Args, error)
	data       any
	connected  bool
	disconnect string
	pid        string // private id, for connection state recovery
	recovered  bool
}

// socketRare holds what few sockets have, so the others do not pay for it.
type socketRare struct {
	onErr []func(error)
	mws   []PacketMiddleware
}

func newSocket(c *conn, ns *Namespace, auth json.RawMessage, at time.Time) *Socket {
	return &Socket{
		conn:      c,
		nsp:       ns,
		id:        newID(),
		auth:      auth,
		joinedAt:  at.UnixNano(),
		stats:     c.srv.stats.namespace(ns),
		connected: true,
	}
}

// handshake describes the connection's HTTP request and a CONNECT's auth
// payload. It is made when asked for: an idle socket keeps only the auth
// payload and the time, the conn the request's headers and URI.
func (c *conn) handshake(auth json.RawMessage, at time.Time) Handshake {
	_, rawQuery, _ := strings.Cut(c.uri, "?")
	query, _ := url.ParseQuery(rawQuery) // as url.URL.Query: what parses
	return Handshake{
		Headers: c.header.Header(),
		Query:   query,
		Auth:    auth,
		Address: c.remote,
		Time:    at,
		URL:     c.uri,
	}
}

// ID is the socket's id, distinct from the Engine.IO session id.
func (s *Socket) ID() string { return s.id }

// Recovered reports whether this socket restored a session that lost its
// connection (Options.Recovery): same id, rooms and Data, and the events it
// missed were delivered.
func (s *Socket) Recovered() bool { return s.recovered }

// Namespace is the namespace the socket belongs to.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake is what the client sent when it connected.
func (s *Socket) Handshake() Handshake {
	return s.conn.handshake(s.auth, time.Unix(0, s.joinedAt))
}

// Connected reports whether the socket is still connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Data returns the value stored with SetData.
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData stores a value with the socket (Socket.IO's socket.data).
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// On adds a handler for event. Handlers run one at a time per connection,
// in arrival order, outside the library's locks; they should not block for long.
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

// OnDisconnect registers fn, called once with the reason when the socket disconnects.
func (s *Socket) OnDisconnect(fn func(reason string)) {
	s.mu.Lock()
	s.onDisc = append(s.onDisc, fn)
	s.mu.Unlock()
}

// OnError registers fn for errors about this socket that have no caller
// to return to; today, an event refused by a packet middleware (Socket.IO's
// "error" event on a server socket). Without one, such errors are logged.
func (s *Socket) OnError(fn func(error)) {
	s.mu.Lock()
	r := s.rarely()
	r.onErr = append(r.onErr, fn)
	s.mu.Unlock()
}

// PacketMiddleware runs for each event a client sends on a socket, before
// any handler (Socket.IO's socket.use). It returns an error to refuse the
// event: no handler or OnAny listener sees it, the socket's OnError
// listeners get the error, and when the client asked for an ack it is
// answered at once with [null, {"message": err.Error()}], the form a
// Request handler's error takes, so a caller does not wait for a timeout.
type PacketMiddleware func(event string, args shared.Args) error

// Use adds a packet middleware; they run in order, on the connection's
// dispatcher, like handlers.
func (s *Socket) Use(fn PacketMiddleware) {
	s.mu.Lock()
	r := s.rarely()
	r.mws = append(r.mws, fn)
	s.mu.Unlock()
}

// rarely returns s.rare, made on first use, under s.mu.
func (s *Socket) rarely() *socketRare {
	if s.rare == nil {
		s.rare = &socketRare{}
	}
	return s.rare
}

// Emit sends an event to this socket. []byte arguments travel as binary attachments.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, wire.NoID)
}

func (s *Socket) emit(event string, args []any, id int64) error {
	if wire.IsReserved(event) {
		return fmt.Errorf("tsunagi: %q is a reserved event name", event)
	}
	p, err := encodeEvent(s.nsp.name, event, args, id)
	if err != nil {
		return err
	}
	rec := s.nsp.rec
	if !s.Connected() && (rec == nil || id >= 0) {
		return shared.ErrDisconnected
	}
	if out := s.reg.AnyOutgoing(); len(out) > 0 {
		_, a, _ := shared.ParseEvent(p.Data, p.Buffers)
		for _, fn := range out {
			fn(event, a)
		}
	}
	if rec != nil && id < 0 {
		// Kept with an offset, as a broadcast to the socket's own room, so
		// a session that recovers gets it even if it was sent meanwhile.
		return rec.broadcast(s.nsp, event, args, BroadcastOptions{Rooms: []string{s.id}})
	}
	if err := s.conn.sendPacket(p); err != nil {
		return err
	}
	s.stats.eventsOut.Add(1)
	return nil
}

func encodeEvent(nsp, event string, args []any, id int64) (*wire.Packet, error) {
	return wire.NewEventPacket(nsp, event, args, id)
}

// EmitWithAck sends an event and waits for the client's acknowledgement
// until ctx is done, or for Options.AckTimeout when ctx has no deadline.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (shared.Args, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.conn.srv.opts.AckTimeout)
		defer cancel()
	}
	type reply struct {
		a   shared.Args
		err error
	}
	ch := make(chan reply, 1)
	id := s.nsp.nextAckID()
	if !s.addAck(id, func(a shared.Args, err error) { ch <- reply{a, err} }) {
		return shared.Args{}, shared.ErrDisconnected
	}
	defer s.forgetAck(id)
	if err := s.emit(event, args, id); err != nil {
		return shared.Args{}, err
	}
	select {
	case r := <-ch:
		return r.a, r.err
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			s.dropAck(id) // counted as timed out
			return shared.Args{}, fmt.Errorf("%w: %w", shared.ErrAckTimeout, ctx.Err())
		}
		return shared.Args{}, ctx.Err()
	}
}

// addAck registers fn for the reply to ack id; fn runs once, with the
// reply or with ErrDisconnected. It fails when the socket is disconnected.
func (s *Socket) addAck(id int64, fn func(shared.Args, error)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connected {
		return false
	}
	if s.acks == nil {
		s.acks = map[int64]func(shared.Args, error){}
	}
	if _, dup := s.acks[id]; !dup {
		s.conn.srv.stats.acksPending.Add(1)
	}
	s.acks[id] = fn
	return true
}

// dropAck forgets ack id, whose caller gave up waiting: when it was still
// pending, it counts as timed out.
func (s *Socket) dropAck(id int64) {
	if s.takeAck(id) != nil {
		s.conn.srv.stats.acksTimedOut.Add(1)
	}
}

// forgetAck forgets ack id, which is no longer awaited: answered, or its
// caller left for another reason than its deadline.
func (s *Socket) forgetAck(id int64) { s.takeAck(id) }

// takeAck removes and returns the callback of ack id, nil when it is not
// pending.
func (s *Socket) takeAck(id int64) func(shared.Args, error) {
	s.mu.Lock()
	fn, ok := s.acks[id]
	if ok {
		delete(s.acks, id)
		s.conn.srv.stats.acksPending.Add(-1)
	}
	s.mu.Unlock()
	return fn
}

func (s *Socket) resolveAck(id int64, args shared.Args) {
	if fn := s.takeAck(id); fn != nil {
		fn(args, nil)
	}
}

// deliver queues a broadcast's frames; a volatile one only when nothing is
// waiting. It reports whether they were queued.
func (s *Socket) deliver(frames []frame, volatile bool) bool {
	if !s.Connected() {
		return false
	}
	var ok bool
	if volatile {
		ok = s.conn.sendVolatile(frames)
	} else {
		ok = s.conn.send(frames...) == nil
	}
	if ok {
		s.stats.eventsOut.Add(1)
	}
	return ok
}

// dispatch runs the handlers of one incoming event (on the dispatcher goroutine).
func (s *Socket) dispatch(event string, args *shared.Args, id int64) {
	if !s.Connected() {
		return
	}
	if err := s.runMiddleware(event, args); err != nil {
		if id >= 0 {
			_ = s.sendAck(id, []any{nil, shared.RemoteError{Message: err.Error()}})
		}
		s.reportError(fmt.Errorf("tsunagi: event %q refused: %w", event, err))
		return
	}

	var send func([]any) error
	if id >= 0 {
		send = func(res []any) error { return s.sendAck(id, res) }
	}
	s.reg.Dispatch(event, args, send, s.conn.safeCall)
}

func (s *Socket) runMiddleware(event string, args *shared.Args) (err error) {
	var mws []PacketMiddleware
	s.mu.Lock()
	if s.rare != nil {
		mws = s.rare.mws
	}
	s.mu.Unlock()
	for _, mw := range mws {
		s.conn.safeCall("socket middleware", func() error {
			defer func() {
				if r := recover(); r != nil {
					err = errors.New("middleware failed")
					panic(r)
				}
			}()
			err = mw(event, *args)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Socket) reportError(err error) {
	var fns []func(error)
	s.mu.Lock()
	if s.rare != nil {
		fns = s.rare.onErr
	}
	s.mu.Unlock()
	if len(fns) == 0 {
		s.conn.srv.log.Info("tsunagi: socket error", "sid", s.conn.sid, "socket", s.id, "nsp", s.nsp.name, "err", err)
		return
	}
	for _, fn := range fns {
		s.conn.safeCall("error", func() error { fn(err); return nil })
	}
}

func (s *Socket) sendAck(id int64, args []any) error {
	p, err := wire.NewAckPacket(s.nsp.name, id, args)
	if err != nil {
		return err
	}
	if len(p.Buffers) == 0 {
		return s.conn.sendReply(frame{typ: websocket.MessageText, data: p.Message()})
	}
	return s.conn.sendReply(packetFrames(p, false)...)
}

// Join adds the socket to rooms; a disconnected socket joins none.
func (s *Socket) Join(rooms ...string) {
	s.mu.Lock() // against onClose: a room joined after DelAll would leak
	defer s.mu.Unlock()
	if s.connected {
		s.nsp.adapter.AddAll(s.id, rooms)
	}
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) { s.nsp.adapter.Del(s.id, room) }

// Rooms lists the rooms the socket is in, its own id among them.
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }

// To targets the sockets in rooms, except this one (socket.to(room) in Socket.IO).
func (s *Socket) To(rooms ...string) *Broadcast {
	return s.nsp.To(rooms...).Except(s.id)
}

// In is To.
func (s *Socket) In(rooms ...string) *Broadcast { return s.To(rooms...) }

// Except targets every socket of the namespace but this one and those in rooms.
func (s *Socket) Except(rooms ...string) *Broadcast {
	return s.nsp.Except(append([]string{s.id}, rooms...)...)
}

// Broadcast targets every socket of the namespace but this one.
func (s *Socket) Broadcast() *Broadcast { return s.nsp.newBroadcast().Except(s.id) }

// Disconnect leaves the namespace with reason "server namespace disconnect".
// With closeConn it ends the whole connection, as Socket.IO's
// disconnect(true): every socket on it, in every namespace, gets DISCONNECT
// and that reason (so no client reconnects), then the connection closes.
func (s *Socket) Disconnect(closeConn bool) {
	if !closeConn {
		s.closeNamespace(ReasonServerDisconnect, true)
		return
	}
	c := s.conn
	c.mu.Lock()
	socks := slices.Clone(c.sockets)
	c.mu.Unlock()
	for _, o := range socks {
		o.closeNamespace(ReasonServerDisconnect, true)
	}
	s.closeNamespace(ReasonServerDisconnect, true) // if it was not among them yet
	c.close(ReasonForcedClose, websocket.StatusNormalClosure)
}

// closeNamespace ends this socket; notify sends DISCONNECT to the client.
func (s *Socket) closeNamespace(reason string, notify bool) {
	if !s.Connected() {
		return
	}
	if notify {
		s.conn.sendPacket(&wire.Packet{Type: wire.Disconnect, Namespace: s.nsp.name, ID: wire.NoID})
	}
	s.conn.removeSocket(s)
	s.onClose(reason)
}

// onClose runs once: leaves every room, releases pending acks, tells listeners.
func (s *Socket) onClose(reason string) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	s.connected = false
	s.disconnect = reason
	acks := s.acks
	s.acks = nil
	fns := s.onDisc
	st := &s.conn.srv.stats
	st.acksPending.Add(-int64(len(acks)))
	s.mu.Unlock()
	st.countDisconnect(reason)
	for _, fn := range acks {
		fn(shared.Args{}, shared.ErrDisconnected)
	}
	if rec := s.nsp.rec; rec != nil {
		rec.persist(s, s.Rooms(), reason)
	}
	s.nsp.remove(s)
	for _, fn := range fns {
		s.conn.safeCall("disconnect", func() error { fn(reason); return nil })
	}
}
