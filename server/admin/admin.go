// Package admin is the server side of the official Socket.IO Admin UI
// (@socket.io/admin-ui 0.5): what its instrument(io, opts) does in Node,
// so that the UI, unchanged (the hosted one, or the ui/dist its npm
// package ships), shows a tsunagi server's sockets, rooms, namespaces and
// events, and joins, leaves, disconnects and emits.
//
//	hash, _ := bcrypt.GenerateFromPassword([]byte("secret"), 10)
//	_, err := admin.Instrument(srv, admin.Options{
//		Auth: &admin.BasicAuth{Username: "admin", Password: string(hash)},
//	})
//
// The UI connects to the admin namespace (Options.NamespaceName, "/admin")
// with socket.io-client. On connect it gets config (the features) and, in
// development mode, all_sockets; every 2 s, server_stats. In development
// mode every namespace's socket_connected, socket_updated (on an upgrade),
// socket_disconnected, room_joined, room_left, event_received and
// event_sent reach it too, which costs about one more emit per event:
// production mode (the default here, as Go has no NODE_ENV) sends only
// config and server_stats.
//
// With an adapter that spans several servers (server/redisadapter), every
// server runs Instrument with its own ServerID: what each emits to its
// admin namespace goes through the adapter to the UI wherever it is
// connected, all_sockets asks every server (FetchSockets), and the UI's
// actions reach every server's sockets, as in Node.
//
// Differences from Node: socket.data has no Proxy in Go, so a change is
// reported when made with Admin.SetData, not with Socket.SetData;
// upgrades are seen at each server_stats tick; rawDisconnection counts
// sockets disconnected by reason (Server.Stats), not Engine.IO closes; the
// namespace named by an action must exist (Node would create it).
package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

// Mode is Node's mode option.
type Mode string

// The modes.
const (
	// ModeProduction sends config and server_stats only.
	ModeProduction Mode = "production"
	// ModeDevelopment also sends all_sockets and every socket, room and
	// event notification.
	ModeDevelopment Mode = "development"
)

// BasicAuth is Node's auth: {type: "basic", username, password}.
type BasicAuth struct {
	Username string
	// Password is a bcrypt hash ($2a$, $2b$ or $2y$) of the password.
	Password string
}

// Options are instrument's options, named as Node's.
type Options struct {
	// NamespaceName is the admin namespace. Defaults to "/admin".
	NamespaceName string
	// Auth is the login the UI must give. Exactly one of Auth and NoAuth
	// must be set, as Node requires auth to be given or set to false.
	Auth *BasicAuth
	// NoAuth lets anyone connect (Node's auth: false).
	NoAuth bool
	// Readonly offers no action (emit, join, leave, disconnect).
	Readonly bool
	// ServerID names this server in the UI. Defaults to the host name.
	ServerID string
	// Mode defaults to ModeProduction.
	Mode Mode
	// StatsInterval is how often server_stats is sent. Defaults to 2 s, as
	// in Node.
	StatsInterval time.Duration
	// SessionDuration is how long a session id (given after a login, kept by
	// the UI) stays valid. Defaults to 24 h, Node's RedisStore's.
	SessionDuration time.Duration
}

// The features, in Node's order (Feature in lib/typed-events.ts).
var operations = []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"}

// queueSize bounds the notifications waiting for the admin's goroutine;
// past it they are dropped and counted.
const queueSize = 8192

// Admin is an instrumented server. Close stops it.
type Admin struct {
	srv      *server.Server
	nsp      *server.Namespace
	opts     Options
	features []string
	dev      bool
	hostname string
	started  time.Time

	sessMu   sync.Mutex
	sessions map[string]time.Time // session id → expiry

	queue   chan notice
	dropped atomic.Uint64
	refused atomic.Uint64
	closed  chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	mu      sync.Mutex
	offs    []func()
	polling map[*server.Socket]struct{} // dev mode: sockets still on polling
	last    server.Stats                // at the previous server_stats
	stopped bool
}

// notice is one emit to the admin namespace.
type notice struct {
	event string
	args  []any
}

// Instrument adds the admin namespace to srv, as Node's instrument(io,
// opts). Call it before clients connect, or the sockets already there are
// only seen through all_sockets.
func Instrument(srv *server.Server, opts Options) (*Admin, error) {
	if opts.NamespaceName == "" {
		opts.NamespaceName = "/admin"
	}
	if !strings.HasPrefix(opts.NamespaceName, "/") {
		opts.NamespaceName = "/" + opts.NamespaceName
	}
	switch {
	case opts.Auth == nil && !opts.NoAuth:
		return nil, errors.New("admin: the Auth option must be given, or NoAuth set")
	case opts.Auth != nil && opts.NoAuth:
		return nil, errors.New("admin: Auth and NoAuth are both set")
	case opts.Auth != nil:
		if _, err := bcrypt.Cost([]byte(opts.Auth.Password)); err != nil {
			return nil, fmt.Errorf("admin: the Password must be a valid bcrypt hash: %w", err)
		}
	}
	switch opts.Mode {
	case "":
		opts.Mode = ModeProduction
	case ModeProduction, ModeDevelopment:
	default:
		return nil, fmt.Errorf("admin: unknown mode %q", opts.Mode)
	}
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = 2 * time.Second
	}
	if opts.SessionDuration <= 0 {
		opts.SessionDuration = 24 * time.Hour
	}
	host, _ := os.Hostname()
	if opts.ServerID == "" {
		opts.ServerID = host
	}
	a := &Admin{
		srv:      srv,
		opts:     opts,
		dev:      opts.Mode == ModeDevelopment,
		hostname: host,
		started:  time.Now(),
		sessions: map[string]time.Time{},
		queue:    make(chan notice, queueSize),
		closed:   make(chan struct{}),
		polling:  map[*server.Socket]struct{}{},
	}
	if !opts.Readonly {
		a.features = append(a.features, operations...)
	}
	a.features = append(a.features, "AGGREGATED_EVENTS")
	if a.dev {
		a.features = append(a.features, "ALL_EVENTS")
	}
	a.nsp = srv.Of(opts.NamespaceName)
	if opts.Auth != nil {
		a.nsp.Use(a.authenticate)
	}
	a.nsp.OnConnection(a.onAdminConnection)
	if a.dev {
		srv.OnNamespace(a.watch)
	}
	a.last = srv.Stats()
	a.wg.Add(1)
	go a.run()
	return a, nil
}

// Namespace is the admin namespace.
func (a *Admin) Namespace() *server.Namespace { return a.nsp }

// Dropped is the number of notifications dropped because the UI's queue
// was full.
func (a *Admin) Dropped() uint64 { return a.dropped.Load() }

// SetData is s.SetData(v) reported to the UI, in development mode, as
// socket_updated with the new data (Node reports every change to
// socket.data through a Proxy; Go has none, so changes made with
// Socket.SetData alone show only in all_sockets).
func (a *Admin) SetData(s *server.Socket, v any) {
	s.SetData(v)
	if !a.dev {
		return
	}
	a.notify("socket_updated", map[string]any{
		"id": s.ID(), "nsp": s.Namespace().Name(),
		"data": serializeInfo(s.Namespace().Name(), server.SocketInfo{Data: v}, "", "").Data,
	})
}

// Refused is the number of admin connections refused for their
// credentials (a wrong password, an unknown session id, none).
func (a *Admin) Refused() uint64 { return a.refused.Load() }

// Close stops server_stats and the notifications; the admin namespace
// stays, with its sockets.
func (a *Admin) Close() {
	a.once.Do(func() {
		a.mu.Lock()
		a.stopped = true
		offs := a.offs
		a.offs = nil
		a.mu.Unlock()
		for _, off := range offs {
			off()
		}
		close(a.closed)
		a.wg.Wait()
	})
}

// authenticate is the admin namespace's middleware: a known session id,
// or the username and the password of Options.Auth.
func (a *Admin) authenticate(s *server.Socket) error {
	var auth struct {
		SessionID string `json:"sessionId"`
		Username  string `json:"username"`
		Password  string `json:"password"`
	}
	if raw := s.Handshake().Auth; len(raw) > 0 {
		_ = json.Unmarshal(raw, &auth) // anything else is no credentials
	}
	if auth.SessionID != "" && a.hasSession(auth.SessionID) {
		return nil
	}
	if auth.Username == a.opts.Auth.Username && auth.Password != "" &&
		bcrypt.CompareHashAndPassword([]byte(a.opts.Auth.Password), []byte(auth.Password)) == nil {
		id := newSessionID()
		a.sessMu.Lock()
		a.sessions[id] = time.Now().Add(a.opts.SessionDuration)
		a.sessMu.Unlock()
		s.SetData(sessionData{id}) // sent once connected: socket.io-client buffers it the same
		return nil
	}
	a.refused.Add(1)
	return errors.New("invalid credentials")
}

// sessionData marks an admin socket that logged in, until "session" is sent.
type sessionData struct{ id string }

func (a *Admin) hasSession(id string) bool {
	a.sessMu.Lock()
	defer a.sessMu.Unlock()
	exp, ok := a.sessions[id]
	if ok && time.Now().After(exp) {
		delete(a.sessions, id)
		ok = false
	}
	return ok
}

// pruneSessions drops the expired sessions.
func (a *Admin) pruneSessions(now time.Time) {
	a.sessMu.Lock()
	for id, exp := range a.sessions {
		if now.After(exp) {
			delete(a.sessions, id)
		}
	}
	a.sessMu.Unlock()
}

func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// onAdminConnection sends an admin socket its session, config and, in
// development mode, all_sockets, and takes its actions.
func (a *Admin) onAdminConnection(s *server.Socket) {
	if sd, ok := s.Data().(sessionData); ok {
		s.SetData(nil)
		_ = s.Emit("session", sd.id)
	}
	if !a.opts.Readonly {
		a.registerActions(s)
	}
	_ = s.Emit("config", map[string]any{"supportedFeatures": a.features})
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dev && !a.stopped { // Close waits for the goroutines added before it
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Emit("all_sockets", a.allSockets(ctx))
		}()
	}
}

// allSockets describes the sockets of every namespace, on every server
// the adapters span.
func (a *Admin) allSockets(ctx context.Context) []serializedSocket {
	out := []serializedSocket{}
	for _, ns := range a.srv.Namespaces() {
		local := map[string]*server.Socket{}
		for _, s := range ns.Sockets() {
			local[s.ID()] = s
		}
		infos, _ := ns.Except().FetchSockets(ctx) // the partial answer on error
		for _, in := range infos {
			if s := local[in.ID]; s != nil {
				out = append(out, serializeLocal(s))
			} else {
				out = append(out, serializeInfo(ns.Name(), in.SocketInfo, "", ""))
			}
		}
	}
	return out
}

// registerActions takes the UI's emit, join, leave and _disconnect.
func (a *Admin) registerActions(s *server.Socket) {
	s.On("emit", func(args shared.Args, _ shared.AckFunc) error {
		ns := a.lookup(args, 0)
		var ev string
		if ns == nil || args.Decode(2, &ev) != nil || ev == "" {
			return nil
		}
		rest := make([]any, 0, max(args.Len()-3, 0))
		for i := 3; i < args.Len(); i++ {
			v, err := args.Value(i)
			if err != nil {
				return nil
			}
			rest = append(rest, v)
		}
		if b := target(ns, args, 1); b != nil {
			return b.Emit(ev, rest...)
		}
		return nil
	})
	s.On("join", func(args shared.Args, _ shared.AckFunc) error {
		var room string
		if ns := a.lookup(args, 0); ns != nil && args.Decode(1, &room) == nil && room != "" {
			if b := target(ns, args, 2); b != nil {
				b.Join(room)
			}
		}
		return nil
	})
	s.On("leave", func(args shared.Args, _ shared.AckFunc) error {
		var room string
		if ns := a.lookup(args, 0); ns != nil && args.Decode(1, &room) == nil && room != "" {
			if b := target(ns, args, 2); b != nil {
				b.Leave(room)
			}
		}
		return nil
	})
	s.On("_disconnect", func(args shared.Args, _ shared.AckFunc) error {
		var closeConn bool
		if ns := a.lookup(args, 0); ns != nil {
			_ = args.Decode(1, &closeConn) // anything but true keeps the connection
			if b := target(ns, args, 2); b != nil {
				b.Disconnect(closeConn)
			}
		}
		return nil
	})
}

// lookup is the existing namespace that argument i names.
func (a *Admin) lookup(args shared.Args, i int) *server.Namespace {
	var name string
	if args.Decode(i, &name) != nil || name == "" {
		return nil
	}
	for _, ns := range a.srv.Namespaces() {
		if ns.Name() == name {
			return ns
		}
	}
	return nil
}

// target is ns, or its sockets in the rooms of argument i (a room, or a
// list of rooms) when it has some: Node's io.of(nsp).in(filter). A filter
// that is neither (a number, an object) selects nothing: nil.
func target(ns *server.Namespace, args shared.Args, i int) *server.Broadcast {
	raw := strings.TrimSpace(string(args.Raw(i)))
	switch raw {
	case "", "null", `""`, "false", "0":
		return ns.Except() // Node's falsy filter: the whole namespace
	}
	var one string
	if args.Decode(i, &one) == nil {
		return ns.To(one)
	}
	var many []string
	if args.Decode(i, &many) == nil {
		if len(many) == 0 {
			return nil // in([]) selects every socket in Node; an empty list here selects none
		}
		return ns.To(many...)
	}
	return nil
}

// watch follows a namespace's sockets and rooms (development mode).
func (a *Admin) watch(ns *server.Namespace) {
	name := ns.Name()
	isAdmin := ns == a.nsp || name == a.opts.NamespaceName
	ns.OnConnection(func(s *server.Socket) { a.onSocket(s, name, isAdmin) })
	ro, ok := ns.Adapter().(server.RoomObserver)
	if !ok {
		return
	}
	off := ro.ObserveRooms(func(ev server.RoomEvent) {
		switch ev.Kind {
		case server.RoomJoined:
			a.notify("room_joined", name, ev.Room, ev.ID, now())
		case server.RoomLeft:
			a.notify("room_left", name, ev.Room, ev.ID, now())
		}
	})
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		off()
		return
	}
	a.offs = append(a.offs, off)
	a.mu.Unlock()
}

// onSocket reports a socket that connected, and follows it.
func (a *Admin) onSocket(s *server.Socket, nsp string, isAdmin bool) {
	a.mu.Lock()
	stopped := a.stopped
	if !stopped && s.Transport() == "polling" {
		a.polling[s] = struct{}{}
	}
	a.mu.Unlock()
	if stopped {
		return
	}
	a.notify("socket_connected", serializeLocal(s), now())
	if !isAdmin {
		id := s.ID()
		s.OnAny(func(event string, args shared.Args) {
			a.notify("event_received", nsp, id, eventArgs(event, args), now())
		})
		s.OnAnyOutgoing(func(event string, args shared.Args) {
			a.notify("event_sent", nsp, id, eventArgs(event, args), now())
		})
	}
	s.OnDisconnect(func(reason string) {
		a.mu.Lock()
		delete(a.polling, s)
		a.mu.Unlock()
		a.notify("socket_disconnected", nsp, s.ID(), reason, now())
	})
}

// eventArgs is Node's args of onAny: the event name, then the arguments
// (an argument that does not decode is null).
func eventArgs(event string, args shared.Args) []any {
	out := make([]any, 1, args.Len()+1)
	out[0] = event
	for i := range args.Len() {
		v, _ := args.Value(i)
		out = append(out, v)
	}
	return out
}

// notify queues an emit to the admin namespace, for the admin's goroutine:
// the caller may hold a socket's lock (a room joined) and must not wait.
func (a *Admin) notify(event string, args ...any) {
	select {
	case a.queue <- notice{event, args}:
	default:
		a.dropped.Add(1)
	}
}

// run emits the notifications, and server_stats at each interval.
func (a *Admin) run() {
	defer a.wg.Done()
	t := time.NewTicker(a.opts.StatsInterval)
	defer t.Stop()
	a.emitStats()
	for {
		select {
		case <-a.closed:
			return
		case n := <-a.queue:
			_ = a.nsp.Emit(n.event, n.args...)
		case at := <-t.C:
			a.checkUpgrades()
			a.emitStats()
			a.pruneSessions(at)
		}
	}
}

// checkUpgrades reports the sockets that went from polling to WebSocket.
func (a *Admin) checkUpgrades() {
	a.mu.Lock()
	var up []*server.Socket
	for s := range a.polling {
		if s.Transport() != "polling" {
			up = append(up, s)
			delete(a.polling, s)
		}
	}
	a.mu.Unlock()
	for _, s := range up {
		_ = a.nsp.Emit("socket_updated", map[string]any{
			"id": s.ID(), "nsp": s.Namespace().Name(), "transport": s.Transport(),
		})
	}
}

// emitStats sends server_stats: Node's, with the aggregated events since
// the last one taken from the server's counters.
func (a *Admin) emitStats() {
	st := a.srv.Stats()
	a.mu.Lock()
	prev := a.last
	a.last = st
	a.mu.Unlock()
	ts := time.Now().Truncate(time.Second).UnixMilli()
	agg := []map[string]any{}
	add := func(typ, sub string, n uint64) {
		if n == 0 {
			return
		}
		e := map[string]any{"timestamp": ts, "type": typ, "count": n}
		if sub != "" {
			e["subType"] = sub
		}
		agg = append(agg, e)
	}
	add("rawConnection", "", st.ConnectionsWebSocket+st.ConnectionsPolling-prev.ConnectionsWebSocket-prev.ConnectionsPolling)
	for reason, n := range st.Disconnects {
		add("rawDisconnection", reason, n-prev.Disconnects[reason])
	}
	add("packetsIn", "", st.MessagesIn-prev.MessagesIn)
	add("bytesIn", "", st.BytesIn-prev.BytesIn)
	add("packetsOut", "", st.BatchFrames.Sum-prev.BatchFrames.Sum)
	add("bytesOut", "", st.BatchBytes.Sum-prev.BatchBytes.Sum)

	namespaces := []map[string]any{}
	for _, ns := range a.srv.Namespaces() {
		namespaces = append(namespaces, map[string]any{"name": ns.Name(), "socketsCount": len(ns.Sockets())})
	}
	_ = a.nsp.Emit("server_stats", map[string]any{
		"serverId":            a.opts.ServerID,
		"hostname":            a.hostname,
		"pid":                 os.Getpid(),
		"uptime":              time.Since(a.started).Seconds(),
		"clientsCount":        st.OpenWebSocket + st.OpenPolling,
		"pollingClientsCount": st.OpenPolling,
		"aggregatedEvents":    agg,
		"namespaces":          namespaces,
	})
}

// now is a Date as JSON carries it: ISO 8601 in UTC, with milliseconds.
func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// serializedSocket is Node's SerializedSocket.
type serializedSocket struct {
	ID        string          `json:"id"`
	ClientID  string          `json:"clientId"`
	Transport string          `json:"transport"`
	Nsp       string          `json:"nsp"`
	Data      json.RawMessage `json:"data"`
	Handshake handshake       `json:"handshake"`
	Rooms     []string        `json:"rooms"`
}

// handshake is Socket.IO's socket.handshake, without auth.
type handshake struct {
	Address string            `json:"address"`
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
	Issued  int64             `json:"issued"`
	Secure  bool              `json:"secure"`
	Time    string            `json:"time"`
	URL     string            `json:"url"`
	XDomain bool              `json:"xdomain"`
}

func serializeLocal(s *server.Socket) serializedSocket {
	id := s.ConnID()
	if len(id) > 12 {
		id = id[:12]
	}
	info := server.SocketInfo{ID: s.ID(), Handshake: s.Handshake(), Rooms: s.Rooms(), Data: s.Data()}
	return serializeInfo(s.Namespace().Name(), info, id, s.Transport())
}

// serializeInfo describes a socket as Node's serialize does. A socket of
// another server has no clientId or transport unless its data carries
// them, as a Node server's does (data._admin).
func serializeInfo(nsp string, in server.SocketInfo, clientID, transport string) serializedSocket {
	data := in.Data
	if _, ok := data.(sessionData); ok {
		data = nil
	}
	if m, ok := data.(map[string]any); ok {
		if adm, ok := m["_admin"].(map[string]any); ok {
			if clientID == "" {
				clientID, _ = adm["clientId"].(string)
			}
			if transport == "" {
				transport, _ = adm["transport"].(string)
			}
			c := make(map[string]any, len(m))
			for k, v := range m {
				if k != "_admin" {
					c[k] = v
				}
			}
			data = c
		}
	}
	raw, err := json.Marshal(data)
	if err != nil || data == nil || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	hs := in.Handshake
	headers := make(map[string]string, len(hs.Headers))
	for k, v := range hs.Headers {
		headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	query := make(map[string]string, len(hs.Query))
	for k, v := range hs.Query {
		if len(v) > 0 {
			query[k] = v[0]
		}
	}
	addr := hs.Address
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	if v := headers["cf-connecting-ip"]; v != "" {
		addr = v
	} else if v := headers["x-forwarded-for"]; v != "" {
		addr = v
	}
	at := hs.Time
	if at.IsZero() {
		at = time.Now()
	}
	rooms := in.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	return serializedSocket{
		ID:        in.ID,
		ClientID:  clientID,
		Transport: transport,
		Nsp:       nsp,
		Data:      raw,
		Handshake: handshake{
			Address: addr,
			Headers: headers,
			Query:   query,
			Issued:  at.UnixMilli(),
			Secure:  headers["x-forwarded-proto"] == "https",
			Time:    at.UTC().Format("Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"),
			URL:     hs.URL,
			XDomain: headers["origin"] != "",
		},
		Rooms: rooms,
	}
}
