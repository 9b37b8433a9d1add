package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// Broadcast is a target: the sockets of a namespace (or of every child of
// a dynamic namespace) in some rooms, except those in others, with flags.
// Its methods do not change it; each returns a new target, so one can be
// kept and reused. Every operation goes through the namespace's Adapter,
// so with a multi-server adapter it reaches the other servers too, unless
// Local is set; Sockets alone is always local.
type Broadcast struct {
	ns     *Namespace
	parent *ParentNamespace
	opts   BroadcastOptions
}

func (b *Broadcast) with(f func(o *BroadcastOptions)) *Broadcast {
	n := &Broadcast{ns: b.ns, parent: b.parent, opts: b.opts}
	n.opts.Rooms = append([]string(nil), b.opts.Rooms...)
	n.opts.Except = append([]string(nil), b.opts.Except...)
	f(&n.opts)
	return n
}

// namespaces are the namespaces the target spans.
func (b *Broadcast) namespaces() []*Namespace {
	if b.parent != nil {
		return b.parent.Children()
	}
	return []*Namespace{b.ns}
}

// Options are the rooms, exceptions and flags of the target.
func (b *Broadcast) Options() BroadcastOptions { return b.with(func(*BroadcastOptions) {}).opts }

// To adds rooms to the target: a socket in any of them receives, once.
func (b *Broadcast) To(rooms ...string) *Broadcast {
	return b.with(func(o *BroadcastOptions) { o.Rooms = append(o.Rooms, rooms...) })
}

// In is To.
func (b *Broadcast) In(rooms ...string) *Broadcast { return b.To(rooms...) }

// Except leaves out the sockets in rooms (a socket id is a room).
func (b *Broadcast) Except(rooms ...string) *Broadcast {
	return b.with(func(o *BroadcastOptions) { o.Except = append(o.Except, rooms...) })
}

// Volatile drops the event for sockets that cannot take it now: those
// whose outgoing queue is not empty (Socket.IO's volatile flag).
func (b *Broadcast) Volatile() *Broadcast {
	return b.with(func(o *BroadcastOptions) { o.Flags.Volatile = true })
}

// Local limits the target to this server when an adapter spans several.
func (b *Broadcast) Local() *Broadcast {
	return b.with(func(o *BroadcastOptions) { o.Flags.Local = true })
}

// Compress(false) sends the event without permessage-deflate even to
// clients that negotiated it (Options.Compression); Compress(true), the
// default, compresses it for them when it is large enough.
func (b *Broadcast) Compress(on bool) *Broadcast {
	return b.with(func(o *BroadcastOptions) { o.Flags.NoCompress = !on })
}

// Emit sends an event to every targeted socket. The packet is encoded once
// per namespace and only queued for each socket: Emit never waits on a
// client.
func (b *Broadcast) Emit(event string, args ...any) error {
	if wire.IsReserved(event) {
		return fmt.Errorf("tsunagi: %q is a reserved event name", event)
	}
	for _, ns := range b.namespaces() {
		if ns.rec != nil && !b.opts.Flags.Volatile {
			if err := ns.rec.broadcast(ns, event, args, b.opts); err != nil {
				return err
			}
			continue
		}
		p, err := encodeEvent(ns.name, event, args, wire.NoID)
		if err != nil {
			return err
		}
		ns.adapter.Broadcast(p, b.opts)
	}
	return nil
}

// EmitWithAck sends an event to every targeted socket and collects one
// reply per socket, until each has replied or ctx is done (or
// Options.AckTimeout passed, when ctx has no deadline). It returns the
// replies it got, and an error that wraps shared.ErrAckTimeout when some
// were missing at the deadline and shared.ErrDisconnected when some
// sockets left before replying.
func (b *Broadcast) EmitWithAck(ctx context.Context, event string, args ...any) ([]shared.Args, error) {
	if wire.IsReserved(event) {
		return nil, fmt.Errorf("tsunagi: %q is a reserved event name", event)
	}
	nss := b.namespaces()
	if len(nss) == 0 {
		return nil, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, nss[0].srv.opts.AckTimeout)
		defer cancel()
	}
	c := &ackCollector{done: make(chan struct{})}
	for _, ns := range nss {
		n, err := ns.adapter.ServerCount(ctx)
		if err != nil {
			return nil, err
		}
		c.servers += n
	}
	for _, ns := range nss {
		p, err := encodeEvent(ns.name, event, args, wire.NoID)
		if err != nil {
			return nil, err
		}
		ns.adapter.BroadcastWithAck(ctx, p, b.opts, c.clientCount, c.ack)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	return c.result(ctx)
}

// ackCollector gathers the replies of a broadcast with acks: it is
// complete once every server reported its client count and every counted
// client replied (or left).
type ackCollector struct {
	mu       sync.Mutex
	servers  int // clientCount calls expected
	counted  int // clientCount calls received
	expected int // clients reached
	replies  []shared.Args
	failed   int
	closed   bool
	done     chan struct{}
}

func (c *ackCollector) clientCount(n int) {
	c.mu.Lock()
	c.counted++
	c.expected += n
	c.check()
	c.mu.Unlock()
}

func (c *ackCollector) ack(a shared.Args, err error) {
	c.mu.Lock()
	if err != nil {
		c.failed++
	} else if !c.closed {
		c.replies = append(c.replies, a)
	}
	c.check()
	c.mu.Unlock()
}

func (c *ackCollector) check() {
	if !c.closed && c.counted >= c.servers && len(c.replies)+c.failed >= c.expected {
		c.closed = true
		close(c.done)
	}
}

func (c *ackCollector) result(ctx context.Context) ([]shared.Args, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	if !c.closed {
		c.closed = true
		close(c.done)
		missing := c.expected - len(c.replies) - c.failed
		if c.counted < c.servers {
			errs = append(errs, fmt.Errorf("%w: %d of %d servers did not report", shared.ErrAckTimeout, c.servers-c.counted, c.servers))
		} else {
			errs = append(errs, fmt.Errorf("%w: %d of %d clients did not reply", shared.ErrAckTimeout, missing, c.expected))
		}
		if ctx.Err() != context.DeadlineExceeded {
			errs = append(errs, ctx.Err())
		}
	}
	if c.failed > 0 {
		errs = append(errs, fmt.Errorf("%w: %d of %d clients left before replying", shared.ErrDisconnected, c.failed, c.expected))
	}
	return c.replies, errors.Join(errs...)
}

// Sockets returns the targeted sockets connected to this server.
func (b *Broadcast) Sockets() []*Socket {
	var out []*Socket
	for _, ns := range b.namespaces() {
		out = append(out, ns.socketsByID(ns.adapter.Sockets(b.opts))...)
	}
	return out
}

// RemoteSocket is a targeted socket, possibly connected to another server
// (Socket.IO's fetchSockets): a description plus the operations that reach
// it wherever it is.
type RemoteSocket struct {
	SocketInfo
	ns *Namespace
}

// Namespace is the socket's namespace.
func (r *RemoteSocket) Namespace() *Namespace { return r.ns }

// Emit sends an event to the socket.
func (r *RemoteSocket) Emit(event string, args ...any) error {
	return r.ns.To(r.ID).Emit(event, args...)
}

// Join makes the socket join rooms.
func (r *RemoteSocket) Join(rooms ...string) { r.ns.To(r.ID).Join(rooms...) }

// Leave makes the socket leave rooms.
func (r *RemoteSocket) Leave(rooms ...string) { r.ns.To(r.ID).Leave(rooms...) }

// Disconnect disconnects the socket; with closeConn, its connection too.
func (r *RemoteSocket) Disconnect(closeConn bool) { r.ns.To(r.ID).Disconnect(closeConn) }

// FetchSockets describes the targeted sockets, on every server the adapter
// spans unless the target is Local. When some servers did not answer in
// time, it returns the sockets of those that did, with an error (wrapping
// shared.ErrAckTimeout for a cluster adapter) that says how many are
// missing.
func (b *Broadcast) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	var out []*RemoteSocket
	for _, ns := range b.namespaces() {
		infos, err := ns.adapter.FetchSockets(ctx, b.opts)
		for _, in := range infos {
			out = append(out, &RemoteSocket{SocketInfo: in, ns: ns})
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Join makes the targeted sockets join rooms.
func (b *Broadcast) Join(rooms ...string) {
	for _, ns := range b.namespaces() {
		ns.adapter.AddSockets(b.opts, rooms)
	}
}

// Leave makes the targeted sockets leave rooms.
func (b *Broadcast) Leave(rooms ...string) {
	for _, ns := range b.namespaces() {
		ns.adapter.DelSockets(b.opts, rooms)
	}
}

// Disconnect disconnects the targeted sockets from their namespace; with
// closeConn, their connections are closed too.
func (b *Broadcast) Disconnect(closeConn bool) {
	for _, ns := range b.namespaces() {
		ns.adapter.DisconnectSockets(b.opts, closeConn)
	}
}
