package server

import (
	"sync"

	"github.com/tsunagi/tsunagi/shared"
)

// BroadcastOptions select the sockets a broadcast reaches.
type BroadcastOptions struct {
	Rooms    []string // any of these; all sockets when empty
	Except   []string // none of these
	Volatile bool     // drop for sockets that cannot take it now
	Local    bool     // this server only
}

// Adapter keeps the rooms of one namespace and delivers its broadcasts. The
// in-memory adapter is the default; a multi-server adapter (Redis) forwards
// broadcasts to the other servers as well.
type Adapter interface {
	AddAll(id string, rooms []string)
	Del(id, room string)
	DelAll(id string)
	SocketRooms(id string) []string
	// Sockets returns the ids of the local sockets that opts select.
	Sockets(opts BroadcastOptions) []string
	// Broadcast delivers p to the sockets that opts select.
	Broadcast(p *shared.Packet, opts BroadcastOptions)
}

type memoryAdapter struct {
	ns    *Namespace
	mu    sync.RWMutex
	rooms map[string]map[string]struct{} // room → socket ids
	sids  map[string]map[string]struct{} // socket id → rooms
}

func newMemoryAdapter(ns *Namespace) *memoryAdapter {
	return &memoryAdapter{ns: ns, rooms: map[string]map[string]struct{}{}, sids: map[string]map[string]struct{}{}}
}

func (a *memoryAdapter) AddAll(id string, rooms []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine := a.sids[id]
	if mine == nil {
		mine = map[string]struct{}{}
		a.sids[id] = mine
	}
	for _, r := range rooms {
		mine[r] = struct{}{}
		m := a.rooms[r]
		if m == nil {
			m = map[string]struct{}{}
			a.rooms[r] = m
		}
		m[id] = struct{}{}
	}
}

func (a *memoryAdapter) Del(id, room string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.del(id, room)
}

func (a *memoryAdapter) del(id, room string) {
	if mine := a.sids[id]; mine != nil {
		delete(mine, room)
	}
	if m := a.rooms[room]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(a.rooms, room)
		}
	}
}

func (a *memoryAdapter) DelAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for r := range a.sids[id] {
		a.del(id, r)
	}
	delete(a.sids, id)
}

func (a *memoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, 0, len(a.sids[id]))
	for r := range a.sids[id] {
		out = append(out, r)
	}
	return out
}

func (a *memoryAdapter) Sockets(opts BroadcastOptions) []string {
	var out []string
	a.each(opts, func(id string) { out = append(out, id) })
	return out
}

// each calls fn for every selected socket id, outside the lock.
func (a *memoryAdapter) each(opts BroadcastOptions, fn func(id string)) {
	a.mu.RLock()
	except := map[string]struct{}{}
	for _, r := range opts.Except {
		for id := range a.rooms[r] {
			except[id] = struct{}{}
		}
	}
	var ids []string
	if len(opts.Rooms) == 0 {
		ids = make([]string, 0, len(a.sids))
		for id := range a.sids {
			if _, no := except[id]; !no {
				ids = append(ids, id)
			}
		}
	} else {
		seen := map[string]struct{}{}
		for _, r := range opts.Rooms {
			for id := range a.rooms[r] {
				if _, no := except[id]; no {
					continue
				}
				if _, dup := seen[id]; dup {
					continue
				}
				seen[id] = struct{}{}
				ids = append(ids, id)
			}
		}
	}
	a.mu.RUnlock()
	for _, id := range ids {
		fn(id)
	}
}

func (a *memoryAdapter) Broadcast(p *shared.Packet, opts BroadcastOptions) {
	frames := packetFrames(p)
	a.each(opts, func(id string) { a.ns.deliver(id, frames, opts.Volatile) })
}
