package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// cadapter is the server.Adapter of one namespace of a Cluster in
// ModeSharded: @socket.io/redis-adapter 8.3's createShardedAdapter, with
// socket.io-adapter's ClusterAdapter messages over SPUBLISH/SSUBSCRIBE.
//
// Channels: the namespace's {key}#{nsp}#, this server's responses
// {key}#{nsp}#{uid}#, and in the dynamic subscription modes one per room,
// {key}#{nsp}#{room}#, subscribed while the room has a local socket.
//
// As in the classic adapter, socketsJoin, socketsLeave and
// disconnectSockets apply to the local sockets at once, also while Redis
// is down; Node publishes and then applies them locally, which gives the
// same result.
type cadapter struct {
	*server.MemoryAdapter
	c        *Cluster
	tr       transport
	ns       *server.Namespace
	nsp      string
	uid      string
	main     string // {key}#{nsp}#
	own      string // {key}#{nsp}#{uid}#
	dynamic  bool   // rooms get channels
	recovery bool   // the server's Options.Recovery is on (streams mode)
	private  bool   // socket ids too (dynamic-private)
	ready    chan struct{}
	roomMu   sync.Mutex      // serializes room subscriptions
	roomSubs map[string]bool // rooms whose channel is subscribed

	mu       sync.Mutex
	requests map[string]*request
	closed   bool
}

var _ server.StatsAdapter = (*cadapter)(nil)

// nodeUID is randomBytes(8).toString("hex"), as ClusterAdapter makes it.
func nodeUID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *Cluster) shardedAdapter(ns *server.Namespace) server.Adapter {
	a := newCAdapter(c, ns, shardedTransport{})
	a.dynamic = c.opts.SubscriptionMode != SubscriptionStatic
	a.private = c.opts.SubscriptionMode == SubscriptionDynamicPrivate
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		close(a.ready)
		return a
	}
	c.mu.Unlock()
	c.route(a.main, a)
	c.route(a.own, a)
	c.shards.add(a.main, a.ready)
	c.shards.add(a.own, nil)
	return a
}

// newCAdapter makes the adapter of ns; its channels are not subscribed.
func newCAdapter(c *Cluster, ns *server.Namespace, tr transport) *cadapter {
	uid := nodeUID()
	main := c.opts.Key + "#" + ns.Name() + "#"
	return &cadapter{
		MemoryAdapter: server.NewMemoryAdapter(ns),
		c:             c,
		tr:            tr,
		ns:            ns,
		nsp:           ns.Name(),
		uid:           uid,
		main:          main,
		own:           main + uid + "#",
		ready:         make(chan struct{}),
		roomSubs:      map[string]bool{},
		requests:      map[string]*request{},
	}
}

// route sends what arrives on channel to a (nil: nowhere).
func (c *Cluster) route(channel string, a routed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a == nil {
		delete(c.shardRoutes, channel)
		return
	}
	c.shardRoutes[channel] = a
}

// routed is what the dispatcher hands a sharded message to.
type routed interface{ handle(m inMsg) }

// AdapterStats implements server.StatsAdapter: the Cluster's counters.
func (a *cadapter) AdapterStats() server.AdapterStats { return a.c.Stats() }

// separate reports whether room gets a channel of its own
// (shouldUseASeparateNamespace): in dynamic mode a public room, one that
// is not a local socket's id; in dynamic-private mode every room.
func (a *cadapter) separate(id, room string) bool {
	if !a.dynamic {
		return false
	}
	return a.private || room != id && a.MemoryAdapter.SocketRooms(room) == nil
}

// reconcile subscribes to room's channel when the room has a local socket
// and unsubscribes when it has none, whatever order the joins and leaves
// of several goroutines came in.
func (a *cadapter) reconcile(room string) {
	a.roomMu.Lock()
	defer a.roomMu.Unlock()
	has, subbed := a.MemoryAdapter.HasRoom(room), a.roomSubs[room]
	switch {
	case has && !subbed && !a.isClosed():
		a.roomSubs[room] = true
		ch := a.main + room + "#"
		a.c.route(ch, a)
		a.c.chans().add(ch, nil)
	case !has && subbed:
		delete(a.roomSubs, room)
		ch := a.main + room + "#"
		a.c.chans().remove(ch)
		a.c.route(ch, nil)
	}
}

func (a *cadapter) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// AddAll implements server.Adapter.
func (a *cadapter) AddAll(id string, rooms []string) {
	a.MemoryAdapter.AddAll(id, rooms)
	for _, r := range rooms {
		if a.separate(id, r) {
			a.reconcile(r)
		}
	}
}

// Del implements server.Adapter.
func (a *cadapter) Del(id, room string) {
	a.MemoryAdapter.Del(id, room)
	if a.separate(id, room) {
		a.reconcile(room)
	}
}

// DelAll implements server.Adapter.
func (a *cadapter) DelAll(id string) {
	if !a.dynamic {
		a.MemoryAdapter.DelAll(id)
		return
	}
	rooms := a.MemoryAdapter.SocketRooms(id)
	a.MemoryAdapter.DelAll(id)
	for _, r := range rooms {
		if a.separate(id, r) {
			a.reconcile(r)
		}
	}
}

// transport is how a cadapter's messages travel: sharded pub/sub, or a
// stream and pub/sub.
type transport interface {
	// publish queues m, its uid and nsp set, without waiting; false when
	// it could not.
	publish(a *cadapter, m *ClusterMessage) bool
	// publishWait publishes m and waits for Redis' reply; it returns the
	// stream entry id when m went through a stream.
	publishWait(ctx context.Context, a *cadapter, m *ClusterMessage) (string, error)
	// respond answers the server with uid requester.
	respond(a *cadapter, requester string, m *ClusterMessage)
}

// shardedTransport is createShardedAdapter's: SPUBLISH, msgpack.
type shardedTransport struct{}

func (shardedTransport) publish(a *cadapter, m *ClusterMessage) bool {
	b, err := m.EncodeMsgpack()
	if err != nil {
		a.c.logger().Warn("redisadapter: message not published", "nsp", a.nsp, "type", m.Type, "err", err)
		return false
	}
	return a.c.publish(a.channelOf(m), b)
}

func (shardedTransport) publishWait(ctx context.Context, a *cadapter, m *ClusterMessage) (string, error) {
	b, err := m.EncodeMsgpack()
	if err != nil {
		return "", err
	}
	return "", a.c.publishWait(ctx, a.channelOf(m), b)
}

func (shardedTransport) respond(a *cadapter, requester string, m *ClusterMessage) {
	b, err := m.EncodeMsgpack()
	if err != nil {
		a.c.logger().Warn("redisadapter: answer not published", "nsp", a.nsp, "type", m.Type, "err", err)
		return
	}
	a.c.publish(a.main+requester+"#", b)
}

// channelOf is where m is published (computeChannel): a broadcast without
// acks to exactly one room goes to the room's channel in the dynamic
// modes (in dynamic mode unless the room looks like a socket id, 20
// characters), everything else to the namespace's.
func (a *cadapter) channelOf(m *ClusterMessage) string {
	if m.Type == MessageBroadcast && m.RequestID == "" && len(m.Opts.Rooms) == 1 && a.dynamic {
		if room := m.Opts.Rooms[0]; a.private || len(room) != 20 {
			return a.main + room + "#"
		}
	}
	return a.main
}

// send publishes m without waiting; false when it could not.
func (a *cadapter) send(m ClusterMessage) bool {
	m.UID, m.Nsp = a.uid, a.nsp
	return a.tr.publish(a, &m)
}

// respond publishes an answer to the server with uid requester.
func (a *cadapter) respond(requester string, m ClusterMessage) {
	m.UID, m.Nsp = a.uid, a.nsp
	a.tr.respond(a, requester, &m)
}

// Broadcast implements server.Adapter: it publishes, then delivers to the
// local sockets. While Redis is unreachable only the local sockets get it.
func (a *cadapter) Broadcast(p *wire.Packet, opts server.BroadcastOptions) {
	if !opts.Flags.Local {
		if v, err := PacketValue(p.Data, p.Buffers); err != nil {
			a.c.logger().Warn("redisadapter: broadcast not published", "nsp", a.nsp, "err", err)
		} else {
			a.send(ClusterMessage{Type: MessageBroadcast, Packet: v, Opts: toWire(opts)})
		}
	}
	a.MemoryAdapter.Broadcast(p, opts)
}

// BroadcastWithAck implements server.Adapter.
func (a *cadapter) BroadcastWithAck(ctx context.Context, p *wire.Packet, opts server.BroadcastOptions, clientCount func(int), ack func(shared.Args, error)) {
	if !opts.Flags.Local {
		v, err := PacketValue(p.Data, p.Buffers)
		if err != nil {
			a.c.logger().Warn("redisadapter: broadcast with acks not published", "nsp", a.nsp, "err", err)
		} else {
			id := nodeUID()
			o := toWire(opts)
			timeout := a.c.opts.RequestsTimeout
			if dl, ok := ctx.Deadline(); ok {
				timeout = time.Until(dl)
			}
			ms := Milliseconds(max(timeout.Milliseconds(), 1))
			o.Flags.Timeout = &ms
			a.track(ctx, id, &request{typ: RequestBroadcast, clientCount: clientCount, ack: ack})
			a.send(ClusterMessage{Type: MessageBroadcast, Packet: v, Opts: o, RequestID: id})
		}
	}
	a.MemoryAdapter.BroadcastWithAck(ctx, p, opts, clientCount, ack)
}

func (a *cadapter) track(ctx context.Context, id string, r *request) {
	r.done = make(chan struct{})
	a.mu.Lock()
	a.requests[id] = r
	a.mu.Unlock()
	context.AfterFunc(ctx, func() { a.forget(id) })
}

func (a *cadapter) forget(id string) {
	a.mu.Lock()
	delete(a.requests, id)
	a.mu.Unlock()
}

// ServerCount implements server.Adapter: PUBSUB SHARDNUMSUB of the
// namespace's channel, summed over a Redis Cluster's masters.
func (a *cadapter) ServerCount(ctx context.Context) (int, error) {
	select {
	case <-a.ready:
	case <-ctx.Done():
	}
	n, err := a.c.numSub(ctx, a.main)
	if err != nil {
		return 1, err
	}
	return max(n, 1), nil
}

// ask publishes a request and waits for every other server's answer, until
// ctx is done or RequestsTimeout passed; see adapter.ask.
func (a *cadapter) ask(ctx context.Context, what string, r *request, m ClusterMessage) (*request, error) {
	ctx, cancel := context.WithTimeout(ctx, a.c.opts.RequestsTimeout)
	defer cancel()
	servers, err := a.ServerCount(ctx)
	if err != nil {
		return r, err
	}
	r.expected = servers - 1
	if r.expected <= 0 {
		return r, nil
	}
	m.RequestID = nodeUID()
	m.UID, m.Nsp = a.uid, a.nsp
	a.track(ctx, m.RequestID, r)
	defer a.forget(m.RequestID)
	if _, err := a.tr.publishWait(ctx, a, &m); err != nil {
		return r, fmt.Errorf("redisadapter: %s: %w", what, err)
	}
	select {
	case <-r.done:
		return r, nil
	case <-ctx.Done():
	}
	a.mu.Lock()
	got := r.got
	a.mu.Unlock()
	return r, fmt.Errorf("%w: %s: %d of %d other servers did not answer", shared.ErrAckTimeout, what, r.expected-got, r.expected)
}

// FetchSockets implements server.Adapter.
func (a *cadapter) FetchSockets(ctx context.Context, opts server.BroadcastOptions) ([]server.SocketInfo, error) {
	local, _ := a.MemoryAdapter.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	o := toWire(opts)
	timeout := a.c.opts.RequestsTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	ms := Milliseconds(max(timeout.Milliseconds(), 1))
	o.Flags.Timeout = &ms
	r, err := a.ask(ctx, "fetchSockets", &request{typ: RequestRemoteFetch}, ClusterMessage{Type: MessageFetchSockets, Opts: o})
	a.mu.Lock()
	out := append(local, r.sockets...)
	a.mu.Unlock()
	return out, err
}

// AllRooms implements server.Adapter. The ClusterAdapter protocol has no
// request for it: the rooms are those of every socket that fetchSockets
// finds, which is every room that has a socket.
func (a *cadapter) AllRooms(ctx context.Context) ([]string, error) {
	socks, err := a.FetchSockets(ctx, server.BroadcastOptions{})
	seen := map[string]struct{}{}
	for _, room := range a.MemoryAdapter.Rooms() {
		seen[room] = struct{}{}
	}
	for _, s := range socks {
		for _, room := range s.Rooms {
			seen[room] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for room := range seen {
		out = append(out, room)
	}
	return out, err
}

// AddSockets implements server.Adapter.
func (a *cadapter) AddSockets(opts server.BroadcastOptions, rooms []string) {
	if !opts.Flags.Local {
		a.send(ClusterMessage{Type: MessageSocketsJoin, Opts: toWire(opts), Rooms: rooms})
	}
	a.MemoryAdapter.AddSockets(opts, rooms)
}

// DelSockets implements server.Adapter.
func (a *cadapter) DelSockets(opts server.BroadcastOptions, rooms []string) {
	if !opts.Flags.Local {
		a.send(ClusterMessage{Type: MessageSocketsLeave, Opts: toWire(opts), Rooms: rooms})
	}
	a.MemoryAdapter.DelSockets(opts, rooms)
}

// DisconnectSockets implements server.Adapter.
func (a *cadapter) DisconnectSockets(opts server.BroadcastOptions, closeConn bool) {
	if !opts.Flags.Local {
		a.send(ClusterMessage{Type: MessageDisconnectSockets, Opts: toWire(opts), Close: closeConn})
	}
	a.MemoryAdapter.DisconnectSockets(opts, closeConn)
}

// ServerSideEmit implements server.Adapter.
func (a *cadapter) ServerSideEmit(p *wire.Packet) error {
	v, err := PacketValue(p.Data, p.Buffers)
	if err != nil {
		return fmt.Errorf("redisadapter: serverSideEmit: %w", err)
	}
	if !a.send(ClusterMessage{Type: MessageServerSideEmit, Packet: v}) {
		return fmt.Errorf("redisadapter: serverSideEmit: not published (publish queue full)")
	}
	return nil
}

// ServerSideEmitWithAck implements server.Adapter.
func (a *cadapter) ServerSideEmitWithAck(ctx context.Context, p *wire.Packet) ([]shared.Args, error) {
	v, err := PacketValue(p.Data, p.Buffers)
	if err != nil {
		return nil, fmt.Errorf("redisadapter: serverSideEmitWithAck: %w", err)
	}
	r, err := a.ask(ctx, "serverSideEmitWithAck", &request{typ: RequestServerSideEmit}, ClusterMessage{Type: MessageServerSideEmit, Packet: v})
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]shared.Args(nil), r.replies...), err
}

// Close implements server.Adapter: it unsubscribes the namespace's
// channels, rooms included, and ends its pending requests.
func (a *cadapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.requests = map[string]*request{}
	a.mu.Unlock()
	a.roomMu.Lock()
	chans := []string{a.main, a.own}
	for room := range a.roomSubs {
		chans = append(chans, a.main+room+"#")
	}
	a.roomSubs = map[string]bool{}
	a.roomMu.Unlock()
	for _, ch := range chans {
		a.c.chans().remove(ch)
		a.c.route(ch, nil)
	}
	return a.MemoryAdapter.Close()
}

// handle reads one message of the namespace's channels, on the Cluster's
// dispatching goroutine. Everything in it is untrusted.
func (a *cadapter) handle(in inMsg) {
	if in.channel != a.main && in.channel != a.own {
		// A room's channel: not even decoded without a local socket in
		// the room (it may be a message still in flight after the leave).
		if len(in.channel) <= len(a.main)+1 {
			return
		}
		if room := in.channel[len(a.main) : len(in.channel)-1]; !a.MemoryAdapter.HasRoom(room) {
			return
		}
	}
	m, err := DecodeClusterMessage([]byte(in.payload))
	if err != nil {
		a.c.dropMalformed(in.channel, err)
		return
	}
	if m.UID == a.uid || m.Nsp != a.nsp {
		return
	}
	if in.channel == a.own || m.Type.isResponse() {
		a.handleResponse(in.channel, m)
		return
	}
	a.apply(m, in.channel, "")
}

// handleEntry reads one entry of the namespace's stream, on the
// dispatching goroutine, under the stream's lock.
func (a *cadapter) handleEntry(e redis.XMessage) {
	m, err := decodeEntry(e.Values)
	if err != nil {
		a.c.dropMalformed(e.ID, err)
		return
	}
	if m.Nsp != a.nsp {
		return
	}
	if m.UID == a.uid {
		if _, deferred := e.Values[deferredField]; deferred && m.Type == MessageBroadcast && m.RequestID == "" {
			// A recoverable broadcast of this server's, delivered here
			// in the stream's order.
			if p, err := a.eventPacket(m.Packet, e.ID); err == nil {
				a.MemoryAdapter.Broadcast(p, fromWire(m.Opts))
			}
		}
		return
	}
	a.apply(m, e.ID, e.ID)
}

// eventPacket makes the EVENT of data, [event, ...args], with offset
// appended as its last argument unless offset is "".
func (a *cadapter) eventPacket(v Value, offset string) (*wire.Packet, error) {
	data, bufs, err := v.PacketData()
	if err == nil {
		_, _, err = shared.ParseEvent(data, bufs)
	}
	if err != nil {
		return nil, err
	}
	if offset != "" {
		data = appendOffset(data, offset)
	}
	p := &wire.Packet{Type: wire.EventPacket, Namespace: a.nsp, ID: wire.NoID, Data: data, Buffers: bufs}
	if len(bufs) > 0 {
		p.Type = wire.BinaryEvent
	}
	return p, nil
}

// apply runs a message of another server; offset is its stream entry id,
// "" when it came over pub/sub.
func (a *cadapter) apply(m ClusterMessage, from, offset string) {
	switch m.Type {
	case MessageBroadcast:
		// Node's addOffsetIfNecessary.
		if !a.recovery || m.RequestID != "" || m.Opts.Flags.Volatile != nil {
			offset = ""
		}
		p, err := a.eventPacket(m.Packet, offset)
		if err != nil {
			a.c.dropMalformed(from, err)
			return
		}
		if m.RequestID != "" {
			a.remoteBroadcastWithAck(m, p)
			return
		}
		a.MemoryAdapter.Broadcast(p, fromWire(m.Opts))
	case MessageSocketsJoin:
		a.MemoryAdapter.AddSockets(fromWire(m.Opts), m.Rooms)
	case MessageSocketsLeave:
		a.MemoryAdapter.DelSockets(fromWire(m.Opts), m.Rooms)
	case MessageDisconnectSockets:
		a.MemoryAdapter.DisconnectSockets(fromWire(m.Opts), m.Close)
	case MessageFetchSockets:
		local, _ := a.MemoryAdapter.FetchSockets(context.Background(), fromWire(m.Opts))
		infos := make([]SocketInfo, 0, len(local))
		for _, s := range local {
			infos = append(infos, SocketInfo{ID: s.ID, Handshake: HandshakeJSON(s.Handshake), Rooms: nonNilIDs(s.Rooms), Data: dataJSON(s.Data)})
		}
		a.respond(m.UID, ClusterMessage{Type: MessageFetchSocketsResponse, RequestID: m.RequestID, Sockets: infos})
	case MessageServerSideEmit:
		a.c.runServerSide(func() { a.serverSide(m) })
	}
}

func (a *cadapter) serverSide(m ClusterMessage) {
	data, bufs, err := m.Packet.PacketData()
	if err != nil {
		a.c.dropMalformed(a.main, err)
		return
	}
	var reply func(any)
	if m.RequestID != "" {
		var once sync.Once
		reply = func(arg any) {
			once.Do(func() {
				r := ClusterMessage{Type: MessageServerSideEmitResponse, RequestID: m.RequestID}
				if arg != nil {
					v, err := ackValue(arg)
					if err != nil {
						a.c.logger().Warn("redisadapter: server-side ack not sent", "nsp", a.nsp, "err", err)
						return
					}
					r.Packet = v
				}
				a.respond(m.UID, r)
			})
		}
	}
	if err := a.ns.ReceiveServerSide(data, bufs, reply); err != nil {
		a.c.dropMalformed(a.main, err)
	}
}

// ackValue encodes the argument of a server-side ack as it crosses
// servers: JSON's value of it, with []byte as binary.
func ackValue(arg any) (Value, error) {
	if b, ok := arg.([]byte); ok {
		return EncodeValue(b)
	}
	js, err := marshalJSON(arg)
	if err != nil {
		return nil, err
	}
	var v Value
	err = v.UnmarshalJSON(js)
	return v, err
}

// remoteBroadcastWithAck runs another server's broadcast with acks on the
// local sockets: one client count, then one answer per client's ack.
func (a *cadapter) remoteBroadcastWithAck(m ClusterMessage, p *wire.Packet) {
	a.c.relayAcks(a.MemoryAdapter, a.nsp, m.Opts, p,
		func(n int) {
			a.respond(m.UID, ClusterMessage{Type: MessageBroadcastClientCount, RequestID: m.RequestID, ClientCount: n})
		},
		func(v Value) {
			a.respond(m.UID, ClusterMessage{Type: MessageBroadcastAck, RequestID: m.RequestID, Packet: v})
		})
}

// handleResponse reads an answer to one of this server's requests.
func (a *cadapter) handleResponse(channel string, m ClusterMessage) {
	a.mu.Lock()
	r := a.requests[m.RequestID]
	if r == nil {
		a.mu.Unlock()
		return // too late, or not ours
	}
	switch {
	case r.typ == RequestBroadcast:
		a.mu.Unlock()
		switch m.Type {
		case MessageBroadcastClientCount:
			r.clientCount(m.ClientCount)
		case MessageBroadcastAck:
			args, err := ackArgs(m.Packet)
			if err != nil {
				a.c.dropMalformed(channel, err)
				return
			}
			r.ack(args, nil)
		}
		return
	case r.typ == RequestServerSideEmit && m.Type == MessageServerSideEmitResponse:
		args, err := ackArgs(m.Packet)
		if err != nil {
			a.mu.Unlock()
			a.c.dropMalformed(channel, err)
			return
		}
		r.replies = append(r.replies, args)
	case r.typ == RequestRemoteFetch && m.Type == MessageFetchSocketsResponse:
		for _, s := range m.Sockets {
			r.sockets = append(r.sockets, server.SocketInfo{ID: s.ID, Handshake: ParseHandshake(s.Handshake), Rooms: s.Rooms, Data: parseData(s.Data)})
		}
	default:
		a.mu.Unlock()
		return
	}
	if r.got < r.expected {
		r.answered()
	}
	a.mu.Unlock()
}

// parseData is socket.data from its JSON; nil when absent or unreadable.
func parseData(v JSONValue) any {
	if len(v) == 0 {
		return nil
	}
	var d any
	if json.Unmarshal(v, &d) != nil {
		return nil
	}
	return d
}
