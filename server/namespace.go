package server

import (
	"encoding/json"
	"errors"
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/tsunagi/tsunagi/shared"
)

// Middleware runs when a client connects to a namespace, before the
// connection handlers, with the socket's Handshake. An error refuses the
// connection: the client receives CONNECT_ERROR with the error's message
// (and Data, for a *ConnectError), which clients report as connect_error.
type Middleware func(s *Socket) error

// ConnectError is a middleware error with data for the client, which
// receives it as connect_error: {message, data}.
type ConnectError struct {
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *ConnectError) Error() string { return e.Message }

func connectErrorData(err error) []byte {
	var ce *ConnectError
	if !errors.As(err, &ce) {
		ce = &ConnectError{Message: err.Error()}
	}
	b, mErr := json.Marshal(ce)
	if mErr != nil {
		b, _ = json.Marshal(ConnectError{Message: ce.Message})
	}
	return b
}

// errInvalidNamespace is what a client that connects to no namespace gets.
var errInvalidNamespace = []byte(`{"message":"Invalid namespace"}`)

// Namespace is a communication channel that splits the sockets of one
// server (Socket.IO's io.of(name)). Each has its own handlers, middleware,
// rooms and adapter.
type Namespace struct {
	srv     *Server
	name    string
	parent  *ParentNamespace // for a child of a dynamic namespace
	adapter Adapter
	ackIDs  atomic.Int64
	rec     *recovery // nil unless Options.Recovery is on

	serverSide shared.Registry // ServerSide handlers

	mu      sync.Mutex
	sockets map[string]*Socket
	mws     []Middleware
	onConn  []func(*Socket)
	removed bool // an empty child namespace that was cleaned up

	nsObs []func(*Namespace) // OnNamespace's, on the main namespace "/" only; under srv.mu
}

func newNamespace(s *Server, name string, parent *ParentNamespace) *Namespace {
	ns := &Namespace{srv: s, name: name, parent: parent, sockets: map[string]*Socket{}, rec: newRecovery(s.opts.Recovery)}
	if st := s.pendingRec[name]; st != nil && ns.rec != nil { // RestoreRecovery's, under s.mu
		ns.rec.set(st)
		delete(s.pendingRec, name)
	}
	if s.opts.Adapter != nil {
		ns.adapter = s.opts.Adapter(ns)
	} else {
		ns.adapter = NewMemoryAdapter(ns)
	}
	if ns.rec != nil {
		ns.rec.useAdapter(ns.adapter)
	}
	if root := s.nsps["/"]; root != nil { // under s.mu, as every caller holds it
		for _, fn := range root.nsObs {
			fn(ns)
		}
	}
	return ns
}

// Namespaces lists the server's namespaces, the children of dynamic
// namespaces included (Node's io._nsps).
func (s *Server) Namespaces() []*Namespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, ns := range s.nsps {
		out = append(out, ns)
	}
	return out
}

// OnNamespace calls fn for every namespace of the server now and for each
// made later, children of dynamic namespaces included (Node's
// new_namespace event), as it is made: before any client can join it.
// fn runs under the server's lock, so it must be quick and must not call
// the Server's methods (Of, Namespaces); it may set up the namespace
// (OnConnection, Use, its adapter).
func (s *Server) OnNamespace(fn func(*Namespace)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	root := s.nsps["/"]
	root.nsObs = append(root.nsObs, fn)
	for _, ns := range s.nsps {
		fn(ns)
	}
}

// ConnID is the Engine.IO session id of the socket's connection (Node's
// socket.conn.id): the same for the sockets of one client in every
// namespace.
func (s *Socket) ConnID() string { return s.conn.sid }

// Name is the namespace's name, such as "/" or "/admin".
func (ns *Namespace) Name() string { return ns.name }

// Server is the server the namespace belongs to.
func (ns *Namespace) Server() *Server { return ns.srv }

// Adapter is the namespace's adapter.
func (ns *Namespace) Adapter() Adapter { return ns.adapter }

// Parent is the dynamic namespace that created this one, or nil.
func (ns *Namespace) Parent() *ParentNamespace { return ns.parent }

// Use adds middleware, run in order for each connecting client, after the
// parent's for a child of a dynamic namespace.
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

func (ns *Namespace) middleware() []Middleware {
	ns.mu.Lock()
	mws := ns.mws
	ns.mu.Unlock()
	if ns.parent != nil {
		mws = append(ns.parent.middleware(), mws...)
	}
	return mws
}

func (ns *Namespace) connectionHandlers() []func(*Socket) {
	ns.mu.Lock()
	fns := ns.onConn
	ns.mu.Unlock()
	if ns.parent != nil {
		fns = append(ns.parent.connectionHandlers(), fns...)
	}
	return fns
}

func (ns *Namespace) runMiddleware(s *Socket) (err error) {
	for _, mw := range ns.middleware() {
		s.conn.safeCall("middleware", func() error {
			defer func() {
				if r := recover(); r != nil {
					err = errors.New("middleware failed")
					panic(r)
				}
			}()
			err = mw(s)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// add registers a socket that passed the middleware. It fails when the
// namespace was removed meanwhile (an empty child that was cleaned up).
func (ns *Namespace) add(s *Socket) bool {
	ns.mu.Lock()
	if ns.removed {
		ns.mu.Unlock()
		return false
	}
	ns.sockets[s.id] = s
	ns.mu.Unlock()
	ns.adapter.AddAll(s.id, []string{s.id})
	return true
}

func (ns *Namespace) remove(s *Socket) {
	ns.adapter.DelAll(s.id)
	ns.mu.Lock()
	delete(ns.sockets, s.id)
	ns.mu.Unlock()
	ns.dropIfEmpty()
}

// dropIfEmpty removes an empty child namespace when
// Options.CleanupEmptyChildNamespaces asks for it.
func (ns *Namespace) dropIfEmpty() {
	if ns.parent != nil && ns.srv.opts.CleanupEmptyChildNamespaces {
		ns.srv.removeChild(ns)
	}
}

func (ns *Namespace) connected(s *Socket) {
	for _, fn := range ns.connectionHandlers() {
		s.conn.safeCall("connection", func() error { fn(s); return nil })
	}
}

func (ns *Namespace) socket(id string) *Socket {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.sockets[id]
}

func (ns *Namespace) socketsByID(ids []string) []*Socket {
	out := make([]*Socket, 0, len(ids))
	ns.mu.Lock()
	for _, id := range ids {
		if s := ns.sockets[id]; s != nil {
			out = append(out, s)
		}
	}
	ns.mu.Unlock()
	return out
}

// nextAckID numbers the acks of the namespace: one counter for its sockets
// and its broadcasts, so a broadcast's id never collides with a socket's.
func (ns *Namespace) nextAckID() int64 { return ns.ackIDs.Add(1) - 1 }

// Sockets lists the sockets connected to this server in the namespace.
func (ns *Namespace) Sockets() []*Socket { return ns.newBroadcast().Sockets() }

func (ns *Namespace) newBroadcast() *Broadcast { return &Broadcast{ns: ns} }

// To targets the sockets in any of rooms.
func (ns *Namespace) To(rooms ...string) *Broadcast { return ns.newBroadcast().To(rooms...) }

// In is To.
func (ns *Namespace) In(rooms ...string) *Broadcast { return ns.To(rooms...) }

// Except targets every socket but those in rooms.
func (ns *Namespace) Except(rooms ...string) *Broadcast { return ns.newBroadcast().Except(rooms...) }

// Volatile targets every socket, dropping the event for those that cannot take it now.
func (ns *Namespace) Volatile() *Broadcast { return ns.newBroadcast().Volatile() }

// Local targets every socket of this server only.
func (ns *Namespace) Local() *Broadcast { return ns.newBroadcast().Local() }

// Compress targets every socket, with or without permessage-deflate.
func (ns *Namespace) Compress(on bool) *Broadcast { return ns.newBroadcast().Compress(on) }

// Emit sends an event to every socket of the namespace.
func (ns *Namespace) Emit(event string, args ...any) error {
	return ns.newBroadcast().Emit(event, args...)
}

// ParentNamespace is a dynamic namespace (Server.OfFunc, Server.OfRegexp):
// the first client to connect to a matching name creates a child namespace
// of that name, which runs the parent's middleware and connection handlers
// (those added later too) before its own. Operations on the parent reach
// every child.
type ParentNamespace struct {
	srv   *Server
	match func(name string, hs Handshake) bool

	mu       sync.Mutex
	mws      []Middleware
	onConn   []func(*Socket)
	children map[string]*Namespace
}

// Use adds middleware that runs for each client connecting to any child.
func (p *ParentNamespace) Use(fn Middleware) {
	p.mu.Lock()
	p.mws = append(p.mws, fn)
	p.mu.Unlock()
}

// OnConnection registers fn for each socket that connects to any child.
func (p *ParentNamespace) OnConnection(fn func(*Socket)) {
	p.mu.Lock()
	p.onConn = append(p.onConn, fn)
	p.mu.Unlock()
}

func (p *ParentNamespace) middleware() []Middleware {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mws[:len(p.mws):len(p.mws)]
}

func (p *ParentNamespace) connectionHandlers() []func(*Socket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.onConn[:len(p.onConn):len(p.onConn)]
}

// Children lists the namespaces created so far.
func (p *ParentNamespace) Children() []*Namespace {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Namespace, 0, len(p.children))
	for _, ns := range p.children {
		out = append(out, ns)
	}
	return out
}

func (p *ParentNamespace) newBroadcast() *Broadcast { return &Broadcast{parent: p} }

// To targets the sockets in any of rooms, in every child.
func (p *ParentNamespace) To(rooms ...string) *Broadcast { return p.newBroadcast().To(rooms...) }

// Except targets every socket of every child but those in rooms.
func (p *ParentNamespace) Except(rooms ...string) *Broadcast {
	return p.newBroadcast().Except(rooms...)
}

// Emit sends an event to every socket of every child.
func (p *ParentNamespace) Emit(event string, args ...any) error {
	return p.newBroadcast().Emit(event, args...)
}

// Sockets lists the sockets connected to this server in every child.
func (p *ParentNamespace) Sockets() []*Socket { return p.newBroadcast().Sockets() }

func regexpMatcher(re *regexp.Regexp) func(string, Handshake) bool {
	return func(name string, _ Handshake) bool { return re.MatchString(name) }
}
