package server

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/idlepark"
	"github.com/tsunagi/tsunagi/server/engineio"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// Disconnect reasons, as Socket.IO names them. A socket's OnDisconnect
// listeners get one; the client gets it as the close frame's reason when
// the server closes the connection for it.
const (
	ReasonServerDisconnect = "server namespace disconnect"
	ReasonClientDisconnect = "client namespace disconnect"
	ReasonShutdown         = "server shutting down"
	ReasonPingTimeout      = "ping timeout"
	ReasonTransportClose   = "transport close"
	ReasonTransportError   = "transport error"
	ReasonParseError       = "parse error"
	ReasonForcedClose      = "forced close"
	// ReasonSlowClient: the client did not read fast enough. Its outgoing
	// queue overflowed Options.MaxQueue (it then gets Options.WriteTimeout
	// to drain what is queued, then a close frame, status 1008), or one
	// write to it did not complete within Options.WriteTimeout (its
	// connection is then dropped at once). Either way its queue and
	// sockets are released.
	ReasonSlowClient     = "slow client"
	ReasonConnectTimeout = "connect timeout"
)

type frame struct {
	typ        websocket.MessageType
	data       []byte
	noCompress bool // sent without permessage-deflate
}

// conn is one Engine.IO connection, which carries the sockets of one or
// more namespaces: a WebSocket of the server's own transport, or an
// engineio.Session (polling, and the WebSocket it may upgrade to).
type conn struct {
	srv *Server
	// eio is the Engine.IO session of a connection that began on polling
	// (see session.go); it is nil on the server's own WebSocket transport,
	// which the fields up to park are for.
	eio *engineio.Session
	// ownWS: the session upgraded, and its WebSocket runs here (adopt);
	// set under mu, before the fields below are used for it.
	ownWS bool
	ws    *websocket.Conn
	bc    *batchConn    // under ws: the writer batches through it
	br    *bufio.Reader // between ws and bc: coder/websocket reads through it
	// rgate keeps the reader's look at br and bc (awaitInput) apart from
	// the close handshake, in which coder/websocket reads them itself.
	rgate   sync.Mutex
	park    idlepark.Conn // the server's idle Set's: waits for input, parks while quiet
	deflate bool          // permessage-deflate was negotiated
	sid     string

	// What Handshake needs of the HTTP request, which is not kept.
	header packedHeader
	uri    string // as the client sent it
	remote string

	// An idle connection has no goroutine on Linux, where the server's idle
	// Set holds it, and one elsewhere, its reader: the writer and the dispatcher
	// run only while the connection has work, and the server's heartbeats
	// fire the heartbeat.
	wg sync.WaitGroup // the writer and the dispatcher, while they run

	mu          sync.Mutex
	queue       []frame
	spare       []frame
	writing     bool // a writer goroutine runs; it owns ws writes
	pingDue     bool // the writer is to send a ping
	drain       bool // the writer is to flush the tail a flusher's write left (flush.go)
	flushQueued bool // the conn is on a flusher's list
	// writerIdle: the writer waits for frames (the reader is active);
	// directBusy: a sender writes at once (sendNow), and the writer waits
	// for it to end (writerBlocked).
	writerIdle, directBusy, writerBlocked bool
	flusher                               uint32 // which of the server's flushers takes it
	awaitingPong                          bool
	heartbeatDue                          time.Time // the next ping, or the end of the wait for a pong; an earlier firing is stale
	tasks                                 []func()  // for the dispatcher, in arrival order
	dispatching                           bool      // a dispatcher goroutine runs
	sockets                               []*Socket // one per namespace joined
	connecting                            []string  // namespaces whose CONNECT is queued or running: a second one is refused
	closeReason                           string
	closeCode                             websocket.StatusCode
	closed                                bool
	ended                                 bool        // the socket is closed, or its close handshake over
	evict                                 *time.Timer // drops a closing connection that did not end in time
	connectTimer                          *time.Timer // closes a connection that joins no namespace in time

	// While the reader runs and the idle Set could park it (active), the
	// writer and the dispatcher wait for work (waitFor) rather than end, so
	// a busy connection does not start a goroutine, and grow its stack,
	// per message. The reader waits there too, for room in a full task
	// queue. waits is made by the first to wait and dropped when the
	// connection goes quiet. Under mu.
	active    bool
	waits     *waits
	connected atomic.Bool // joined at least one namespace
	dec       wire.Decoder

	beatAt  time.Duration // under srv.beats.mu: the heartbeat's time
	beatPos int           // under srv.beats.mu: place in the heap + 1, or 0
}

// idleQueueCap is the most frames whose array the writer keeps when it
// stops: enough for a message and an attachment without allocating anew,
// little for an idle connection to hold.
const idleQueueCap = 4

// maxTasks is the most tasks queued for the dispatcher; past it the reader
// waits, so a client that sends faster than its handlers run is not read.
const maxTasks = 64

func (c *conn) log(msg string, args ...any) {
	c.srv.log.Info(msg, append([]any{"sid", c.sid, "remote", c.remote}, args...)...)
}

// armConnectTimeout closes the connection if it joins no namespace within
// ConnectTimeout, under c.mu.
func (c *conn) armConnectTimeout() {
	c.connectTimer = time.AfterFunc(c.srv.opts.ConnectTimeout, func() {
		if !c.connected.Load() {
			c.close(ReasonConnectTimeout, websocket.StatusPolicyViolation)
		}
	})
}

// joined records that the client joined a namespace: the connect timeout
// is over.
func (c *conn) joined() {
	c.connected.Store(true)
	c.mu.Lock()
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	c.mu.Unlock()
}

// teardown closes the connection once the reader has stopped, waits for the
// writer and the dispatcher, and disconnects the sockets.
func (c *conn) teardown() {
	c.wg.Wait() // closed: nothing starts the writer or the dispatcher again

	c.mu.Lock()
	reason := c.closeReason
	socks := c.sockets
	c.sockets = nil
	c.queue, c.spare = nil, nil
	c.srv.beats.remove(c)
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	if c.evict != nil {
		c.evict.Stop()
	}
	c.mu.Unlock()
	if reason == ReasonSlowClient {
		c.srv.stats.slowEvictions.Add(1)
	}
	for _, s := range socks {
		s.onClose(reason)
	}
}

func (c *conn) handlePacket(p wire.Packet) error {
	switch p.Type {
	case wire.Connect:
		// A CONNECT still queued for the dispatcher has no socket yet: the
		// namespace is marked here, on the reader, so that two in a row are
		// refused as surely as one after the socket exists.
		c.mu.Lock()
		dup := c.lookupSocket(p.Namespace) != nil || slices.Contains(c.connecting, p.Namespace)
		if !dup {
			c.connecting = append(c.connecting, p.Namespace)
		}
		c.mu.Unlock()
		if dup {
			return fmt.Errorf("tsunagi: second CONNECT to namespace %q", p.Namespace)
		}
		c.task(func() { c.connect(p) })
	case wire.Disconnect:
		if s := c.socket(p.Namespace); s != nil {
			c.task(func() { s.closeNamespace(ReasonClientDisconnect, false) })
		}
	case wire.EventPacket, wire.BinaryEvent:
		s := c.socket(p.Namespace)
		if s == nil {
			c.log("tsunagi: event for a namespace the client has not joined", "nsp", p.Namespace)
			return nil
		}
		name, args, err := shared.ParseEvent(p.Data, p.Buffers)
		if err != nil {
			return err
		}
		id := p.ID
		s.stats.eventsIn.Add(1)
		c.task(func() { s.dispatch(name, &args, id) })
	case wire.Ack, wire.BinaryAck:
		s := c.socket(p.Namespace)
		if s == nil {
			return nil
		}
		args, err := shared.ParseArgs(p.Data, p.Buffers)
		if err != nil {
			return err
		}
		s.resolveAck(p.ID, args)
	default:
		return fmt.Errorf("tsunagi: a client may not send %s", p.Type)
	}
	return nil
}

func (c *conn) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookupSocket(nsp)
}

// lookupSocket returns the socket of namespace nsp, under c.mu. A
// connection has a socket or a few: a slice costs less than a map.
// connectDone ends the CONNECT to nsp that the reader marked: the namespace
// now has a socket, or was refused and may be asked again.
func (c *conn) connectDone(nsp string) {
	c.mu.Lock()
	if i := slices.Index(c.connecting, nsp); i >= 0 {
		c.connecting = slices.Delete(c.connecting, i, i+1)
	}
	if len(c.connecting) == 0 {
		c.connecting = nil
	}
	c.mu.Unlock()
}

func (c *conn) lookupSocket(nsp string) *Socket {
	for _, s := range c.sockets {
		if s.nsp.name == nsp {
			return s
		}
	}
	return nil
}

// task queues fn for the dispatcher, starting it when it is not running.
// It blocks when the dispatcher is behind, which stops reading from this
// client: backpressure. Only the reader calls it.
func (c *conn) task(fn func()) {
	c.mu.Lock()
	for len(c.tasks) >= maxTasks {
		if c.ended {
			c.mu.Unlock()
			return
		}
		c.waitFor(waitRoom) // until the dispatcher takes a task, or the end
	}
	c.tasks = append(c.tasks, fn)
	if !c.dispatching {
		c.dispatching = true
		c.wg.Add(1)
		c.srv.helpersStarted.Add(1)
		go c.dispatchLoop()
	} else {
		c.wake(waitDispatcher)
	}
	c.mu.Unlock()
}

// dispatchLoop runs handlers one at a time, in the order packets arrived,
// outside every lock, until none is queued.
func (c *conn) dispatchLoop() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		n := len(c.tasks)
		if n == 0 && c.active && !c.closed {
			c.waitFor(waitDispatcher)
			c.mu.Unlock()
			continue
		}
		if n == 0 {
			c.dispatching = false
			c.tasks = nil // an idle connection keeps no array
			c.mu.Unlock()
			return
		}
		fn := c.tasks[0]
		copy(c.tasks, c.tasks[1:])
		c.tasks[n-1] = nil
		c.tasks = c.tasks[:n-1]
		if n == maxTasks {
			c.wake(waitRoom) // the reader
		}
		c.mu.Unlock()
		fn() // after close too: a DISCONNECT read just before must still count
	}
}

// safeCall runs a user callback, recovering and logging a panic.
func (c *conn) safeCall(what string, fn func() error) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("tsunagi: handler panicked", "sid", c.sid, "handler", what, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if err := fn(); err != nil {
		c.srv.log.Warn("tsunagi: handler failed", "sid", c.sid, "handler", what, "err", err)
	}
}

// connect runs the namespace middleware and, when it passes, creates the
// socket. A dynamic namespace's child is created here, on first CONNECT.
func (c *conn) connect(p wire.Packet) {
	defer c.connectDone(p.Namespace)
	now := time.Now()
	hs := func() Handshake { return c.handshake(p.Data, now) }
	for attempt := 0; ; attempt++ {
		ns := c.srv.lookup(c, p.Namespace, hs)
		if ns == nil || attempt == 3 {
			c.sendPacket(&wire.Packet{Type: wire.ConnectError, Namespace: p.Namespace, ID: wire.NoID,
				Data: errInvalidNamespace})
			return
		}
		s := newSocket(c, ns, p.Data, now)
		var pid, offset string
		if ns.rec != nil {
			pid, offset = recoveryAuth(p.Data)
		}
		var err error
		if pid == "" || !c.srv.opts.Recovery.SkipMiddlewares || !ns.rec.has(pid) {
			err = ns.runMiddleware(s)
		}
		if err != nil {
			c.sendPacket(&wire.Packet{Type: wire.ConnectError, Namespace: p.Namespace, ID: wire.NoID,
				Data: connectErrorData(err)})
			ns.dropIfEmpty() // refused clients must not grow the server
			return
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.sockets = append(c.sockets, s)
		c.mu.Unlock()
		if pid != "" && offset != "" && ns.rec.restore(s, pid, offset, func(rooms []string) {
			ns.add(s)
			s.Join(rooms...)
			c.sendPacket(&wire.Packet{Type: wire.Connect, Namespace: p.Namespace, ID: wire.NoID, Data: connectReply(s)})
		}) {
			c.joined()
			ns.connected(s)
			return
		}
		if ns.rec != nil {
			s.pid = newID()
		}
		if !ns.add(s) { // an empty child removed meanwhile: look again
			c.removeSocket(s)
			continue
		}
		c.joined()
		c.sendPacket(&wire.Packet{Type: wire.Connect, Namespace: p.Namespace, ID: wire.NoID, Data: connectReply(s)})
		ns.connected(s)
		return
	}
}

func (c *conn) removeSocket(s *Socket) {
	c.mu.Lock()
	if i := slices.Index(c.sockets, s); i >= 0 {
		c.sockets = slices.Delete(c.sockets, i, i+1)
	}
	c.mu.Unlock()
}

// sendPacket queues a packet and its attachments.
func (c *conn) sendPacket(p *wire.Packet) error {
	if len(p.Buffers) == 0 {
		return c.send(frame{typ: websocket.MessageText, data: p.Message()})
	}
	return c.send(packetFrames(p, false)...)
}

func packetFrames(p *wire.Packet, noCompress bool) []frame {
	fs := make([]frame, 0, 1+len(p.Buffers))
	fs = append(fs, frame{websocket.MessageText, p.Message(), noCompress})
	for _, b := range p.Buffers {
		fs = append(fs, frame{websocket.MessageBinary, b, noCompress})
	}
	return fs
}

var errSlow = errors.New("tsunagi: client too slow, outgoing queue full")

// send queues frames for the writer without blocking. A connection whose
// queue overflows is evicted as a slow client: one slow reader never
// stalls the others, and its queue stops growing.
func (c *conn) send(fs ...frame) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return shared.ErrDisconnected
	}
	if len(c.queue)+len(fs) > c.srv.opts.MaxQueue {
		queued := len(c.queue)
		c.mu.Unlock()
		c.log("tsunagi: disconnecting slow client: outgoing queue full", "queued", queued)
		c.close(ReasonSlowClient, websocket.StatusPolicyViolation)
		return errSlow
	}
	c.queue = append(c.queue, fs...)
	c.kick()
	c.mu.Unlock()
	return nil
}

// sendReply is send for the reply to a client's request (an ack), which
// the client waits for: it is written at once when nothing else is about
// to be sent to the connection (sendNow).
func (c *conn) sendReply(fs ...frame) error {
	c.mu.Lock()
	if !c.closed && len(fs) <= c.srv.opts.MaxQueue && c.sendNow(fs) {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return c.send(fs...)
}

// sendNow writes fs on the caller's goroutine, without waiting for the
// socket, when nothing is queued for the connection, no writer or flusher
// is at work on it (its writer, if it runs, idles), and no task of the
// connection waits for its turn: nothing more is about to be sent to it,
// so there is nothing to gather into the same write. It reports whether it
// did. That spares the hand-off to the writer or a flusher. Under c.mu,
// which it releases while it writes.
func (c *conn) sendNow(fs []frame) bool {
	if (c.writing && !c.writerIdle) || c.flushQueued || c.directBusy || len(c.queue) > 0 || len(c.tasks) > 0 ||
		c.pingDue || !c.flushable() {
		return false
	}
	n := 0
	for i := range fs {
		if !c.rawOK(fs[i]) {
			return false
		}
		n += len(fs[i].data)
	}
	c.directBusy = true
	c.mu.Unlock()
	took, tail, err := c.bc.writeNow(fs)
	c.mu.Lock()
	c.directBusy = false
	switch {
	case !took:
		c.queue = append(slices.Clone(fs), c.queue...) // before what came meanwhile
		c.kick()
		return true
	case err != nil:
		c.mu.Unlock()
		c.writeFailed(err)
		c.mu.Lock()
		return true
	}
	c.srv.sentNow.Add(1)
	c.srv.stats.countQueue(len(fs))
	c.srv.stats.countBatch(len(fs), n)
	c.drain = c.drain || tail
	switch {
	case c.writing:
		if tail || c.writerBlocked || len(c.queue) > 0 || c.pingDue || c.closed {
			c.wake(waitWriter)
		}
	case tail: // the writer sends the rest first, waiting for the socket
		c.startWriter()
	case len(c.queue) > 0 || c.pingDue || c.closed:
		c.kick()
	}
	return true
}

// kick sees to it that what is queued gets written, under c.mu: by the
// writer when one runs, else by the server's flushers (flush.go), else by
// a writer started for it.
func (c *conn) kick() {
	switch {
	case c.writing:
		c.wake(waitWriter)
	case c.flushQueued:
	case c.flushable():
		c.flushQueued = true
		c.srv.flushers.add(c)
	default:
		c.startWriter()
	}
}

// sendVolatile queues frames only when nothing is waiting to be written,
// and reports whether it did.
func (c *conn) sendVolatile(fs []frame) bool {
	c.mu.Lock()
	if c.closed || len(c.queue) > 0 || len(fs) > c.srv.opts.MaxQueue {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, fs...)
	c.kick()
	c.mu.Unlock()
	return true
}

// startWriter starts the writer unless it runs, under c.mu.
func (c *conn) startWriter() {
	if !c.writing {
		c.writing = true
		c.wg.Add(1)
		c.srv.helpersStarted.Add(1)
		go c.writeLoop()
	} else {
		c.wake(waitWriter)
	}
}

// What waits on a connection's waits.
const (
	waitWriter     = iota // for frames to write
	waitDispatcher        // for tasks
	waitRoom              // the reader, for room in a full task queue
	waitWriterGone        // adopt, for the writer to stop handing frames to the session
	waitKinds
)

// waits lets the writer, the dispatcher and the reader wait for one
// another under the conn's mu, each on a condition of its own, so that
// waking one does not wake the others for nothing.
type waits struct {
	cond [waitKinds]sync.Cond
	n    [waitKinds]int
}

// waitFor waits, under c.mu, to be woken for kind: there may be work, or
// the connection is closed or no longer active. Callers recheck.
func (c *conn) waitFor(kind int) {
	w := c.waits
	if w == nil {
		w = &waits{}
		for i := range w.cond {
			w.cond[i].L = &c.mu
		}
		c.waits = w
	}
	w.n[kind]++
	w.cond[kind].Wait()
	w.n[kind]--
}

// wake wakes what waits for kind, under c.mu.
func (c *conn) wake(kind int) {
	if w := c.waits; w != nil && w.n[kind] > 0 {
		w.cond[kind].Signal()
	}
}

// wakeAll wakes everything that waits, under c.mu.
func (c *conn) wakeAll() {
	if w := c.waits; w != nil {
		for i := range w.cond {
			if w.n[i] > 0 {
				w.cond[i].Broadcast()
			}
		}
	}
}

// close ends the connection once: the writer flushes what is queued and
// sends a close frame. The client gets WriteTimeout to read what is queued
// and answer the close frame; then its connection is dropped, whatever the
// writer is doing. Without that bound, a client that stopped reading would
// hold the writer until its write timed out, and one that stopped in the
// middle of a frame would hold it for good: coder/websocket's Close reads
// the rest of that frame without a deadline before it waits (5 s) for the
// client's close frame.
func (c *conn) close(reason string, code websocket.StatusCode) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeReason = reason
	c.closeCode = code
	c.evict = time.AfterFunc(c.srv.opts.WriteTimeout, func() { c.abort(reason) })
	c.startWriter()
	c.wakeAll() // the dispatcher too, to end once its queue is done
	c.mu.Unlock()
}

// writeLoop writes queued frames, all that are queued at once, until the
// queue is empty; on close it writes what is left and the close frame.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	for {
		if c.srv.beforeBatch != nil {
			c.srv.beforeBatch(c)
		}
		c.mu.Lock()
		batch := c.queue
		ping, closed, reason, code := c.pingDue, c.closed, c.closeReason, c.closeCode
		if c.drain {
			c.drain = false
			c.mu.Unlock()
			if err := c.bc.flush(); err != nil { // writes the tail, under the deadline
				c.writeFailed(err)
				return
			}
			continue
		}
		if c.directBusy { // a sender is writing (sendNow): wait for it
			c.writerBlocked = true
			c.waitFor(waitWriter)
			c.writerBlocked = false
			c.mu.Unlock()
			continue
		}
		if len(batch) == 0 && !ping && !closed && c.active {
			c.writerIdle = true
			c.waitFor(waitWriter)
			c.writerIdle = false
			c.mu.Unlock()
			continue
		}
		if len(batch) == 0 && !ping && !closed {
			c.writing = false
			c.wake(waitWriterGone)
			if cap(batch) == 0 {
				batch = c.spare
			}
			if cap(batch) > idleQueueCap { // an idle connection keeps a small array
				batch = nil
			}
			c.queue, c.spare = batch, nil
			c.mu.Unlock()
			return
		}
		c.queue = c.spare[:0]
		c.spare = nil
		c.pingDue = false
		c.mu.Unlock()
		c.srv.stats.countQueue(len(batch))
		if closed && reason == ReasonPingTimeout {
			batch = batch[:0] // the client is gone: do not wait on it
		}
		if ping {
			batch = append(batch, frame{typ: websocket.MessageText, data: []byte{byte(wire.EIOPing)}})
		}
		err := c.writeBatch(batch)
		if err == nil && len(batch) > 0 {
			n := 0
			for i := range batch {
				n += len(batch[i].data)
			}
			c.srv.stats.countBatch(len(batch), n)
		}
		clear(batch)
		if cap(batch) <= 256 { // after a burst, the connection keeps no big array
			c.mu.Lock()
			c.spare = batch[:0]
			c.mu.Unlock()
		}
		if err != nil {
			if errors.Is(err, engineio.ErrTakenOver) { // adopt takes it from here
				c.mu.Lock()
				c.writing = false
				c.wake(waitWriterGone)
				c.mu.Unlock()
				return
			}
			c.writeFailed(err)
			return
		}
		if closed {
			c.finish(reason, code)
			return
		}
	}
}

// writeFailed ends the connection after a failed write.
func (c *conn) writeFailed(err error) {
	switch {
	case errors.Is(err, errSlow):
		c.abort(ReasonSlowClient)
	case isTimeout(err):
		c.log("tsunagi: disconnecting slow client: write timed out", "timeout", c.srv.opts.WriteTimeout)
		c.abort(ReasonSlowClient)
	default:
		c.abort(ReasonTransportError)
	}
}

// requestURI is r's request target as the client sent it.
func requestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI() // a request that did not come from a client
}

// packedHeader is an http.Header in one string, "Key: value" lines: a
// connection keeps its request's headers for Handshake, and a map of
// them costs twice the bytes.
type packedHeader string

func packHeader(h http.Header) packedHeader {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 1
		}
	}
	b := make([]byte, 0, n)
	for k, vs := range h {
		for _, v := range vs {
			b = append(append(append(append(b, k...), ": "...), v...), '\n')
		}
	}
	return packedHeader(b)
}

// Header unpacks the header, a new map each time. A line break cannot be in
// a header field (net/http refuses the request), so every line is one field.
func (p packedHeader) Header() http.Header {
	h := http.Header{}
	for line := range strings.Lines(string(p)) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		h[k] = append(h[k], v)
	}
	return h
}
