package server

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/tsunagi/tsunagi/shared/wire"
)

// RecoveryOptions configure connection state recovery, compatible with
// Socket.IO's connectionStateRecovery: a client that lost its connection
// for less than MaxDisconnectionDuration gets back its socket id, its rooms,
// its Data and every event it missed, in order, none twice
// (socket.recovered in the client).
//
// It is off by default, as in Socket.IO: when on, the server keeps every
// broadcast for MaxDisconnectionDuration, and each event carries its offset
// as one more, last argument, which JavaScript handlers see.
type RecoveryOptions struct {
	// MaxDisconnectionDuration turns recovery on when above zero. Socket.IO
	// uses 2 minutes.
	MaxDisconnectionDuration time.Duration
	// SkipMiddlewares lets a recovered socket in without running the
	// namespace middleware again.
	SkipMiddlewares bool
}

// recoverable are the reasons after which a session is kept.
func recoverable(reason string) bool {
	switch reason {
	case ReasonTransportClose, ReasonTransportError, ReasonPingTimeout, ReasonShutdown, ReasonForcedClose, ReasonSlowClient:
		return true
	}
	return false
}

// recovery is a namespace's memory for connection state recovery: the
// sessions of sockets that disconnected, and the events broadcast in the
// last MaxDisconnectionDuration. Its lock orders every stored broadcast
// against every restore, so a recovering socket gets each event once:
// either from the store or live.
type recovery struct {
	max    time.Duration
	prefix string
	store  SessionAdapter // the adapter keeps the sessions and events instead, when it can

	mu       sync.Mutex
	seq      uint64
	packets  []storedPacket
	sessions map[string]*session // by private id
}

type storedPacket struct {
	offset string
	at     time.Time
	opts   BroadcastOptions
	frames []frame
}

type session struct {
	id    string
	pid   string
	rooms []string
	data  any
	at    time.Time
}

func newRecovery(o RecoveryOptions) *recovery {
	if o.MaxDisconnectionDuration <= 0 {
		return nil
	}
	return &recovery{max: o.MaxDisconnectionDuration, prefix: newID()[:8], sessions: map[string]*session{}}
}

// Session is the state of a socket that lost its connection, kept for
// connection state recovery (Options.Recovery).
type Session struct {
	// ID is the socket id, and PID the private id the client presents to
	// recover.
	ID, PID string
	// Rooms are the socket's rooms, its own id among them.
	Rooms []string
	// Data is the socket's Data.
	Data any
}

// SessionAdapter is an Adapter that keeps connection state recovery itself,
// so that a client whose connection was cut can recover on any server of a
// cluster, the events sent meanwhile by every server included (the Redis
// streams adapter). When a namespace's adapter is one, and Options.Recovery
// is on, the server's own store is not used: offsets are the adapter's.
type SessionAdapter interface {
	Adapter
	// BroadcastRecoverable is Broadcast for an event that a recovering
	// session must get: the adapter stores it and delivers it to the local
	// sockets that opts select, with the offset under which it was stored
	// as one more, last argument.
	BroadcastRecoverable(p *wire.Packet, opts BroadcastOptions) error
	// PersistSession keeps s for max.
	PersistSession(s Session, max time.Duration)
	// HasSession reports whether the session of private id pid is kept.
	HasSession(pid string) bool
	// RestoreSession takes the session of pid out of the store and, when
	// the session and offset are known, calls connect with it, then
	// deliver with each event for the session's rooms stored after offset,
	// in order, before any later event reaches the socket. It reports
	// whether it restored the session.
	RestoreSession(pid, offset string, connect func(Session), deliver func(*wire.Packet)) bool
}

// Recovery returns the namespace's connection state recovery options
// (Options.Recovery); recovery is off when MaxDisconnectionDuration is 0.
func (ns *Namespace) Recovery() RecoveryOptions { return ns.srv.opts.Recovery }

// useAdapter makes the adapter keep the sessions, when it can.
func (r *recovery) useAdapter(a Adapter) {
	r.store, _ = a.(SessionAdapter)
}

// broadcast gives the event an offset (its last argument), keeps it, and
// delivers it through the adapter.
func (r *recovery) broadcast(ns *Namespace, event string, args []any, opts BroadcastOptions) error {
	if r.store != nil {
		p, err := encodeEvent(ns.name, event, args, wire.NoID)
		if err != nil {
			return err
		}
		return r.store.BroadcastRecoverable(p, opts)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	offset := r.prefix + "-" + strconv.FormatUint(r.seq, 36)
	p, err := encodeEvent(ns.name, event, append(args[:len(args):len(args)], offset), wire.NoID)
	if err != nil {
		return err
	}
	now := time.Now()
	r.prune(now)
	r.packets = append(r.packets, storedPacket{offset: offset, at: now, opts: opts, frames: packetFrames(p, opts.Flags.NoCompress)})
	ns.adapter.Broadcast(p, opts)
	return nil
}

func (r *recovery) prune(now time.Time) {
	i := 0
	for i < len(r.packets) && now.Sub(r.packets[i].at) > r.max {
		i++
	}
	if i > 0 {
		r.packets = append(r.packets[:0:0], r.packets[i:]...)
	}
	for pid, s := range r.sessions {
		if now.Sub(s.at) > r.max {
			delete(r.sessions, pid)
		}
	}
}

// persist keeps the session of a socket that disconnected for reason.
func (r *recovery) persist(s *Socket, rooms []string, reason string) {
	if !recoverable(reason) || s.pid == "" {
		return
	}
	if r.store != nil {
		r.store.PersistSession(Session{ID: s.id, PID: s.pid, Rooms: rooms, Data: s.Data()}, r.max)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(time.Now())
	r.sessions[s.pid] = &session{id: s.id, pid: s.pid, rooms: rooms, data: s.Data(), at: time.Now()}
}

// has reports whether pid names a live session.
func (r *recovery) has(pid string) bool {
	if r.store != nil {
		return r.store.HasSession(pid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sessions[pid]
	return s != nil && time.Since(s.at) <= r.max
}

// recoveryAuth reads the private id and offset a client presents in CONNECT.
func recoveryAuth(auth json.RawMessage) (pid, offset string) {
	if len(auth) == 0 {
		return "", ""
	}
	var v struct {
		PID    string `json:"pid"`
		Offset string `json:"offset"`
	}
	_ = json.Unmarshal(auth, &v)
	return v.PID, v.Offset
}

// restore, under the store's lock, gives s the session of pid and queues,
// after the CONNECT reply, every event the session missed. It reports
// false when there is nothing to recover (unknown or expired session,
// unknown offset): s is then a new socket.
func (r *recovery) restore(s *Socket, pid, offset string, connect func(rooms []string)) bool {
	if r.store != nil {
		return r.store.RestoreSession(pid, offset, func(sess Session) {
			s.id, s.pid, s.recovered = sess.ID, sess.PID, true
			s.SetData(sess.Data)
			connect(sess.Rooms)
		}, func(p *wire.Packet) { s.conn.sendPacket(p) })
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sess := r.sessions[pid]
	if sess == nil {
		return false
	}
	delete(r.sessions, pid)
	if time.Since(sess.at) > r.max {
		return false
	}
	i := -1
	for k := range r.packets {
		if r.packets[k].offset == offset {
			i = k
			break
		}
	}
	if i < 0 {
		return false
	}
	s.id, s.pid, s.recovered = sess.id, sess.pid, true
	s.SetData(sess.data)
	in := make(map[string]bool, len(sess.rooms))
	for _, room := range sess.rooms {
		in[room] = true
	}
	connect(sess.rooms) // joins the rooms and queues the CONNECT reply
	for _, p := range r.packets[i+1:] {
		if includes(in, p.opts) {
			s.conn.send(p.frames...)
		}
	}
	return true
}

// includes reports whether a socket in rooms is selected by opts.
func includes(rooms map[string]bool, opts BroadcastOptions) bool {
	for _, e := range opts.Except {
		if rooms[e] {
			return false
		}
	}
	if len(opts.Rooms) == 0 {
		return true
	}
	for _, r := range opts.Rooms {
		if rooms[r] {
			return true
		}
	}
	return false
}

// connectReply is the data of the CONNECT reply: the socket id, and the
// private id when recovery is on.
func connectReply(s *Socket) []byte {
	if s.pid == "" {
		return []byte(`{"sid":"` + s.id + `"}`)
	}
	return []byte(`{"sid":"` + s.id + `","pid":"` + s.pid + `"}`)
}
