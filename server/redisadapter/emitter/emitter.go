// Package emitter sends events to a cluster of Socket.IO servers, Node or
// Go, from a Go process that is not one of them: a worker, a cron job, a
// command-line tool. It speaks the protocol of @socket.io/redis-emitter 5,
// so the servers must use the classic Redis adapter (server/redisadapter's
// Cluster, or Node's @socket.io/redis-adapter createAdapter) with the same
// key.
//
//	e, err := emitter.New(ctx, emitter.Options{URL: "redis://127.0.0.1:6379"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer e.Close()
//	err = e.To("room1").Emit("news", map[string]string{"hello": "world"})
//	err = e.Of("/admin").Emit("report", report)
//	err = e.In("room1").SocketsJoin("room2")
//
// An emitter only publishes: it subscribes to nothing, is not counted as a
// server, and gets no acknowledgements (Node's emitter throws on them too).
// Arguments are encoded as a tsunagi server encodes them: JSON for values,
// a []byte as binary.
package emitter

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tsunagi/tsunagi/server/redisadapter"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// UID is the uid the emitter's messages carry, as Node's emitter's do.
const UID = "emitter"

// Options configure an Emitter.
type Options struct {
	// URL is the Redis server, redis://[user:password@]host:port[/db];
	// defaults to redis://127.0.0.1:6379.
	URL string
	// Key prefixes the channels, as the servers' adapter's key (default
	// "socket.io").
	Key string
}

// Emitter publishes to the namespace "/" of the cluster; Of, To, In,
// Except, Volatile and Compress return emitters with a narrower target.
// An Emitter is safe for concurrent use, and is a shared.Emitter, so
// typed events (shared.Event) can be emitted with it.
type Emitter struct {
	rdb  *redis.Client
	key  string
	nsp  string
	opts redisadapter.BroadcastOptions
}

var _ shared.Emitter = (*Emitter)(nil)

// New connects to Redis; it fails when Redis does not answer PING.
func New(ctx context.Context, o Options) (*Emitter, error) {
	if o.URL == "" {
		o.URL = "redis://127.0.0.1:6379"
	}
	ro, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("emitter: Options.URL %q: %w", o.URL, err)
	}
	ro.MaxRetries = -1 // at most once: a retried PUBLISH could deliver twice
	rdb := redis.NewClient(ro)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("emitter: Redis at %s does not answer: %w", ro.Addr, err)
	}
	key := o.Key
	if key == "" {
		key = redisadapter.DefaultKey
	}
	return &Emitter{rdb: rdb, key: key, nsp: "/"}, nil
}

// Close closes the connection to Redis. Emitters derived from this one
// stop working too.
func (e *Emitter) Close() error { return e.rdb.Close() }

func (e *Emitter) with(f func(*Emitter)) *Emitter {
	c := *e
	c.opts.Rooms = append([]string(nil), e.opts.Rooms...)
	c.opts.Except = append([]string(nil), e.opts.Except...)
	f(&c)
	return &c
}

// Of targets namespace nsp ("/chat"), with no rooms.
func (e *Emitter) Of(nsp string) *Emitter {
	if nsp == "" || nsp[0] != '/' {
		nsp = "/" + nsp
	}
	return e.with(func(c *Emitter) { c.nsp, c.opts = nsp, redisadapter.BroadcastOptions{} })
}

// To targets the sockets in any of rooms (a socket id is a room too).
func (e *Emitter) To(rooms ...string) *Emitter {
	return e.with(func(c *Emitter) { c.opts.Rooms = append(c.opts.Rooms, rooms...) })
}

// In is To.
func (e *Emitter) In(rooms ...string) *Emitter { return e.To(rooms...) }

// Except leaves out the sockets in any of rooms.
func (e *Emitter) Except(rooms ...string) *Emitter {
	return e.with(func(c *Emitter) { c.opts.Except = append(c.opts.Except, rooms...) })
}

// Volatile lets each server drop the event for clients that cannot take it
// now.
func (e *Emitter) Volatile() *Emitter {
	return e.with(func(c *Emitter) { t := true; c.opts.Flags.Volatile = &t })
}

// Compress(false) asks the servers not to compress the event.
func (e *Emitter) Compress(on bool) *Emitter {
	return e.with(func(c *Emitter) { c.opts.Flags.Compress = &on })
}

func (e *Emitter) channels() redisadapter.Channels {
	return redisadapter.NewChannels(e.key, e.nsp, UID)
}

// Emit sends an event to the targeted sockets of every server. It returns
// once Redis took it; which clients receive it is not known here.
func (e *Emitter) Emit(event string, args ...any) error {
	return e.EmitContext(context.Background(), event, args...)
}

// EmitContext is Emit, with ctx bounding the PUBLISH.
func (e *Emitter) EmitContext(ctx context.Context, event string, args ...any) error {
	if wire.IsReserved(event) {
		return fmt.Errorf("emitter: %q is a reserved event name", event)
	}
	p, err := wire.NewEventPacket(e.nsp, event, args, wire.NoID)
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	data, err := redisadapter.PacketValue(p.Data, p.Buffers)
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	msg := redisadapter.BroadcastMessage{UID: UID, Packet: redisadapter.Packet{Data: data, Nsp: e.nsp}, Opts: e.opts}
	b, err := msg.Encode()
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	return e.publish(ctx, e.channels().BroadcastChannel(e.opts.Rooms), b)
}

func (e *Emitter) publish(ctx context.Context, channel string, b []byte) error {
	if err := e.rdb.Publish(ctx, channel, b).Err(); err != nil {
		return fmt.Errorf("emitter: PUBLISH: %w", err)
	}
	return nil
}

func (e *Emitter) request(ctx context.Context, r redisadapter.Request) error {
	b, err := r.Encode()
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	return e.publish(ctx, e.channels().Request, b)
}

// SocketsJoin makes the targeted sockets of every server join rooms.
func (e *Emitter) SocketsJoin(rooms ...string) error {
	return e.request(context.Background(), redisadapter.Request{Type: redisadapter.RequestRemoteJoin, Opts: e.target(), Rooms: rooms})
}

// SocketsLeave makes the targeted sockets of every server leave rooms.
func (e *Emitter) SocketsLeave(rooms ...string) error {
	return e.request(context.Background(), redisadapter.Request{Type: redisadapter.RequestRemoteLeave, Opts: e.target(), Rooms: rooms})
}

// DisconnectSockets disconnects the targeted sockets of every server from
// their namespace; with closeConn, their connections are closed too.
func (e *Emitter) DisconnectSockets(closeConn bool) error {
	return e.request(context.Background(), redisadapter.Request{Type: redisadapter.RequestRemoteDisconnect, Opts: e.target(), Close: closeConn})
}

// target is the rooms and except of a request (requests carry no flags).
func (e *Emitter) target() redisadapter.BroadcastOptions {
	return redisadapter.BroadcastOptions{Rooms: e.opts.Rooms, Except: e.opts.Except}
}

// ServerSideEmit sends an event to the server-side handlers of the
// namespace on every server (server.ServerSide.On, Node's io.on). There is
// no acknowledgement.
func (e *Emitter) ServerSideEmit(event string, args ...any) error {
	if wire.IsReserved(event) {
		return fmt.Errorf("emitter: %q is a reserved event name", event)
	}
	p, err := wire.NewEventPacket(e.nsp, event, args, wire.NoID)
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	v, err := redisadapter.PacketValue(p.Data, p.Buffers)
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	data, err := v.MarshalJSON()
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	return e.request(context.Background(), redisadapter.Request{Type: redisadapter.RequestServerSideEmit, UID: UID, Data: redisadapter.JSONValue(data)})
}
