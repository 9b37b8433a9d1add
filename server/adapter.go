package server

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// BroadcastOptions select the sockets an operation reaches: those in any of
// Rooms (every socket of the namespace when Rooms is empty), minus those in
// any of Except. A socket id is a room too. They are the rooms/except/flags
// that @socket.io/redis-adapter carries between servers.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	Flags  BroadcastFlags
}

// BroadcastFlags modify how a broadcast is delivered.
type BroadcastFlags struct {
	// Volatile drops the packet for sockets that cannot take it now (their
	// outgoing queue is not empty).
	Volatile bool
	// NoCompress sends the packet without permessage-deflate
	// (Broadcast.Compress(false); compress: false on the wire between servers).
	NoCompress bool
	// Local keeps the operation on this server.
	Local bool
}

// SocketInfo describes a socket, possibly connected to another server.
type SocketInfo struct {
	ID        string
	Handshake Handshake
	Rooms     []string
	// Data is the socket's Data; from another server, as decoded from its
	// wire form (JSON-like values).
	Data any
}

// Adapter keeps the rooms of one namespace and carries its broadcasts. Every
// broadcast and every room change of the namespace goes through it, so one
// that spans several servers (Redis, wire-compatible with
// @socket.io/redis-adapter) implements the same methods: it does the local
// part with an embedded *MemoryAdapter and forwards the rest, unless
// opts.Flags.Local is set.
//
// Methods may be called from many goroutines at once. They must not block
// on a client: delivering to a socket only queues the packet.
type Adapter interface {
	// AddAll adds the local socket id to rooms.
	AddAll(id string, rooms []string)
	// Del removes the local socket id from room.
	Del(id, room string)
	// DelAll removes the local socket id from every room; it is called once,
	// when the socket disconnects.
	DelAll(id string)
	// SocketRooms lists the rooms of the local socket id, its own id among
	// them; nil when the socket is unknown.
	SocketRooms(id string) []string
	// Sockets lists the ids of the local sockets that opts select.
	Sockets(opts BroadcastOptions) []string

	// Broadcast delivers p, an encoded EVENT of this namespace, to the
	// sockets that opts select.
	Broadcast(p *wire.Packet, opts BroadcastOptions)
	// BroadcastWithAck delivers p, asking each client for an
	// acknowledgement. The adapter gives p its ack id. Each server calls
	// clientCount once with the number of its sockets that p reached, and
	// ack once per reply; ack gets an error instead when the adapter knows
	// that a client will not reply (it disconnected). When ctx is done, the
	// adapter forgets the replies still awaited.
	BroadcastWithAck(ctx context.Context, p *wire.Packet, opts BroadcastOptions, clientCount func(n int), ack func(reply shared.Args, err error))
	// ServerCount is the number of servers that share this namespace,
	// this one included: clientCount calls to expect from BroadcastWithAck.
	ServerCount(ctx context.Context) (int, error)

	// FetchSockets describes the sockets that opts select.
	FetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error)
	// AddSockets makes the sockets that opts select join rooms.
	AddSockets(opts BroadcastOptions, rooms []string)
	// DelSockets makes the sockets that opts select leave rooms.
	DelSockets(opts BroadcastOptions, rooms []string)
	// DisconnectSockets disconnects the sockets that opts select from the
	// namespace; with closeConn, their connections are closed too.
	DisconnectSockets(opts BroadcastOptions, closeConn bool)
	// AllRooms lists the rooms of the namespace on every server, socket ids
	// included, each once (Node's adapter.allRooms()).
	AllRooms(ctx context.Context) ([]string, error)

	// ServerSideEmit sends p, an EVENT of this namespace with no ack id, to
	// the namespace on every other server, which runs its ServerSide
	// handlers (Namespace.ReceiveServerSide). Not to this server.
	ServerSideEmit(p *wire.Packet) error
	// ServerSideEmitWithAck sends p as ServerSideEmit does and waits for
	// one reply per other server until ctx is done. It returns the replies
	// that arrived (each the first argument the handler acknowledged with)
	// and, when some are missing at the deadline, an error wrapping
	// shared.ErrAckTimeout that gives their number.
	ServerSideEmitWithAck(ctx context.Context, p *wire.Packet) ([]shared.Args, error)

	// Close releases the adapter when the server shuts down or the
	// namespace is removed.
	Close() error
}

// AdapterStats are the counters of an adapter that spans several servers,
// for metrics and logs. All count since the adapter's start.
type AdapterStats struct {
	// Published is the number of messages sent to the other servers, and
	// PublishErrors those that could not be sent (Redis unreachable, a full
	// publish queue): they are lost.
	Published, PublishErrors uint64
	// Received is the number of messages read from the other servers;
	// Malformed of them were dropped as unreadable, and Dropped because the
	// queue of messages not yet handled was full.
	Received, Malformed, Dropped uint64
	// Gaps is the number of times the subscription was lost (Redis
	// restarted, the connection broke, or a probe found it silently
	// lapsed): what the other servers published until it was back is lost.
	Gaps uint64
}

// StatsAdapter is an Adapter that reports AdapterStats. The Redis adapters
// of server/redisadapter implement it.
type StatsAdapter interface {
	Adapter
	AdapterStats() AdapterStats
}

// MemoryAdapter is the default Adapter: the rooms of one namespace, on this
// server only. Multi-server adapters embed it for their local part.
type MemoryAdapter struct {
	ns    *Namespace
	mu    sync.RWMutex
	rooms map[string]idSet // room → socket ids
	sids  map[string]idSet // socket id → rooms

	observers atomic.Pointer[[]*roomObserver] // ObserveRooms'; nil when none
	obsMu     sync.Mutex                      // serializes changes to observers
}

// RoomEventKind is what happened to a room (Node's adapter events).
type RoomEventKind uint8

// The kinds of RoomEvent, as Node's in-memory adapter emits them.
const (
	RoomCreated RoomEventKind = iota + 1 // create-room: the room's first socket joined
	RoomDeleted                          // delete-room: its last socket left
	RoomJoined                           // join-room: a socket joined the room
	RoomLeft                             // leave-room: a socket left the room
)

// String is Node's name of the event: "create-room" and so on.
func (k RoomEventKind) String() string {
	switch k {
	case RoomCreated:
		return "create-room"
	case RoomDeleted:
		return "delete-room"
	case RoomJoined:
		return "join-room"
	case RoomLeft:
		return "leave-room"
	}
	return "unknown"
}

// RoomEvent is a change to the rooms of a namespace's local sockets. ID is
// the socket's for RoomJoined and RoomLeft, empty for the others. A
// socket's own room (its id) counts as a room, as in Node.
type RoomEvent struct {
	Kind RoomEventKind
	Room string
	ID   string
}

// RoomObserver is an adapter that reports room changes; MemoryAdapter is
// one, and so is every adapter that embeds it. Find it with a type
// assertion on Namespace.Adapter.
type RoomObserver interface {
	// ObserveRooms calls fn for each change to the rooms of the local
	// sockets, until off is called.
	ObserveRooms(fn func(RoomEvent)) (off func())
}

type roomObserver struct{ fn func(RoomEvent) }

var _ RoomObserver = (*MemoryAdapter)(nil)

// ObserveRooms calls fn for each change to the rooms of the local sockets,
// in the order of Node's adapter (create-room before the first join-room,
// delete-room after the last leave-room), until off is called. fn runs on
// the goroutine that made the change, after the adapter's lock is
// released, so it may call the adapter; changes made at once on several
// goroutines may reach it in any order. With no observer, a change costs
// one atomic load more.
func (a *MemoryAdapter) ObserveRooms(fn func(RoomEvent)) (off func()) {
	o := &roomObserver{fn}
	a.obsMu.Lock()
	var list []*roomObserver
	if p := a.observers.Load(); p != nil {
		list = *p
	}
	list = append(list[:len(list):len(list)], o)
	a.observers.Store(&list)
	a.obsMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.obsMu.Lock()
			defer a.obsMu.Unlock()
			p := a.observers.Load()
			if p == nil {
				return
			}
			var list []*roomObserver
			for _, e := range *p {
				if e != o {
					list = append(list, e)
				}
			}
			if len(list) == 0 {
				a.observers.Store(nil)
			} else {
				a.observers.Store(&list)
			}
		})
	}
}

// notify hands evs to the observers (none when obs is nil).
func notify(obs *[]*roomObserver, evs []RoomEvent) {
	if obs == nil {
		return
	}
	for _, ev := range evs {
		for _, o := range *obs {
			o.fn(ev)
		}
	}
}

// idSet is a set of strings that keeps a single member without a map: most
// rooms are a socket's own, and most sockets are in that room only.
type idSet struct {
	one  string // the member, when it is the only one (has1)
	has1 bool
	m    map[string]struct{} // two members or more
}

func (s *idSet) add(v string) {
	switch {
	case s.m != nil:
		s.m[v] = struct{}{}
	case !s.has1:
		s.one, s.has1 = v, true
	case s.one != v:
		s.m = map[string]struct{}{s.one: {}, v: {}}
		s.one, s.has1 = "", false
	}
}

func (s *idSet) del(v string) {
	switch {
	case s.m != nil:
		delete(s.m, v)
	case s.has1 && s.one == v:
		s.one, s.has1 = "", false
	}
}

func (s idSet) len() int {
	if s.m != nil {
		return len(s.m)
	}
	if s.has1 {
		return 1
	}
	return 0
}

func (s idSet) has(v string) bool {
	if s.m != nil {
		_, ok := s.m[v]
		return ok
	}
	return s.has1 && s.one == v
}

// all yields the members.
func (s idSet) all(yield func(string) bool) {
	if s.has1 {
		yield(s.one)
		return
	}
	for v := range s.m {
		if !yield(v) {
			return
		}
	}
}

var _ Adapter = (*MemoryAdapter)(nil)

// NewMemoryAdapter returns an empty in-memory adapter for ns.
func NewMemoryAdapter(ns *Namespace) *MemoryAdapter {
	return &MemoryAdapter{ns: ns, rooms: map[string]idSet{}, sids: map[string]idSet{}}
}

// AddAll implements Adapter.
func (a *MemoryAdapter) AddAll(id string, rooms []string) {
	obs := a.observers.Load()
	var evs []RoomEvent
	a.mu.Lock()
	mine := a.sids[id]
	for _, r := range rooms {
		mine.add(r)
		m := a.rooms[r]
		if obs != nil {
			if m.len() == 0 {
				evs = append(evs, RoomEvent{Kind: RoomCreated, Room: r})
			}
			if !m.has(id) {
				evs = append(evs, RoomEvent{Kind: RoomJoined, Room: r, ID: id})
			}
		}
		m.add(id)
		a.rooms[r] = m
	}
	a.sids[id] = mine
	a.mu.Unlock()
	notify(obs, evs)
}

// Del implements Adapter.
func (a *MemoryAdapter) Del(id, room string) {
	obs := a.observers.Load()
	a.mu.Lock()
	var evs []RoomEvent
	if mine, ok := a.sids[id]; ok {
		mine.del(room)
		a.sids[id] = mine
	}
	evs = a.delRoom(id, room, obs != nil, evs)
	a.mu.Unlock()
	notify(obs, evs)
}

// delRoom removes id from room, appending to evs what it did when observed.
func (a *MemoryAdapter) delRoom(id, room string, observed bool, evs []RoomEvent) []RoomEvent {
	m, ok := a.rooms[room]
	if !ok {
		return evs
	}
	if observed && m.has(id) {
		evs = append(evs, RoomEvent{Kind: RoomLeft, Room: room, ID: id})
	}
	m.del(id)
	if m.len() == 0 {
		delete(a.rooms, room)
		if observed {
			evs = append(evs, RoomEvent{Kind: RoomDeleted, Room: room})
		}
	} else {
		a.rooms[room] = m
	}
	return evs
}

// DelAll implements Adapter.
func (a *MemoryAdapter) DelAll(id string) {
	obs := a.observers.Load()
	var evs []RoomEvent
	a.mu.Lock()
	mine := a.sids[id]
	delete(a.sids, id)
	for r := range mine.all {
		evs = a.delRoom(id, r, obs != nil, evs)
	}
	a.mu.Unlock()
	notify(obs, evs)
}

// SocketRooms implements Adapter.
func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	mine, ok := a.sids[id]
	if !ok {
		return nil
	}
	out := make([]string, 0, mine.len())
	for r := range mine.all {
		out = append(out, r)
	}
	return out
}

// Sockets implements Adapter.
func (a *MemoryAdapter) Sockets(opts BroadcastOptions) []string { return a.selectIDs(opts) }

// HasRoom reports whether a local socket is in room.
func (a *MemoryAdapter) HasRoom(room string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.rooms[room].len() > 0
}

// Rooms lists the rooms that have local sockets, socket ids included.
func (a *MemoryAdapter) Rooms() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, 0, len(a.rooms))
	for r := range a.rooms {
		out = append(out, r)
	}
	return out
}

// selectIDs returns the ids of the local sockets that opts select: in any
// of opts.Rooms (all when empty), in none of opts.Except, each once.
func (a *MemoryAdapter) selectIDs(opts BroadcastOptions) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var except map[string]struct{}
	if len(opts.Except) > 0 {
		except = map[string]struct{}{}
		for _, r := range opts.Except {
			for id := range a.rooms[r].all {
				except[id] = struct{}{}
			}
		}
	}
	if len(opts.Rooms) == 0 {
		ids := make([]string, 0, len(a.sids))
		for id := range a.sids {
			if _, no := except[id]; !no {
				ids = append(ids, id)
			}
		}
		return ids
	}
	var ids []string
	var seen map[string]struct{}
	if len(opts.Rooms) > 1 {
		seen = map[string]struct{}{}
	}
	for _, r := range opts.Rooms {
		for id := range a.rooms[r].all {
			if _, no := except[id]; no {
				continue
			}
			if seen != nil {
				if _, dup := seen[id]; dup {
					continue
				}
				seen[id] = struct{}{}
			}
			ids = append(ids, id)
		}
	}
	return ids
}

// selectSockets resolves selectIDs to the sockets still connected.
func (a *MemoryAdapter) selectSockets(opts BroadcastOptions) []*Socket {
	return a.ns.socketsByID(a.selectIDs(opts))
}

// Broadcast implements Adapter: the packet is encoded once and queued for
// each selected socket; no socket's slowness delays another.
func (a *MemoryAdapter) Broadcast(p *wire.Packet, opts BroadcastOptions) {
	frames := packetFrames(p, opts.Flags.NoCompress)
	for _, s := range a.selectSockets(opts) {
		s.deliver(frames, opts.Flags.Volatile)
	}
}

// BroadcastWithAck implements Adapter. Every socket receives the same ack
// id, from the namespace's counter, so the packet is encoded once.
func (a *MemoryAdapter) BroadcastWithAck(ctx context.Context, p *wire.Packet, opts BroadcastOptions, clientCount func(int), ack func(shared.Args, error)) {
	q := *p
	q.ID = a.ns.nextAckID()
	frames := packetFrames(&q, opts.Flags.NoCompress)
	var reached []*Socket
	for _, s := range a.selectSockets(opts) {
		if !s.addAck(q.ID, ack) {
			continue
		}
		if s.deliver(frames, opts.Flags.Volatile) {
			reached = append(reached, s)
		} else {
			s.dropAck(q.ID)
		}
	}
	clientCount(len(reached))
	if len(reached) > 0 && ctx.Done() != nil {
		context.AfterFunc(ctx, func() {
			for _, s := range reached {
				s.dropAck(q.ID)
			}
		})
	}
}

// ServerCount implements Adapter: 1.
func (a *MemoryAdapter) ServerCount(context.Context) (int, error) { return 1, nil }

// FetchSockets implements Adapter.
func (a *MemoryAdapter) FetchSockets(_ context.Context, opts BroadcastOptions) ([]SocketInfo, error) {
	socks := a.selectSockets(opts)
	out := make([]SocketInfo, 0, len(socks))
	for _, s := range socks {
		out = append(out, SocketInfo{ID: s.id, Handshake: s.Handshake(), Rooms: s.Rooms(), Data: s.Data()})
	}
	return out, nil
}

// AddSockets implements Adapter.
func (a *MemoryAdapter) AddSockets(opts BroadcastOptions, rooms []string) {
	for _, s := range a.selectSockets(opts) {
		s.Join(rooms...)
	}
}

// DelSockets implements Adapter.
func (a *MemoryAdapter) DelSockets(opts BroadcastOptions, rooms []string) {
	for _, s := range a.selectSockets(opts) {
		for _, r := range rooms {
			s.Leave(r)
		}
	}
}

// DisconnectSockets implements Adapter.
func (a *MemoryAdapter) DisconnectSockets(opts BroadcastOptions, closeConn bool) {
	for _, s := range a.selectSockets(opts) {
		s.Disconnect(closeConn)
	}
}

// AllRooms implements Adapter: Rooms.
func (a *MemoryAdapter) AllRooms(context.Context) ([]string, error) { return a.Rooms(), nil }

// ServerSideEmit implements Adapter: there is no other server.
func (a *MemoryAdapter) ServerSideEmit(*wire.Packet) error { return nil }

// ServerSideEmitWithAck implements Adapter: there is no other server, so
// no reply to wait for.
func (a *MemoryAdapter) ServerSideEmitWithAck(context.Context, *wire.Packet) ([]shared.Args, error) {
	return nil, nil
}

// Close implements Adapter.
func (a *MemoryAdapter) Close() error { return nil }
