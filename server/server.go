// Package server is the native tsunagi server: an http.Handler that speaks
// Socket.IO v5 over Engine.IO v4, on HTTP long-polling and WebSocket and the
// upgrade from one to the other, for the wasm client and for the official
// Socket.IO clients alike (socket.io-client on its defaults starts on
// polling and upgrades).
//
// # Layers
//
// A request goes first to package engineio, which checks it in engine.io's
// order (error codes 0–5), and serves polling sessions and their upgrade.
// A WebSocket that opens a session comes back here (serveWebSocket) and
// runs on the server's own transport: write coalescing (coalesce.go), idle
// parking (internal/idlepark) and the heartbeat of heartbeat.go. So does
// the WebSocket a polling session upgrades to: the server accepts it
// (Session.TakeUpgrades) and, once the upgrade is done, adopts it with the
// messages the session had not sent (session.go). Above
// either, a conn is the Socket.IO client: its sockets, one per namespace,
// and the dispatcher that runs their handlers in arrival order.
//
// Goroutines of a conn: on the own WebSocket, the reader (none while
// parked), a writer while frames are queued and the reader is active, and
// a dispatcher while tasks are. What is sent to a quiet conn (its reader
// parked, no writer) is written by one of the server's flushers (flush.go,
// one goroutine per GOMAXPROCS at most, while there is work), and the
// reply to a request, when nothing else is about to go to the conn, by the
// dispatcher itself (sendNow); both write without waiting for the socket,
// and leave what it does not take to the conn's writer. On an engineio
// session, no reader (messages come on the goroutine of
// the POST, or of the session's WebSocket reader after an upgrade), the
// same writer (which hands frames to the session) and dispatcher, and one
// goroutine at the end that tears the conn down.
//
// Locks across the two layers: engineio holds none of its locks while it
// calls OnMessage or OnClose, and a conn holds none of its own while it
// calls Session.Send (the writer sends with no lock held) or Session.Close
// (whose OnClose only starts the teardown goroutine). No network write
// happens under a lock on either side.
//
//	srv := server.New(nil)
//	srv.OnConnection(func(s *server.Socket) {
//		events.News.Emit(s, events.News{Hello: "world"})
//		events.MyOtherEvent.On(s, func(d events.MyData) { log.Println(d) })
//	})
//	http.Handle("/socket.io/", srv)
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"math/bits"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/idlepark"
	"github.com/tsunagi/tsunagi/server/engineio"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// Options configure a Server. The zero value of every field is its default.
type Options struct {
	// PingInterval is how often the server pings each client. Defaults to 25 s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for a pong before closing the
	// connection with "ping timeout". Defaults to 20 s.
	PingTimeout time.Duration
	// MaxPayload is the largest message accepted, in bytes. Defaults to 1,000,000.
	MaxPayload int64
	// MaxAttachments is the most binary attachments one packet may carry. Defaults to 10.
	MaxAttachments int
	// ConnectTimeout closes a connection that joins no namespace in time. Defaults to 45 s.
	ConnectTimeout time.Duration
	// AckTimeout bounds EmitWithAck when its ctx has no deadline. Defaults to 30 s.
	AckTimeout time.Duration
	// WriteTimeout bounds each write to a client, and how long a client
	// whose queue overflowed may take to drain it; a client that does not
	// read in time is disconnected with ReasonSlowClient. It also bounds
	// how long any connection the server closes takes to end (the client
	// reads what is queued and answers the close frame): then it is
	// dropped. Defaults to 10 s.
	WriteTimeout time.Duration
	// MaxQueue is the most outgoing WebSocket messages queued for one
	// connection (a binary attachment is one more). It absorbs bursts: the
	// writer sends everything queued at once, so a healthy client's queue
	// stays near empty. A client whose queue overflows is disconnected with
	// ReasonSlowClient; a broadcast never waits on it. Defaults to 1024.
	MaxQueue int
	// Compression enables permessage-deflate with the clients that offer
	// it (browsers do; Safari does not): messages of 1024 bytes or more
	// are compressed, each on its own (no context takeover, so an idle
	// connection holds no compressor). Broadcast.Compress(false) opts a
	// message out. Defaults to off, as in Socket.IO.
	Compression bool
	// Recovery turns connection state recovery on; see RecoveryOptions.
	// Off by default. Its state lives in memory: a restart loses it, unless
	// the environment variable TSUNAGI_RECOVERY_FILE (EnvRecoveryFile)
	// names a file, as the devserver does for its -run child: then New
	// restores the state from that file (and removes it; a file that does
	// not restore is logged and dropped), and Shutdown writes it, once
	// every client was disconnected. Only the environment turns this on; a
	// production server does not set it. Server.SaveRecovery and
	// Server.RestoreRecovery do the same on any reader and writer.
	Recovery RecoveryOptions
	// Adapter creates the adapter of each namespace, for example one that
	// spans several servers. Defaults to NewMemoryAdapter.
	Adapter func(ns *Namespace) Adapter
	// CleanupEmptyChildNamespaces removes a child of a dynamic namespace
	// when its last socket leaves, so that clients connecting to ever new
	// names do not grow the server. Defaults to false, as in Socket.IO.
	CleanupEmptyChildNamespaces bool
	// OriginPatterns lists the cross-origin hosts allowed to connect, as in
	// websocket.AcceptOptions (for example "localhost:*"), over either
	// transport. By default only same-origin requests (and clients that
	// send no Origin) are accepted. CORS, when set, decides instead.
	OriginPatterns []string
	// CORS allows cross-origin clients as Socket.IO's cors option does
	// (origins as a list or a func, credentials, methods, headers). Polling
	// requests are "simple" CORS requests that a browser sends whatever the
	// answer, so the server refuses a disallowed origin itself (code 4,
	// HTTP 403), on both transports.
	CORS *engineio.CORS

	// Transports lists the transports accepted, among "polling" and
	// "websocket" (engineio.Polling, engineio.WebSocket). Defaults to both,
	// as in Socket.IO: socket.io-client starts on polling and upgrades.
	Transports []string
	// DisableUpgrades keeps polling sessions on polling (Socket.IO's
	// allowUpgrades: false).
	DisableUpgrades bool
	// UpgradeTimeout bounds an upgrade from polling to WebSocket; past it
	// the session stays on polling. Defaults to 10 s.
	UpgradeTimeout time.Duration
	// Cookie, when set, names the sticky-session cookie ("io" by default)
	// sent with the handshake of a polling session, for load balancers;
	// see the README's "Behind a load balancer". Socket.IO's cookie option.
	Cookie *engineio.Cookie
	// AllowRequest is asked for every handshake (Socket.IO's allowRequest):
	// an error refuses it with code 4 (HTTP 403), the error's text as the
	// message.
	AllowRequest func(r *http.Request) error
	// PostTimeout bounds the reading of a polling POST's body: a body
	// still incomplete then closes the session (a client that trickles its
	// body does not hold a goroutine and a buffer). Defaults to 10 s.
	PostTimeout time.Duration
	// Logger receives the server's diagnostics. Defaults to slog.Default().
	Logger *slog.Logger
	// DisableIdleParking turns idle parking off. By default, on Linux, a
	// connection that goes quiet is parked: its socket waits in an epoll
	// set of the server's, with no goroutine, and its reader starts again
	// on input (package internal/idlepark describes how). Parking saves
	// the reader's stack, about 4 KB per idle connection: BENCHMARKS.md
	// ("Memory per idle connection") measures 4,575 bytes per idle
	// connection with it, and the change that brought it took 11,915
	// bytes down to 7,877–7,946. Off, every connection keeps its reader
	// goroutine, and a busy connection's writer and dispatcher end after
	// each burst of messages instead of waiting for the next (they would
	// otherwise stay with every quiet connection too). What it buys: no
	// epoll goroutine per server, no read deadline set once a second on
	// quiet readers to move them, and every connection's reader in a
	// goroutine dump. Elsewhere than Linux, or on sockets that are not
	// plain TCP, nothing is parked either way.
	DisableIdleParking bool
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PingInterval, wire.DefaultPingInterval)
	def(&c.PingTimeout, wire.DefaultPingTimeout)
	def(&c.ConnectTimeout, wire.DefaultConnectTimeout)
	def(&c.AckTimeout, 30*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	if c.MaxPayload <= 0 {
		c.MaxPayload = wire.DefaultMaxPayload
	}
	if c.MaxAttachments <= 0 {
		c.MaxAttachments = wire.DefaultMaxAttachments
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server accepts Socket.IO connections. Create it with New.
type Server struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	nsps     map[string]*Namespace
	parents  []*ParentNamespace
	conns    map[*conn]struct{}
	shutdown bool
	wg       sync.WaitGroup
	idle     *idlepark.Set // quiet connections, without a goroutine each
	eio      *engineio.Server
	beats    heartbeats // every connection's heartbeat, on one timer

	// pendingRec is the recovery state RestoreRecovery read for namespaces
	// that do not exist yet, by name; recoveryFile is EnvRecoveryFile's.
	pendingRec   map[string]*recoveryState
	recoveryFile string

	beforeBatch    func(*conn)  // test hook: the writer is about to take its queue
	afterUpgrade   func()       // test hook: ServeHTTP accepted a WebSocket
	helpersStarted atomic.Int64 // writer and dispatcher goroutines started, for tests
	flushers       flushers     // write the queues of connections without a writer (flush.go)
	sentNow        atomic.Int64 // sends written on the sender's goroutine (sendNow), for tests
	noCoalesce     bool         // benchmarks: one write syscall per message, as before coalescing
	stats          serverStats  // the counters Stats reads
}

// New returns a Server with the given options; nil means the defaults.
func New(opts *Options) *Server {
	o := opts.withDefaults()
	s := &Server{
		opts:  o,
		log:   o.Logger,
		nsps:  map[string]*Namespace{},
		conns: map[*conn]struct{}{},
		idle:  idlepark.New(o.Logger, !o.DisableIdleParking),
	}
	s.flushers.init()
	if o.Recovery.MaxDisconnectionDuration > 0 {
		s.recoveryFile = os.Getenv(EnvRecoveryFile)
	}
	s.eio = s.newEngineIO()
	s.Of("/")
	s.restoreFromEnv()
	return s
}

// Of returns the namespace name, creating it when it does not exist yet.
// A client that connects to a namespace that neither Of nor a dynamic
// namespace provides gets CONNECT_ERROR {"message":"Invalid namespace"}.
func (s *Server) Of(name string) *Namespace {
	if name == "" || name[0] != '/' {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, ok := s.nsps[name]
	if !ok {
		ns = newNamespace(s, name, nil)
		s.nsps[name] = ns
	}
	return ns
}

// OfFunc adds a dynamic namespace (Socket.IO's io.of(function)). When a
// client connects to a name that no namespace has yet, match is asked, in
// the order dynamic namespaces were added; the first that accepts creates a
// child namespace of that name, which keeps the parent's middleware and
// connection handlers. match runs on the connecting client's dispatcher.
func (s *Server) OfFunc(match func(name string, hs Handshake) bool) *ParentNamespace {
	p := &ParentNamespace{srv: s, match: match, children: map[string]*Namespace{}}
	s.mu.Lock()
	s.parents = append(s.parents, p)
	s.mu.Unlock()
	return p
}

// OfRegexp is OfFunc for names that re matches (re.MatchString: anchor it
// with ^ and $ to match whole names), such as regexp.MustCompile(`^/dyn-\d+$`).
func (s *Server) OfRegexp(re *regexp.Regexp) *ParentNamespace { return s.OfFunc(regexpMatcher(re)) }

// lookup finds the namespace a CONNECT names, creating a dynamic
// namespace's child on first use; hs is made only for a matcher.
func (s *Server) lookup(c *conn, name string, hs func() Handshake) *Namespace {
	s.mu.Lock()
	ns := s.nsps[name]
	parents := s.parents
	s.mu.Unlock()
	if ns != nil {
		return ns
	}
	for _, p := range parents {
		ok := false
		c.safeCall("namespace match", func() error { ok = p.match(name, hs()); return nil })
		if !ok {
			continue
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if ns := s.nsps[name]; ns != nil { // created meanwhile
			return ns
		}
		ns := newNamespace(s, name, p)
		s.nsps[name] = ns
		p.mu.Lock()
		p.children[name] = ns
		p.mu.Unlock()
		return ns
	}
	return nil
}

// removeChild drops an empty child namespace (CleanupEmptyChildNamespaces).
func (s *Server) removeChild(ns *Namespace) {
	s.mu.Lock()
	ns.mu.Lock()
	gone := len(ns.sockets) == 0 && !ns.removed
	if gone {
		ns.removed = true
		if s.nsps[ns.name] == ns {
			delete(s.nsps, ns.name)
		}
		ns.parent.mu.Lock()
		if ns.parent.children[ns.name] == ns {
			delete(ns.parent.children, ns.name)
		}
		ns.parent.mu.Unlock()
	}
	ns.mu.Unlock()
	s.mu.Unlock()
	if gone {
		ns.adapter.Close()
	}
}

// OnConnection registers fn for each socket that connects to the main namespace "/".
func (s *Server) OnConnection(fn func(*Socket)) { s.Of("/").OnConnection(fn) }

// Use adds middleware to the main namespace.
func (s *Server) Use(fn Middleware) { s.Of("/").Use(fn) }

// Emit sends an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.Of("/").Emit(event, args...) }

// To targets the sockets of the main namespace in any of rooms.
func (s *Server) To(rooms ...string) *Broadcast { return s.Of("/").To(rooms...) }

// In is To.
func (s *Server) In(rooms ...string) *Broadcast { return s.Of("/").To(rooms...) }

// Except targets the sockets of the main namespace but those in rooms.
func (s *Server) Except(rooms ...string) *Broadcast { return s.Of("/").Except(rooms...) }

// ServeHTTP serves the Engine.IO endpoint (usually mounted at
// /socket.io/): polling requests, WebSocket connections and upgrades. A
// refused request gets Engine.IO's error codes 0–5, as from Node. A
// WebSocket is served until it closes (Shutdown waits for that); ServeHTTP
// returns once it is accepted.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eio.ServeHTTP(w, r) }

// serveWebSocket runs a WebSocket that opens a session on the server's own
// transport; package engineio has checked the request.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down := s.shutdown
	if !down {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if down {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"code":3,"message":"Server is shutting down"}`))
		return
	}
	served := false
	defer func() {
		if !served {
			s.wg.Done()
		}
	}()

	ws, hj, deflate, err := s.acceptWebSocket(w, r)
	if err != nil {
		s.log.Info("tsunagi: websocket handshake refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	if s.afterUpgrade != nil {
		s.afterUpgrade()
	}
	c := newConn(s, ws, hj.conn, hj.br, deflate, r)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		// Shutdown waits for this request: the close handshake gets
		// shutdownGrace, as the connections Shutdown closes do.
		t := time.AfterFunc(shutdownGrace, func() { hj.conn.Close() })
		ws.Close(websocket.StatusGoingAway, ReasonShutdown)
		t.Stop()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.stats.connsWebSocket.Add(1)
	// The connection is served on a goroutine of its own, and ServeHTTP
	// returns: the HTTP server's goroutine, with its deep stack, and the
	// request end with it.
	served = true
	s.idle.Add(&c.park)
	go c.run() // c.serve ends with s.wg.Done
}

// acceptWebSocket accepts a WebSocket for the server's own transport, on a
// connection it hijacks for write coalescing and idle parking. The origin
// was checked (OriginPatterns or CORS) with the rest of the request.
func (s *Server) acceptWebSocket(w http.ResponseWriter, r *http.Request) (ws *websocket.Conn, hj *hijackResponse, deflate bool, err error) {
	accept := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if s.opts.Compression {
		accept.CompressionMode = websocket.CompressionNoContextTakeover
		accept.CompressionThreshold = compressThreshold
	}
	hw, hj := wrapHijack(w, s.opts.WriteTimeout)
	ws, err = websocket.Accept(hw, r, accept)
	if err != nil {
		return nil, nil, false, err
	}
	if hj == nil || hj.conn == nil { // cannot happen: Accept hijacked through hw
		ws.CloseNow()
		return nil, nil, false, errors.New("tsunagi: the WebSocket's connection was not hijacked")
	}
	ws.SetReadLimit(s.opts.MaxPayload)
	deflate = strings.Contains(w.Header().Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	return ws, hj, deflate, nil
}

// shutdownGrace is how long Shutdown lets a connection end gracefully:
// read what is queued for it, get the close frame and answer it, which
// takes a round trip. Then the connection is dropped: a client that does
// not read, or does not answer (a browser answers a close frame only once
// its page has taken every message before it), does not hold Shutdown.
const shutdownGrace = 250 * time.Millisecond

// Shutdown stops accepting connections and disconnects every client with
// reason "server shutting down": each gets what was queued for it and a
// close frame (status 1001), and shutdownGrace (250 ms) to read them and
// answer; a client still connected then is dropped. Shutdown waits until
// the connections' goroutines have ended, handlers still running included,
// or until ctx is done: then it drops every connection left and returns
// ctx's error. With EnvRecoveryFile set, Shutdown then writes the
// recovery state to its file (see Options.Recovery), when every connection
// ended in time.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	conns := s.connList()
	s.mu.Unlock()
	for _, c := range conns {
		c.close(ReasonShutdown, websocket.StatusGoingAway)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	grace := time.NewTimer(shutdownGrace)
	defer grace.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-grace.C:
			s.abortAll()
		case <-ctx.Done():
			s.abortAll()
			s.eio.Close()
			return ctx.Err()
		}
	}
	s.eio.Close() // polling sessions that lingered for their close packet
	var errs []error
	if err := s.saveToEnv(); err != nil {
		errs = append(errs, err)
	}
	s.mu.Lock()
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, ns := range s.nsps {
		nsps = append(nsps, ns)
	}
	s.mu.Unlock()
	for _, ns := range nsps {
		if err := ns.adapter.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// connList returns the connections served, under s.mu.
func (s *Server) connList() []*conn {
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// abortAll drops every connection still served.
func (s *Server) abortAll() {
	s.mu.Lock()
	conns := s.connList()
	s.mu.Unlock()
	for _, c := range conns {
		c.abort(ReasonShutdown)
	}
}

func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// serverStats are the counters that Stats reads. Each is an atomic added
// to where the thing happens; what the server already knows (connections,
// sockets, adapters) is read at Stats time instead. The groups that
// different goroutines add to (readers, writers) are a cache line apart.
type serverStats struct {
	connsWebSocket, connsPolling, upgrades atomic.Uint64
	handshakeErrors                        [6]atomic.Uint64 // by Engine.IO error code
	disconnects                            [len(statsReasons) + 1]atomic.Uint64
	slowEvictions                          atomic.Uint64
	acksPending                            atomic.Int64
	acksTimedOut                           atomic.Uint64
	_                                      [64]byte
	messagesIn, bytesIn                    atomic.Uint64 // readers
	_                                      [64]byte
	queueDepth, batchFrames                histogram // writers
	batchBytes                             histogram

	nsMu sync.Mutex
	ns   map[string]*nsStats // by statsKey
}

// nsStats are the counters of the sockets of one namespace (or of every
// child of the dynamic namespaces: statsKey). A socket keeps a pointer to
// its own.
type nsStats struct {
	eventsIn  atomic.Uint64
	_         [56]byte
	eventsOut atomic.Uint64
}

// statsDynamic is the namespace key of every child of a dynamic
// namespace: their names come from clients, so they count together.
const statsDynamic = "dynamic"

// statsKey is the key ns counts under.
func statsKey(ns *Namespace) string {
	if ns.parent != nil {
		return statsDynamic
	}
	return ns.name
}

// namespace returns the counters of ns, made on first use.
func (st *serverStats) namespace(ns *Namespace) *nsStats {
	key := statsKey(ns)
	st.nsMu.Lock()
	defer st.nsMu.Unlock()
	n := st.ns[key]
	if n == nil {
		if st.ns == nil {
			st.ns = map[string]*nsStats{}
		}
		n = &nsStats{}
		st.ns[key] = n
	}
	return n
}

// statsReasons are the disconnect reasons that Stats.Disconnects counts by
// name; any other counts as "other".
var statsReasons = [...]string{
	ReasonServerDisconnect, ReasonClientDisconnect, ReasonShutdown, ReasonPingTimeout,
	ReasonTransportClose, ReasonTransportError, ReasonParseError, ReasonForcedClose,
	ReasonSlowClient, ReasonConnectTimeout,
}

// countDisconnect counts a socket's disconnect by its reason.
func (st *serverStats) countDisconnect(reason string) {
	for i, r := range statsReasons {
		if r == reason {
			st.disconnects[i].Add(1)
			return
		}
	}
	st.disconnects[len(statsReasons)].Add(1)
}

// countHandshakeError counts a request refused with Engine.IO error code.
func (st *serverStats) countHandshakeError(code int) {
	if code >= 0 && code < len(st.handshakeErrors) {
		st.handshakeErrors[code].Add(1)
	}
}

// countQueue counts the depth of a queue the writer took, when not empty.
func (st *serverStats) countQueue(depth int) {
	if depth > 0 {
		st.queueDepth.observe(pow2Bucket(depth), uint64(depth))
	}
}

// countBatch counts one batch the writer wrote: frames and n bytes.
func (st *serverStats) countBatch(frames, n int) {
	st.batchFrames.observe(pow2Bucket(frames), uint64(frames))
	st.batchBytes.observe(pow4Bucket(n), uint64(n))
}

// histBuckets is the most bounds a histogram has.
const histBuckets = 11

// frameBounds are the upper bounds of the buckets of the histograms that
// count frames (Stats.QueueDepth, Stats.BatchFrames): 1, 2, 4 … 1024.
var frameBounds = [...]float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}

// byteBounds are the upper bounds of the buckets of the histogram that
// counts bytes (Stats.BatchBytes): 64, 256, 1 KiB … 4 MiB.
var byteBounds = [...]float64{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}

// histogram counts observations by bucket (not cumulative), the last
// bucket for those above every bound.
type histogram struct {
	counts [histBuckets + 1]atomic.Uint64
	sum    atomic.Uint64
}

func (h *histogram) observe(bucket int, v uint64) {
	h.counts[bucket].Add(1)
	h.sum.Add(v)
}

// pow2Bucket is v's bucket among frameBounds.
func pow2Bucket(v int) int {
	if v <= 1 {
		return 0
	}
	return min(bits.Len(uint(v-1)), len(frameBounds)) // the smallest i with v ≤ 2^i
}

// pow4Bucket is v's bucket among byteBounds.
func pow4Bucket(v int) int {
	if v <= 64 {
		return 0
	}
	return min((bits.Len(uint(v-1))-5)/2, len(byteBounds)) // v ≤ 2^k, k ≥ 7: 64·4^i ≥ 2^k
}

// load reads the histogram, whose buckets are bounds.
func (h *histogram) load(bounds []float64) Histogram {
	out := Histogram{Bounds: slices.Clone(bounds), Counts: make([]uint64, len(bounds)+1), Sum: h.sum.Load()}
	for i := range out.Counts {
		out.Counts[i] = h.counts[i].Load()
		out.Count += out.Counts[i]
	}
	return out
}

// Histogram is a distribution that Stats reports.
type Histogram struct {
	// Bounds are the buckets' upper bounds, in increasing order: for
	// frames 1, 2, 4 … 1024; for bytes 64, 256, 1 KiB … 4 MiB (powers of 4).
	Bounds []float64
	// Counts are the observations of each bucket, not cumulative:
	// Counts[i] those above Bounds[i-1] and at most Bounds[i], the last
	// (len(Bounds)) those above every bound.
	Counts []uint64
	// Count is the number of observations and Sum their total.
	Count, Sum uint64
}

// Stats are a server's counters and gauges, for metrics (package
// server/metrics makes Prometheus metrics of them) and logs. Totals count
// since New; the gauges are as of the call.
type Stats struct {
	// ConnectionsWebSocket and ConnectionsPolling are the Engine.IO
	// connections opened, by the transport they began on; Upgrades are
	// those that went from polling to WebSocket.
	ConnectionsWebSocket, ConnectionsPolling, Upgrades uint64
	// OpenWebSocket and OpenPolling are the connections open now, by the
	// transport they are on.
	OpenWebSocket, OpenPolling int
	// Sockets are the sockets connected now, by namespace. The children
	// of the dynamic namespaces (OfFunc, OfRegexp), whose names clients
	// choose, count together under "dynamic", so the keys stay few.
	Sockets map[string]int
	// EventsIn and EventsOut are the events received from clients (before
	// any middleware) and queued for them (emits and broadcasts, not acks;
	// a volatile event that was dropped is not counted), by namespace as
	// in Sockets.
	EventsIn, EventsOut map[string]uint64
	// MessagesIn and BytesIn are the Engine.IO messages read from clients
	// (attachments included) and their bytes.
	MessagesIn, BytesIn uint64
	// BatchFrames and BatchBytes are the batches the connections' writers
	// wrote: a writer takes its whole queue and writes it at once, in one
	// syscall on WebSocket unless it is large. BatchFrames counts frames
	// (packets, attachments, pings), BatchBytes their bytes: their sums
	// are the frames and bytes sent. QueueDepth is the length of the
	// queue each time a writer took it (when not empty): how many frames
	// had waited.
	QueueDepth, BatchFrames, BatchBytes Histogram
	// AcksPending are the acks the server waits for now (Socket.EmitWithAck
	// and broadcasts with acks, one per socket reached). AcksTimedOut are
	// those given up by their caller before the reply: at the deadline
	// (Options.AckTimeout or the context's) and, for a broadcast, when its
	// context ended or, rarely, when the socket's connection was closing
	// as the event was queued.
	AcksPending  int64
	AcksTimedOut uint64
	// Disconnects are the sockets disconnected, by reason: the Reason
	// constants, and "other" for any else.
	Disconnects map[string]uint64
	// SlowClientEvictions are the connections closed because the client
	// did not read fast enough (ReasonSlowClient).
	SlowClientEvictions uint64
	// HandshakeErrors are the requests refused with an Engine.IO error,
	// by code: 0 unknown transport, 1 unknown session id, 2 bad handshake
	// method, 3 bad request, 4 forbidden, 5 unsupported protocol version.
	HandshakeErrors [6]uint64
	// Adapter has the counters of the namespaces' adapters that are
	// StatsAdapters, when HasAdapter. An adapter's counters are taken as
	// shared by the namespaces, as a redisadapter.Cluster's are (one set
	// for all): each field is the largest any namespace's adapter reports.
	Adapter    AdapterStats
	HasAdapter bool
}

// Stats returns the server's counters. It takes the server's lock, and
// each connection's and namespace's, briefly: call it when metrics are
// scraped, not per message.
func (s *Server) Stats() Stats {
	st := &s.stats
	out := Stats{
		ConnectionsWebSocket: st.connsWebSocket.Load(),
		ConnectionsPolling:   st.connsPolling.Load(),
		Upgrades:             st.upgrades.Load(),
		MessagesIn:           st.messagesIn.Load(),
		BytesIn:              st.bytesIn.Load(),
		QueueDepth:           st.queueDepth.load(frameBounds[:]),
		BatchFrames:          st.batchFrames.load(frameBounds[:]),
		BatchBytes:           st.batchBytes.load(byteBounds[:]),
		AcksPending:          st.acksPending.Load(),
		AcksTimedOut:         st.acksTimedOut.Load(),
		SlowClientEvictions:  st.slowEvictions.Load(),
		Sockets:              map[string]int{},
		EventsIn:             map[string]uint64{},
		EventsOut:            map[string]uint64{},
		Disconnects:          make(map[string]uint64, len(statsReasons)+1),
	}
	for i, r := range statsReasons {
		out.Disconnects[r] = st.disconnects[i].Load()
	}
	out.Disconnects["other"] = st.disconnects[len(statsReasons)].Load()
	for i := range out.HandshakeErrors {
		out.HandshakeErrors[i] = st.handshakeErrors[i].Load()
	}
	st.nsMu.Lock()
	for k, n := range st.ns {
		out.EventsIn[k] = n.eventsIn.Load()
		out.EventsOut[k] = n.eventsOut.Load()
	}
	st.nsMu.Unlock()

	s.mu.Lock()
	conns := s.connList()
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, ns := range s.nsps {
		nsps = append(nsps, ns)
	}
	if len(s.parents) > 0 {
		out.Sockets[statsDynamic] = 0
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		polling := c.eio != nil && !c.ownWS
		c.mu.Unlock()
		if polling && c.eio.Transport() == engineio.Polling {
			out.OpenPolling++
		} else {
			out.OpenWebSocket++
		}
	}
	for _, ns := range nsps {
		ns.mu.Lock()
		out.Sockets[statsKey(ns)] += len(ns.sockets)
		ns.mu.Unlock()
		if sa, ok := ns.adapter.(StatsAdapter); ok {
			a := sa.AdapterStats()
			out.HasAdapter = true
			o := &out.Adapter
			o.Published = max(o.Published, a.Published)
			o.PublishErrors = max(o.PublishErrors, a.PublishErrors)
			o.Received = max(o.Received, a.Received)
			o.Malformed = max(o.Malformed, a.Malformed)
			o.Dropped = max(o.Dropped, a.Dropped)
			o.Gaps = max(o.Gaps, a.Gaps)
		}
	}
	return out
}
