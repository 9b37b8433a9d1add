package redisadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// adapter is the server.Adapter of one namespace in a Cluster: the local
// part is the embedded MemoryAdapter, and the rest goes through Redis.
//
// What Node's classic adapter does, it does, with two differences that
// keep each socket affected once: socketsJoin, socketsLeave and
// disconnectSockets apply to the local sockets at once (so they work while
// Redis is down) and the adapter ignores its own copy, where Node applies
// them when they come back from Redis; and answers go to the requester's
// specific response channel unless Options.SharedResponseChannel.
type adapter struct {
	*server.MemoryAdapter
	c     *Cluster
	ns    *server.Namespace
	nsp   string
	uid   string
	ch    Channels
	ready chan struct{} // closed once the request channel is subscribed

	mu       sync.Mutex
	requests map[string]*request // this server's requests awaiting answers
	closed   bool
}

var _ server.StatsAdapter = (*adapter)(nil)

// request is one of this server's requests to the others.
type request struct {
	typ      RequestType
	expected int // answers to wait for; unused for a broadcast with acks
	got      int
	done     chan struct{}

	sockets []server.SocketInfo // REMOTE_FETCH
	rooms   map[string]struct{} // ALL_ROOMS
	replies []shared.Args       // SERVER_SIDE_EMIT

	clientCount func(int)                // BROADCAST
	ack         func(shared.Args, error) // BROADCAST
}

func newAdapter(c *Cluster, ns *server.Namespace) *adapter {
	uid := newUID(6)
	return &adapter{
		MemoryAdapter: server.NewMemoryAdapter(ns),
		c:             c,
		ns:            ns,
		nsp:           ns.Name(),
		uid:           uid,
		ch:            NewChannels(c.opts.Key, ns.Name(), uid),
		ready:         make(chan struct{}),
		requests:      map[string]*request{},
	}
}

// channels are the channels the adapter SUBSCRIBEs to (its pattern aside).
func (a *adapter) channels() []string {
	return []string{a.ch.Request, a.ch.Response, a.ch.SpecificResponse}
}

// AdapterStats implements server.StatsAdapter: the Cluster's counters.
func (a *adapter) AdapterStats() server.AdapterStats { return a.c.Stats() }

// responseChannel is where to answer a request from uid.
func (a *adapter) responseChannel(uid string) string {
	if a.c.opts.SharedResponseChannel || uid == "" {
		return a.ch.Response
	}
	return SpecificResponseChannel(a.c.opts.Key, a.nsp, uid)
}

// toWire converts broadcast options to their wire form.
func toWire(opts server.BroadcastOptions) BroadcastOptions {
	o := BroadcastOptions{Rooms: opts.Rooms, Except: opts.Except}
	if opts.Flags.Volatile {
		t := true
		o.Flags.Volatile = &t
	}
	if opts.Flags.NoCompress {
		f := false
		o.Flags.Compress = &f
	}
	return o
}

// fromWire converts broadcast options read from another server.
func fromWire(o BroadcastOptions) server.BroadcastOptions {
	opts := server.BroadcastOptions{Rooms: o.Rooms, Except: o.Except}
	opts.Flags.Volatile = o.Flags.Volatile != nil && *o.Flags.Volatile
	opts.Flags.NoCompress = o.Flags.Compress != nil && !*o.Flags.Compress
	return opts
}

// wirePacketOf converts an encoded EVENT to the classic packet.
func (a *adapter) wirePacketOf(p *wire.Packet) (Packet, error) {
	v, err := PacketValue(p.Data, p.Buffers)
	if err != nil {
		return Packet{}, fmt.Errorf("redisadapter: packet data: %w", err)
	}
	return Packet{Data: v, Nsp: a.nsp}, nil
}

// localPacket converts a classic packet from another server to an EVENT of
// this namespace.
func (a *adapter) localPacket(p Packet) (*wire.Packet, error) {
	data, bufs, err := p.Data.PacketData()
	if err != nil {
		return nil, err
	}
	if _, _, err := shared.ParseEvent(data, bufs); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	q := &wire.Packet{Type: wire.EventPacket, Namespace: a.nsp, ID: wire.NoID, Data: data, Buffers: bufs}
	if len(bufs) > 0 {
		q.Type = wire.BinaryEvent
	}
	return q, nil
}

// Broadcast implements server.Adapter: it publishes, then delivers to the
// local sockets. While Redis is unreachable only the local sockets get it.
func (a *adapter) Broadcast(p *wire.Packet, opts server.BroadcastOptions) {
	if !opts.Flags.Local {
		if pk, err := a.wirePacketOf(p); err != nil {
			a.c.logger().Warn("redisadapter: broadcast not published", "nsp", a.nsp, "err", err)
		} else if b, err := (BroadcastMessage{UID: a.uid, Packet: pk, Opts: toWire(opts)}).Encode(); err != nil {
			a.c.logger().Warn("redisadapter: broadcast not published", "nsp", a.nsp, "err", err)
		} else {
			a.c.publish(a.ch.BroadcastChannel(opts.Rooms), b)
		}
	}
	a.MemoryAdapter.Broadcast(p, opts)
}

// BroadcastWithAck implements server.Adapter: every server answers with
// its client count, then with each client's ack (its first argument).
func (a *adapter) BroadcastWithAck(ctx context.Context, p *wire.Packet, opts server.BroadcastOptions, clientCount func(int), ack func(shared.Args, error)) {
	if opts.Flags.Local {
		a.MemoryAdapter.BroadcastWithAck(ctx, p, opts, clientCount, ack)
		return
	}
	pk, err := a.wirePacketOf(p)
	if err == nil {
		id := newUID(12)
		o := toWire(opts)
		timeout := a.c.opts.RequestsTimeout
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		ms := Milliseconds(max(timeout.Milliseconds(), 1))
		o.Flags.Timeout = &ms
		var b []byte
		b, err = Request{Type: RequestBroadcast, UID: a.uid, RequestID: id, Packet: pk, Opts: o}.Encode()
		if err == nil {
			a.track(ctx, id, &request{typ: RequestBroadcast, clientCount: clientCount, ack: ack})
			a.c.publish(a.ch.Request, b)
		}
	}
	if err != nil {
		a.c.logger().Warn("redisadapter: broadcast with acks not published", "nsp", a.nsp, "err", err)
	}
	a.MemoryAdapter.BroadcastWithAck(ctx, p, opts, clientCount, ack)
}

// track registers r under id until ctx is done.
func (a *adapter) track(ctx context.Context, id string, r *request) {
	r.done = make(chan struct{})
	a.mu.Lock()
	a.requests[id] = r
	a.mu.Unlock()
	context.AfterFunc(ctx, func() { a.forget(id) })
}

func (a *adapter) forget(id string) {
	a.mu.Lock()
	delete(a.requests, id)
	a.mu.Unlock()
}

// ServerCount implements server.Adapter: PUBSUB NUMSUB of the request
// channel, which every server of the namespace subscribes to once.
func (a *adapter) ServerCount(ctx context.Context) (int, error) {
	a.waitReady(ctx)
	n, err := a.c.numSub(ctx, a.ch.Request)
	if err != nil {
		return 1, err
	}
	return max(n, 1), nil
}

// waitReady waits until this server is counted in NUMSUB, or ctx is done.
func (a *adapter) waitReady(ctx context.Context) {
	select {
	case <-a.ready:
	case <-ctx.Done():
	}
}

// ask publishes a request and waits for the other servers' answers until
// ctx is done or RequestsTimeout passed. It returns the request, for the
// answers that arrived, and an error wrapping shared.ErrAckTimeout with
// the number missing when some did not.
func (a *adapter) ask(ctx context.Context, what string, r *request, encode func(id string) ([]byte, error)) (*request, error) {
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
	id := newUID(12)
	b, err := encode(id)
	if err != nil {
		return r, err
	}
	a.track(ctx, id, r)
	defer a.forget(id)
	if err := a.c.publishWait(ctx, a.ch.Request, b); err != nil {
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

// answered counts one answer to r, under a.mu.
func (r *request) answered() {
	r.got++
	if r.got == r.expected {
		close(r.done)
	}
}

// FetchSockets implements server.Adapter. With other servers silent, it
// returns what arrived by the deadline with an error that says how many
// did not answer.
func (a *adapter) FetchSockets(ctx context.Context, opts server.BroadcastOptions) ([]server.SocketInfo, error) {
	local, _ := a.MemoryAdapter.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	r, err := a.ask(ctx, "fetchSockets", &request{typ: RequestRemoteFetch}, func(id string) ([]byte, error) {
		return Request{Type: RequestRemoteFetch, UID: a.uid, RequestID: id, Opts: toWire(opts)}.Encode()
	})
	a.mu.Lock()
	out := append(local, r.sockets...)
	a.mu.Unlock()
	return out, err
}

// AllRooms implements server.Adapter.
func (a *adapter) AllRooms(ctx context.Context) ([]string, error) {
	r, err := a.ask(ctx, "allRooms", &request{typ: RequestAllRooms, rooms: map[string]struct{}{}}, func(id string) ([]byte, error) {
		return Request{Type: RequestAllRooms, UID: a.uid, RequestID: id}.Encode()
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, room := range a.MemoryAdapter.Rooms() {
		r.rooms[room] = struct{}{}
	}
	out := make([]string, 0, len(r.rooms))
	for room := range r.rooms {
		out = append(out, room)
	}
	return out, err
}

// AddSockets implements server.Adapter.
func (a *adapter) AddSockets(opts server.BroadcastOptions, rooms []string) {
	a.remoteOp(RequestRemoteJoin, opts, rooms, false)
	a.MemoryAdapter.AddSockets(opts, rooms)
}

// DelSockets implements server.Adapter.
func (a *adapter) DelSockets(opts server.BroadcastOptions, rooms []string) {
	a.remoteOp(RequestRemoteLeave, opts, rooms, false)
	a.MemoryAdapter.DelSockets(opts, rooms)
}

// DisconnectSockets implements server.Adapter.
func (a *adapter) DisconnectSockets(opts server.BroadcastOptions, closeConn bool) {
	a.remoteOp(RequestRemoteDisconnect, opts, nil, closeConn)
	a.MemoryAdapter.DisconnectSockets(opts, closeConn)
}

func (a *adapter) remoteOp(t RequestType, opts server.BroadcastOptions, rooms []string, closeConn bool) {
	if opts.Flags.Local {
		return
	}
	b, err := Request{Type: t, UID: a.uid, Opts: toWire(opts), Rooms: rooms, Close: closeConn}.Encode()
	if err != nil {
		a.c.logger().Warn("redisadapter: request not published", "nsp", a.nsp, "type", t, "err", err)
		return
	}
	a.c.publish(a.ch.Request, b)
}

// serverSideData is the JSON of a server-side event, as Node sends it
// (binary as {"type":"Buffer","data":[...]}).
func serverSideData(p *wire.Packet) (JSONValue, error) {
	v, err := PacketValue(p.Data, p.Buffers)
	if err != nil {
		return nil, err
	}
	b, err := v.MarshalJSON()
	return JSONValue(b), err
}

// ServerSideEmit implements server.Adapter.
func (a *adapter) ServerSideEmit(p *wire.Packet) error {
	data, err := serverSideData(p)
	if err != nil {
		return fmt.Errorf("redisadapter: serverSideEmit: %w", err)
	}
	b, err := Request{Type: RequestServerSideEmit, UID: a.uid, Data: data}.Encode()
	if err != nil {
		return fmt.Errorf("redisadapter: serverSideEmit: %w", err)
	}
	if !a.c.publish(a.ch.Request, b) {
		return fmt.Errorf("redisadapter: serverSideEmit: publish queue full")
	}
	return nil
}

// ServerSideEmitWithAck implements server.Adapter.
func (a *adapter) ServerSideEmitWithAck(ctx context.Context, p *wire.Packet) ([]shared.Args, error) {
	data, err := serverSideData(p)
	if err != nil {
		return nil, fmt.Errorf("redisadapter: serverSideEmitWithAck: %w", err)
	}
	r, err := a.ask(ctx, "serverSideEmitWithAck", &request{typ: RequestServerSideEmit}, func(id string) ([]byte, error) {
		return Request{Type: RequestServerSideEmit, UID: a.uid, RequestID: id, Data: data}.Encode()
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]shared.Args(nil), r.replies...), err
}

// Close implements server.Adapter: it unsubscribes the namespace and ends
// its pending requests.
func (a *adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.requests = map[string]*request{}
	a.mu.Unlock()
	a.c.mu.Lock()
	for _, ch := range a.channels() {
		if a.c.routes[ch] == a {
			delete(a.c.routes, ch)
		}
	}
	if a.c.routes[a.ch.Pattern] == a {
		delete(a.c.routes, a.ch.Pattern)
	}
	a.c.mu.Unlock()
	a.c.sub.remove(a)
	return a.MemoryAdapter.Close()
}

// handle reads one message of the namespace's channels, on the Cluster's
// dispatching goroutine. Everything in it is untrusted: what cannot be read
// is dropped, counted and logged.
func (a *adapter) handle(m inMsg) {
	switch {
	case m.pattern != "":
		a.handleBroadcast(m)
	case m.channel == a.ch.Request:
		a.handleRequest(m)
	case m.channel == a.ch.Response || m.channel == a.ch.SpecificResponse:
		a.handleResponse(m)
	}
}

func (a *adapter) handleBroadcast(m inMsg) {
	room, ok := a.ch.RoomOf(m.channel)
	if !ok && m.channel != a.ch.Broadcast {
		return // another namespace whose name this pattern matches
	}
	if ok && !a.MemoryAdapter.HasRoom(room) {
		return // no local socket in the room: not even decoded, as Node does
	}
	msg, err := DecodeBroadcastMessage([]byte(m.payload))
	if err != nil {
		a.c.dropMalformed(m.channel, err)
		return
	}
	if msg.UID == a.uid {
		return
	}
	if nsp := msg.Packet.Nsp; nsp != "" && nsp != a.nsp || nsp == "" && a.nsp != "/" {
		return
	}
	p, err := a.localPacket(msg.Packet)
	if err != nil {
		a.c.dropMalformed(m.channel, err)
		return
	}
	a.MemoryAdapter.Broadcast(p, fromWire(msg.Opts))
}

func (a *adapter) handleRequest(m inMsg) {
	req, err := DecodeRequest([]byte(m.payload))
	if err != nil {
		a.c.dropMalformed(m.channel, err)
		return
	}
	if req.UID == a.uid {
		return // applied locally already, or this server's own question
	}
	answer := func(r Response) {
		b, err := r.Encode()
		if err != nil {
			a.c.logger().Warn("redisadapter: answer not published", "nsp", a.nsp, "type", req.Type, "err", err)
			return
		}
		a.c.publish(a.responseChannel(req.UID), b)
	}
	opts := fromWire(req.Opts)
	switch req.Type {
	case RequestSockets:
		answer(Response{RequestID: req.RequestID, Sockets: nonNilIDs(a.MemoryAdapter.Sockets(server.BroadcastOptions{Rooms: req.Rooms}))})
	case RequestAllRooms:
		answer(Response{RequestID: req.RequestID, Rooms: a.MemoryAdapter.Rooms()})
	case RequestRemoteJoin, RequestRemoteLeave, RequestRemoteDisconnect:
		if req.Legacy {
			a.legacyOp(req)
			answer(Response{RequestID: req.RequestID})
			return
		}
		switch req.Type {
		case RequestRemoteJoin:
			a.MemoryAdapter.AddSockets(opts, req.Rooms)
		case RequestRemoteLeave:
			a.MemoryAdapter.DelSockets(opts, req.Rooms)
		default:
			a.MemoryAdapter.DisconnectSockets(opts, req.Close)
		}
	case RequestRemoteFetch:
		local, _ := a.MemoryAdapter.FetchSockets(context.Background(), opts)
		infos := make([]SocketInfo, 0, len(local))
		for _, s := range local {
			infos = append(infos, SocketInfo{ID: s.ID, Handshake: HandshakeJSON(s.Handshake), Rooms: nonNilIDs(s.Rooms), Data: dataJSON(s.Data)})
		}
		answer(Response{RequestID: req.RequestID, FetchedSockets: infos})
	case RequestServerSideEmit:
		a.c.runServerSide(func() { a.serverSide(req, answer) })
	case RequestBroadcast:
		a.remoteBroadcastWithAck(req, answer)
	}
}

func (a *adapter) legacyOp(req Request) {
	s := a.MemoryAdapter.Sockets(server.BroadcastOptions{Rooms: []string{req.SID}})
	if len(s) == 0 {
		return
	}
	opts := server.BroadcastOptions{Rooms: []string{req.SID}}
	switch req.Type {
	case RequestRemoteJoin:
		a.MemoryAdapter.AddSockets(opts, []string{req.Room})
	case RequestRemoteLeave:
		a.MemoryAdapter.DelSockets(opts, []string{req.Room})
	default:
		a.MemoryAdapter.DisconnectSockets(opts, req.Close)
	}
}

func nonNilIDs(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// dataJSON is socket.data as Node would send it: its JSON, or nothing.
func dataJSON(v any) JSONValue {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return JSONValue(b)
}

func (a *adapter) serverSide(req Request, answer func(Response)) {
	var reply func(any)
	if req.RequestID != "" {
		var once sync.Once
		reply = func(arg any) {
			once.Do(func() {
				b, err := json.Marshal(arg)
				if err != nil {
					a.c.logger().Warn("redisadapter: server-side ack not sent", "nsp", a.nsp, "err", err)
					return
				}
				r := Response{Type: RequestServerSideEmit, RequestID: req.RequestID}
				if arg != nil {
					r.Data = JSONValue(b)
				}
				answer(r)
			})
		}
	}
	if err := a.ns.ReceiveServerSide(json.RawMessage(req.Data), nil, reply); err != nil {
		a.c.dropMalformed(a.ch.Request, err)
	}
}

// remoteBroadcastWithAck runs another server's broadcast with acks on the
// local sockets: one client count, then one answer per client's ack.
func (a *adapter) remoteBroadcastWithAck(req Request, answer func(Response)) {
	p, err := a.localPacket(req.Packet)
	if err != nil {
		a.c.dropMalformed(a.ch.Request, err)
		return
	}
	a.c.relayAcks(a.MemoryAdapter, a.nsp, req.Opts, p,
		func(n int) {
			answer(Response{Type: ResponseBroadcastClientCount, RequestID: req.RequestID, ClientCount: n})
		},
		func(v Value) { answer(Response{Type: ResponseBroadcastAck, RequestID: req.RequestID, Packet: v}) })
}

// relayAcks runs another server's broadcast with acks, p to the local
// sockets that o selects, for both protocols: count once with the number of
// clients reached, then ack once per client's reply, with its first
// argument (nil for none). The acks are forgotten when all came or at the
// broadcast's timeout, whichever is first.
func (c *Cluster) relayAcks(m *server.MemoryAdapter, nsp string, o BroadcastOptions, p *wire.Packet, count func(int), ack func(Value)) {
	timeout := c.opts.RequestsTimeout
	if t := o.Flags.Timeout; t != nil && *t > 0 {
		timeout = time.Duration(*t) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	var remaining atomic.Int64
	counted := make(chan struct{})
	m.BroadcastWithAck(ctx, p, fromWire(o),
		func(n int) {
			count(n)
			if remaining.Add(int64(n)) == 0 {
				cancel()
			}
			close(counted)
		},
		func(args shared.Args, err error) {
			<-counted
			defer func() {
				if remaining.Add(-1) == 0 {
					cancel()
				}
			}()
			if err != nil {
				return // the client left; the requester times out on it, as with Node
			}
			var v Value
			if args.Len() > 0 {
				v, err = PacketValue(args.Raw(0), args.Buffers())
				if err != nil {
					c.logger().Warn("redisadapter: ack not sent", "nsp", nsp, "err", err)
					return
				}
			}
			ack(v)
		})
}

// handleResponse reads an answer to one of this server's requests.
func (a *adapter) handleResponse(m inMsg) {
	res, err := DecodeResponse([]byte(m.payload))
	if err != nil {
		a.c.dropMalformed(m.channel, err)
		return
	}
	a.mu.Lock()
	r := a.requests[res.RequestID]
	if r == nil {
		a.mu.Unlock()
		return // another server's, on the shared channel, or too late
	}
	switch {
	case r.typ == RequestBroadcast:
		a.mu.Unlock()
		switch res.Type {
		case ResponseBroadcastClientCount:
			r.clientCount(res.ClientCount)
		case ResponseBroadcastAck:
			args, err := ackArgs(res.Packet)
			if err != nil {
				a.c.dropMalformed(m.channel, err)
				return
			}
			r.ack(args, nil)
		}
		return
	case r.typ == RequestServerSideEmit && res.Type == RequestServerSideEmit:
		args, err := shared.ParseArgs(jsonArray(res.Data), nil)
		if err != nil {
			a.mu.Unlock()
			a.c.dropMalformed(m.channel, err)
			return
		}
		r.replies = append(r.replies, args)
	case r.typ == RequestRemoteFetch && res.Type == 0:
		for _, s := range res.FetchedSockets {
			info := server.SocketInfo{ID: s.ID, Handshake: ParseHandshake(s.Handshake), Rooms: s.Rooms}
			if len(s.Data) > 0 {
				var d any
				if json.Unmarshal(s.Data, &d) == nil {
					info.Data = d
				}
			}
			r.sockets = append(r.sockets, info)
		}
	case r.typ == RequestAllRooms && res.Type == 0:
		for _, room := range res.Rooms {
			r.rooms[room] = struct{}{}
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

// ackArgs makes the Args of a client's ack that crossed servers: its one
// argument, or none.
func ackArgs(v Value) (shared.Args, error) {
	if len(v) == 0 {
		return shared.ParseArgs(json.RawMessage(`[]`), nil)
	}
	data, bufs, err := v.PacketData()
	if err != nil {
		return shared.Args{}, err
	}
	return shared.ParseArgs(jsonArray(data), bufs)
}

// jsonArray wraps one JSON value (none when empty) in an array.
func jsonArray(v []byte) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage(`[]`)
	}
	b := make([]byte, 0, len(v)+2)
	b = append(b, '[')
	b = append(b, v...)
	return append(b, ']')
}
