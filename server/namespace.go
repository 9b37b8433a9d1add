package server

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared"
)

// Middleware runs when a client connects to a namespace, before the
// connection handlers. An error refuses the connection: the client receives
// CONNECT_ERROR with the error's message (and Data, for a *ConnectError).
type Middleware func(s *Socket) error

// ConnectError is a middleware error with data for the client, which
// receives it as connect_error: {message, data}.
type ConnectError struct {
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *ConnectError) Error() string { return e.Message }

func connectErrorData(err error) []byte {
	ce, ok := err.(*ConnectError)
	if !ok {
		ce = &ConnectError{Message: err.Error()}
	}
	b, mErr := json.Marshal(ce)
	if mErr != nil {
		b, _ = json.Marshal(ConnectError{Message: ce.Message})
	}
	return b
}

// Namespace is a communication channel that splits the sockets of one
// server (Socket.IO's io.of(name)). Each has its own handlers, middleware and rooms.
type Namespace struct {
	srv     *Server
	name    string
	adapter Adapter

	mu      sync.Mutex
	sockets map[string]*Socket
	mws     []Middleware
	onConn  []func(*Socket)
}

func newNamespace(s *Server, name string) *Namespace {
	ns := &Namespace{srv: s, name: name, sockets: map[string]*Socket{}}
	ns.adapter = newMemoryAdapter(ns)
	return ns
}

// Name is the namespace's name, such as "/" or "/admin".
func (ns *Namespace) Name() string { return ns.name }

// Use adds middleware, run in order for each connecting client.
func (ns *Namespace) Use(fn Middleware) {
	ns.mu.Lock()
	ns.mws = append(ns.mws, fn)
	ns.mu.Unlock()
}

// OnConnection registers fn for each socket that connects.
func (ns *Namespace) OnConnection(fn func(*Socket)) {
	ns.mu.Lock()
	ns.onConn = append(ns.onConn, fn)
	ns.mu.Unlock()
}

func (ns *Namespace) runMiddleware(s *Socket) (err error) {
	ns.mu.Lock()
	mws := ns.mws
	ns.mu.Unlock()
	for _, mw := range mws {
		s.conn.safeCall("middleware", func() error { err = mw(s); return nil })
		if err != nil {
			return err
		}
	}
	return nil
}

func (ns *Namespace) add(s *Socket) {
	ns.mu.Lock()
	ns.sockets[s.id] = s
	ns.mu.Unlock()
	ns.adapter.AddAll(s.id, []string{s.id})
}

func (ns *Namespace) remove(s *Socket) {
	ns.adapter.DelAll(s.id)
	ns.mu.Lock()
	delete(ns.sockets, s.id)
	ns.mu.Unlock()
}

func (ns *Namespace) connected(s *Socket) {
	ns.mu.Lock()
	fns := ns.onConn
	ns.mu.Unlock()
	for _, fn := range fns {
		s.conn.safeCall("connection", func() error { fn(s); return nil })
	}
}

func (ns *Namespace) socket(id string) *Socket {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.sockets[id]
}

// Sockets lists the connected sockets of this server in the namespace.
func (ns *Namespace) Sockets() []*Socket { return ns.newBroadcast().Sockets() }

func (ns *Namespace) newBroadcast() *Broadcast { return &Broadcast{ns: ns} }

// To targets the sockets in any of rooms.
func (ns *Namespace) To(rooms ...string) *Broadcast { return ns.newBroadcast().To(rooms...) }

// Except targets every socket but those in rooms.
func (ns *Namespace) Except(rooms ...string) *Broadcast { return ns.newBroadcast().Except(rooms...) }

// Emit sends an event to every socket of the namespace.
func (ns *Namespace) Emit(event string, args ...any) error {
	return ns.newBroadcast().Emit(event, args...)
}

// Broadcast is a target: the sockets of a namespace in some rooms, except
// those in others. Its methods do not change it; each returns a new target.
type Broadcast struct {
	ns   *Namespace
	opts BroadcastOptions
}

func (b *Broadcast) with(f func(o *BroadcastOptions)) *Broadcast {
	n := &Broadcast{ns: b.ns, opts: b.opts}
	n.opts.Rooms = append([]string(nil), b.opts.Rooms...)
	n.opts.Except = append([]string(nil), b.opts.Except...)
	f(&n.opts)
	return n
}

// To adds rooms to the target: a socket in any of them receives.
func (b *Broadcast) To(rooms ...string) *Broadcast {
	return b.with(func(o *BroadcastOptions) { o.Rooms = append(o.Rooms, rooms...) })
}

// In is To.
func (b *Broadcast) In(rooms ...string) *Broadcast { return b.To(rooms...) }

// Except leaves out the sockets in rooms (a socket id is a room).
func (b *Broadcast) Except(rooms ...string) *Broadcast {
	return b.with(func(o *BroadcastOptions) { o.Except = append(o.Except, rooms...) })
}

// Volatile drops the event for sockets that cannot take it now.
func (b *Broadcast) Volatile() *Broadcast {
	return b.with(func(o *BroadcastOptions) { o.Volatile = true })
}

// Local limits the broadcast to this server when an adapter spans several.
func (b *Broadcast) Local() *Broadcast {
	return b.with(func(o *BroadcastOptions) { o.Local = true })
}

// Emit sends an event to every targeted socket. The packet is encoded once.
func (b *Broadcast) Emit(event string, args ...any) error {
	p, err := encodeEvent(b.ns.name, event, args, shared.NoID)
	if err != nil {
		return err
	}
	b.ns.adapter.Broadcast(p, b.opts)
	return nil
}

// Sockets returns the targeted sockets on this server.
func (b *Broadcast) Sockets() []*Socket {
	ids := b.ns.adapter.Sockets(b.opts)
	out := make([]*Socket, 0, len(ids))
	for _, id := range ids {
		if s := b.ns.socket(id); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Join makes the targeted sockets join rooms.
func (b *Broadcast) Join(rooms ...string) {
	for _, s := range b.Sockets() {
		s.Join(rooms...)
	}
}

// Leave makes the targeted sockets leave room.
func (b *Broadcast) Leave(room string) {
	for _, s := range b.Sockets() {
		s.Leave(room)
	}
}

// Disconnect disconnects the targeted sockets.
func (b *Broadcast) Disconnect(closeConn bool) {
	for _, s := range b.Sockets() {
		s.Disconnect(closeConn)
	}
}

// EmitWithAck sends an event to every targeted socket and collects one
// reply per socket until ctx is done.
func (b *Broadcast) EmitWithAck(ctx context.Context, event string, args ...any) ([]shared.Args, error) {
	socks := b.Sockets()
	type res struct {
		a   shared.Args
		err error
	}
	ch := make(chan res, len(socks))
	for _, s := range socks {
		go func() {
			a, err := s.EmitWithAck(ctx, event, args...)
			ch <- res{a, err}
		}()
	}
	out := make([]shared.Args, 0, len(socks))
	var first error
	for range socks {
		r := <-ch
		if r.err != nil {
			if first == nil {
				first = r.err
			}
			continue
		}
		out = append(out, r.a)
	}
	return out, first
}

// deliver queues an encoded packet for one socket.
func (ns *Namespace) deliver(id string, frames []frame, volatile bool) {
	s := ns.socket(id)
	if s == nil || !s.Connected() {
		return
	}
	if volatile && !s.conn.idle() {
		return
	}
	s.conn.send(frames...)
}

func packetFrames(p *shared.Packet) []frame {
	fs := make([]frame, 0, 1+len(p.Buffers))
	fs = append(fs, frame{websocket.MessageText, p.Message()})
	for _, b := range p.Buffers {
		fs = append(fs, frame{websocket.MessageBinary, b})
	}
	return fs
}
