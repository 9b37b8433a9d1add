package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	bc  *batchConn    // under ws: the writer batches through it
	br  *bufio.Reader // between ws and bc: coder/websocket reads through it
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

	mu           sync.Mutex
	queue        []frame
	spare        []frame
	writing      bool // a writer goroutine runs; it owns ws writes
	pingDue      bool // the writer is to send a ping
	awaitingPong bool
	heartbeatDue time.Time // the next ping, or the end of the wait for a pong; an earlier firing is stale
	tasks        []func()  // for the dispatcher, in arrival order
	dispatching  bool      // a dispatcher goroutine runs
	sockets      []*Socket // one per namespace joined
	connecting   []string  // namespaces whose CONNECT is queued or running: a second one is refused
	closeReason  string
	closeCode    websocket.StatusCode
	closed       bool
	ended        bool        // the socket is closed, or its close handshake over
	evict        *time.Timer // drops a closing connection that did not end in time
	connectTimer *time.Timer // closes a connection that joins no namespace in time

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

func newConn(s *Server, ws *websocket.Conn, bc *batchConn, br *bufio.Reader, deflate bool, r *http.Request) *conn {
	c := &conn{
		srv:     s,
		ws:      ws,
		bc:      bc,
		br:      br,
		deflate: deflate,
		sid:     newID(),
		header:  packHeader(r.Header),
		uri:     requestURI(r),
		remote:  r.RemoteAddr,
		dec:     wire.Decoder{Limits: wire.Limits{MaxAttachments: s.opts.MaxAttachments}},
	}
	c.park.Init(bc.Conn, c.serve)
	return c
}

func (c *conn) log(msg string, args ...any) {
	c.srv.log.Info(msg, append([]any{"sid", c.sid, "remote", c.remote}, args...)...)
}

// run serves the connection until it closes.
func (c *conn) run() {
	c.open()
	c.serve()
}

// serve reads until the connection closes, then tears it down, unless its
// socket goes quiet: then the server's idle Set holds it, without a
// goroutine, and calls serve again when the socket has input or closes.
func (c *conn) serve() {
	if c.park.Waitable() && c.srv.idle.Enabled() {
		c.setActive(true)
	}
	if c.readLoop() {
		return
	}
	c.teardown()
	s := c.srv
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.idle.Remove(&c.park)
	if c.eio != nil {
		c.eio.Close() // the session this conn took over leaves engineio's table
	}
	s.wg.Done()
}

// open sends the open packet and starts the heartbeat and the connect timeout.
func (c *conn) open() {
	o := c.srv.opts
	open := wire.OpenPacket{
		SID:          c.sid,
		PingInterval: o.PingInterval.Milliseconds(),
		PingTimeout:  o.PingTimeout.Milliseconds(),
		MaxPayload:   o.MaxPayload,
	}
	c.send(frame{typ: websocket.MessageText, data: open.Encode()})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armHeartbeat(o.PingInterval)
	c.armConnectTimeout()
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
	for _, s := range socks {
		s.onClose(reason)
	}
}

// readLoop reads and handles messages until the connection fails, and
// closes it with the reason; or until the socket has been quiet for a
// while: then it hands the connection to the idle Set and reports true.
func (c *conn) readLoop() (parked bool) {
	quiet := false
	for {
		if c.awaitInput(quiet) {
			c.setActive(false)
			if c.srv.idle.Park(&c.park) {
				return true
			}
		}
		reason, pause, ok := c.readMessage()
		if !ok {
			c.close(reason, websocket.StatusNormalClosure)
			return false
		}
		quiet = pause
	}
}

// readMessage reads one message and handles it, and reports whether the
// client is likely to pause after it (quietAfter). When the connection fails it reports false and why.
func (c *conn) readMessage() (reason string, quiet, ok bool) {
	typ, msg, err := c.readFrame()
	if err != nil {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		switch {
		case closed:
			return "", false, false
		case websocket.CloseStatus(err) != -1:
			return ReasonTransportClose, false, false
		default:
			var ce websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, io.EOF) {
				// A hang-up without a close frame is "transport close" too, as in Socket.IO.
				return ReasonTransportClose, false, false
			}
			if strings.Contains(err.Error(), "read limited at") {
				c.log("tsunagi: closing connection: message over maxPayload", "maxPayload", c.srv.opts.MaxPayload, "err", err)
				return ReasonParseError, false, false
			}
			c.log("tsunagi: read failed", "err", err)
			return ReasonTransportError, false, false
		}
	}
	if typ == websocket.MessageText && !utf8.Valid(msg) {
		// RFC 6455 §8.1: text that is not UTF-8 fails the connection.
		c.log("tsunagi: closing connection: text message is not valid UTF-8")
		c.close(ReasonParseError, websocket.StatusInvalidFramePayloadData)
		return ReasonParseError, false, false
	}
	if err := c.handleMessage(typ, msg); err != nil {
		c.log("tsunagi: closing connection after bad input", "err", err)
		c.close(ReasonParseError, websocket.StatusPolicyViolation)
		return ReasonParseError, false, false
	}
	return "", quietAfter(typ, msg), true
}

// msgPool holds the buffers messages are read into before they are copied
// out at their size: coder/websocket's Read starts every message with a
// 512-byte buffer, most of it garbage for the short messages clients send.
var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledMsg is the largest buffer msgPool keeps.
const maxPooledMsg = 64 << 10

// readFrame reads the next message whole, into memory of its own size.
func (c *conn) readFrame() (websocket.MessageType, []byte, error) {
	// Under context.Background: under a ctx that can end, coder/websocket
	// registers a context.AfterFunc per read. The read ends when the socket
	// closes (abort, finish).
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return typ, nil, err
	}
	bp := msgPool.Get().(*[]byte)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return typ, nil, err
		}
	}
	msg := bytes.Clone(b)
	if cap(b) <= maxPooledMsg {
		*bp = b[:0]
		msgPool.Put(bp)
	}
	return typ, msg, nil
}

// quietAfter reports whether a client usually pauses after msg: a pong
// (the heartbeat), or a CONNECT (the client waits for the reply). The reader
// then parks at once rather than wait in Go's poller first.
func quietAfter(typ websocket.MessageType, msg []byte) bool {
	if typ != websocket.MessageText || len(msg) == 0 {
		return false
	}
	switch wire.EIOType(msg[0]) {
	case wire.EIOPong:
		return len(msg) == 1
	case wire.EIOMessage:
		return len(msg) > 1 && msg[1] == '0' // Socket.IO CONNECT
	}
	return false
}

// awaitInput returns when the client has sent something: at once if bytes
// wait in a buffer, else once the socket has input. The reader waits here,
// in Go's poller, rather than in coder/websocket's read. It reports true,
// with no input there, when the connection is to be parked: after a pong or
// a CONNECT (quiet), or when the idle Set ended a long wait.
func (c *conn) awaitInput(quiet bool) (park bool) {
	c.rgate.Lock()
	idle := c.br.Buffered() == 0 && !c.bc.buffered()
	c.rgate.Unlock()
	if !idle || !c.park.Waitable() {
		return false
	}
	if quiet {
		return true
	}
	kick, err := c.srv.idle.Wait(&c.park)
	return kick && err != nil
}

// handleMessage handles one message from the client. A panic in it (a
// bug) fails this connection only, as when the reader ran on the HTTP
// server's goroutine, which recovers handlers' panics.
func (c *conn) handleMessage(typ websocket.MessageType, msg []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("tsunagi: panic handling a message", "sid", c.sid, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("tsunagi: panic handling a message: %v", r)
		}
	}()
	if typ == websocket.MessageBinary {
		p, complete, err := c.dec.Binary(msg)
		if err != nil || !complete {
			return err
		}
		return c.handlePacket(p)
	}
	t, data, err := wire.DecodeEIO(msg)
	if err != nil {
		return err
	}
	switch t {
	case wire.EIOPong:
		c.mu.Lock()
		if c.awaitingPong {
			c.awaitingPong = false
			c.armHeartbeat(c.srv.opts.PingInterval)
		}
		c.mu.Unlock()
	case wire.EIOPing:
		c.send(frame{typ: websocket.MessageText, data: append([]byte{byte(wire.EIOPong)}, data...)})
	case wire.EIOMessage:
		p, complete, err := c.dec.Text(data)
		if err != nil || !complete {
			return err
		}
		return c.handlePacket(p)
	case wire.EIOClose:
		c.close(ReasonTransportClose, websocket.StatusNormalClosure)
	case wire.EIONoop:
	default:
		return fmt.Errorf("tsunagi: unexpected Engine.IO %s packet from a client", t)
	}
	return nil
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
	c.startWriter()
	c.mu.Unlock()
	return nil
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
	c.startWriter()
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

// setActive records whether the reader runs; a connection that is not
// active keeps no writer or dispatcher waiting.
func (c *conn) setActive(on bool) {
	c.mu.Lock()
	c.active = on
	if !on {
		c.wakeAll()
		c.waits = nil // those woken keep theirs
	}
	c.mu.Unlock()
}

// armHeartbeat sets the heartbeat to fire in d, under c.mu.
func (c *conn) armHeartbeat(d time.Duration) {
	c.heartbeatDue = time.Now().Add(d)
	c.srv.beats.arm(c, c.heartbeatDue)
}

// onHeartbeat queues a ping, or closes the connection when the last one
// went unanswered for PingTimeout.
func (c *conn) onHeartbeat() {
	c.mu.Lock()
	if c.closed || time.Now().Before(c.heartbeatDue) { // re-armed meanwhile by a pong
		c.mu.Unlock()
		return
	}
	if c.awaitingPong {
		c.mu.Unlock()
		c.close(ReasonPingTimeout, websocket.StatusPolicyViolation)
		return
	}
	c.awaitingPong = true
	c.pingDue = true
	c.armHeartbeat(c.srv.opts.PingTimeout)
	c.startWriter()
	c.mu.Unlock()
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
		if len(batch) == 0 && !ping && !closed && c.active {
			c.waitFor(waitWriter)
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
		if closed && reason == ReasonPingTimeout {
			batch = batch[:0] // the client is gone: do not wait on it
		}
		if ping {
			batch = append(batch, frame{typ: websocket.MessageText, data: []byte{byte(wire.EIOPing)}})
		}
		err := c.writeBatch(batch)
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
			if errors.Is(err, errSlow) {
				c.abort(ReasonSlowClient)
			} else if isTimeout(err) {
				c.log("tsunagi: disconnecting slow client: write timed out", "timeout", c.srv.opts.WriteTimeout)
				c.abort(ReasonSlowClient)
			} else {
				c.abort(ReasonTransportError)
			}
			return
		}
		if closed {
			c.finish(reason, code)
			return
		}
	}
}

// writeBatch writes frames in as few syscalls as the batchConn allows:
// one, unless they pass maxHeld bytes.
func (c *conn) writeBatch(batch []frame) error {
	if c.eio != nil && !c.ownWS { // ownWS is set before this writer started
		return c.writeSession(batch)
	}
	if len(batch) == 0 {
		return nil
	}
	if c.srv.noCoalesce { // one write per frame, held whole (writeBufSize splits it)
		for _, f := range batch {
			c.bc.hold()
			err := c.writeFrame(f)
			if ferr := c.bc.flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	c.bc.hold()
	for _, f := range batch {
		if err := c.writeFrame(f); err != nil {
			c.bc.flush()
			return err
		}
	}
	return c.bc.flush()
}

// compressThreshold is the smallest message compressed (Socket.IO's
// perMessageDeflate threshold).
const compressThreshold = 1024

// writeFrame hands one message to the WebSocket. Its ctx has no deadline:
// every write under it is bounded by the batchConn's.
func (c *conn) writeFrame(f frame) error {
	ctx := context.Background()
	if !f.noCompress || !c.deflate || len(f.data) < compressThreshold {
		return c.ws.Write(ctx, f.typ, f.data)
	}
	// coder/websocket decides to compress a streamed message on its first
	// write, and only from the threshold up: a one-byte first write sends
	// the message uncompressed, as fragments, which every client reassembles.
	w, err := c.ws.Writer(ctx, f.typ)
	if err != nil {
		return err
	}
	if _, err := w.Write(f.data[:1]); err != nil {
		return err
	}
	if _, err := w.Write(f.data[1:]); err != nil {
		return err
	}
	return w.Close()
}

// abort closes the connection at once.
func (c *conn) abort(reason string) {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.closeReason = reason
	}
	c.ended = true
	c.wakeAll()
	own := c.ownWS
	c.mu.Unlock()
	if c.eio != nil && !own {
		c.eio.Close()
		return
	}
	// The socket first: that also ends a close handshake under way (whose
	// end CloseNow would wait for) and the read, whose ctx cannot end it.
	c.bc.Close()
	c.ws.CloseNow()
	c.srv.idle.Unpark(&c.park)
}

// finish sends the close frame and stops the reader.
func (c *conn) finish(reason string, code websocket.StatusCode) {
	if c.eio != nil && !c.ownWS { // the writer's call: ownWS was set before it started
		c.eio.Close() // what is queued in the session goes first
		return
	}
	switch reason {
	case ReasonTransportClose, ReasonTransportError, "":
		c.ws.CloseNow()
	default:
		c.rgate.Lock()
		c.ws.Close(code, reason)
		c.rgate.Unlock()
	}
	c.mu.Lock()
	c.ended = true // the reader no longer waits to queue a task
	c.wakeAll()
	c.mu.Unlock()
	c.srv.idle.Unpark(&c.park)
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
