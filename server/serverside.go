package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// ServerSide carries events between the servers of a cluster, in one
// namespace: Socket.IO's io.serverSideEmit, io.serverSideEmitWithAck and
// io.on for the events other servers emit. It goes through the adapter, so
// with the default MemoryAdapter there is no other server and nothing is
// sent; with a cluster adapter (server/redisadapter) Node servers of the
// same cluster send and receive these events too.
//
// ServerSide implements shared.Emitter and shared.Listener, so typed events
// work on it:
//
//	var cacheFlush = shared.NewEvent[string]("cache flush")
//	cacheFlush.On(io.Of("/").ServerSide(), func(key string) { cache.Delete(key) })
//	_ = cacheFlush.Emit(io.Of("/").ServerSide(), "user:42") // on every other server
type ServerSide struct{ ns *Namespace }

var (
	_ shared.Emitter  = (*ServerSide)(nil)
	_ shared.Listener = (*ServerSide)(nil)
)

// ServerSide is the namespace's channel to the same namespace on the other
// servers.
func (ns *Namespace) ServerSide() *ServerSide { return &ServerSide{ns} }

// ServerSideEmit sends an event to this namespace on every other server
// (io.serverSideEmit). It is ServerSide().Emit.
func (ns *Namespace) ServerSideEmit(event string, args ...any) error {
	return ns.ServerSide().Emit(event, args...)
}

// ServerSideEmitWithAck sends an event to every other server and returns
// their replies (io.serverSideEmitWithAck). It is ServerSide().EmitWithAck.
func (ns *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]shared.Args, error) {
	return ns.ServerSide().EmitWithAck(ctx, event, args...)
}

// Emit sends an event to this namespace on every other server, where the
// handlers registered with On run. It does not run this server's handlers.
func (ss *ServerSide) Emit(event string, args ...any) error {
	p, err := serverSidePacket(ss.ns, event, args)
	if err != nil {
		return err
	}
	return ss.ns.adapter.ServerSideEmit(p)
}

// EmitWithAck sends an event to every other server and waits until each
// has replied, or ctx is done (Options.AckTimeout when ctx has no
// deadline). A reply holds one argument: the first the handler there
// acknowledged with, as Node sends it. It returns the replies that arrived;
// the error wraps shared.ErrAckTimeout, with the number of servers that did
// not reply, when some were missing at the deadline.
func (ss *ServerSide) EmitWithAck(ctx context.Context, event string, args ...any) ([]shared.Args, error) {
	p, err := serverSidePacket(ss.ns, event, args)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ss.ns.srv.opts.AckTimeout)
		defer cancel()
	}
	return ss.ns.adapter.ServerSideEmitWithAck(ctx, p)
}

// On registers h for event when another server emits it. h's AckFunc is
// nil unless the sender asked for a reply; only the first argument given to
// it crosses servers.
func (ss *ServerSide) On(event string, h shared.Handler) (off func()) {
	return ss.ns.serverSide.On(event, h)
}

// Off removes every handler of event.
func (ss *ServerSide) Off(event string) { ss.ns.serverSide.Off(event) }

func serverSidePacket(ns *Namespace, event string, args []any) (*wire.Packet, error) {
	if wire.IsReserved(event) {
		return nil, fmt.Errorf("tsunagi: %q is a reserved event name", event)
	}
	return encodeEvent(ns.name, event, args, wire.NoID)
}

// ReceiveServerSide runs this namespace's ServerSide handlers for an event
// that another server emitted. It is for adapters. data is the event as
// JSON, [event, ...args], with {"_placeholder":true,"num":n} for each of
// bufs. reply is nil when the sender wants no reply; otherwise it is called
// at most once, with the first argument a handler acknowledged with (nil
// for none). Handlers run on the caller's goroutine, one after another; a
// panic is recovered and logged. The error is for data that is not an
// event.
func (ns *Namespace) ReceiveServerSide(data json.RawMessage, bufs [][]byte, reply func(arg any)) error {
	event, args, err := shared.ParseEvent(data, bufs)
	if err != nil {
		return err
	}
	var send func([]any) error
	if reply != nil {
		send = func(res []any) error {
			var first any
			if len(res) > 0 {
				first = res[0]
			}
			reply(first)
			return nil
		}
	}
	ns.serverSide.Dispatch(event, &args, send, func(what string, fn func() error) {
		defer func() {
			if r := recover(); r != nil {
				ns.srv.log.Error("tsunagi: server-side handler panicked", "nsp", ns.name, "handler", what, "panic", r, "stack", string(debug.Stack()))
			}
		}()
		if err := fn(); err != nil {
			ns.srv.log.Warn("tsunagi: server-side handler failed", "nsp", ns.name, "handler", what, "err", err)
		}
	})
	return nil
}

// Logger is the server's logger (Options.Logger), for adapters.
func (ns *Namespace) Logger() *slog.Logger { return ns.srv.log }
