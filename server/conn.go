package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared"
)

// Disconnect reasons, as Socket.IO names them.
const (
	ReasonServerDisconnect = "server namespace disconnect"
	ReasonClientDisconnect = "client namespace disconnect"
	ReasonShutdown         = "server shutting down"
	ReasonPingTimeout      = "ping timeout"
	ReasonTransportClose   = "transport close"
	ReasonTransportError   = "transport error"
	ReasonParseError       = "parse error"
	ReasonForcedClose      = "forced close"
	ReasonSlowClient       = "slow client"
	ReasonConnectTimeout   = "connect timeout"
)

type frame struct {
	typ  websocket.MessageType
	data []byte
}

// conn is one Engine.IO connection: a WebSocket that carries the sockets
// of one or more namespaces.
type conn struct {
	srv *Server
	ws  *websocket.Conn
	req *http.Request
	sid string

	ctx    context.Context
	cancel context.CancelFunc

	mu          sync.Mutex
	queue       []frame
	spare       []frame
	sockets     map[string]*Socket
	closeReason string
	closeCode   websocket.StatusCode
	closed      bool

	wake      chan struct{} // a frame was queued or close was asked
	pong      chan struct{}
	connected atomic.Bool // joined at least one namespace
	tasks     chan func()
	dec       shared.Decoder
}

func newConn(s *Server, ws *websocket.Conn, r *http.Request) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		srv:     s,
		ws:      ws,
		req:     r,
		sid:     newID(),
		ctx:     ctx,
		cancel:  cancel,
		sockets: map[string]*Socket{},
		wake:    make(chan struct{}, 1),
		pong:    make(chan struct{}, 1),
		tasks:   make(chan func(), 64),
		dec:     shared.Decoder{Limits: shared.Limits{MaxAttachments: s.opts.MaxAttachments}},
	}
}

func (c *conn) log(msg string, args ...any) {
	c.srv.log.Info(msg, append([]any{"sid", c.sid, "remote", c.req.RemoteAddr}, args...)...)
}

// run serves the connection until it closes.
func (c *conn) run() {
	o := c.srv.opts
	open := shared.OpenPacket{
		SID:          c.sid,
		PingInterval: o.PingInterval.Milliseconds(),
		PingTimeout:  o.PingTimeout.Milliseconds(),
		MaxPayload:   o.MaxPayload,
	}
	c.send(frame{websocket.MessageText, open.Encode()})

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.writeLoop() }()
	go func() { defer wg.Done(); c.dispatchLoop() }()
	connectTimer := time.AfterFunc(o.ConnectTimeout, func() {
		if !c.connected.Load() {
			c.close(ReasonConnectTimeout, websocket.StatusPolicyViolation)
		}
	})

	reason := c.readLoop()
	connectTimer.Stop()
	c.close(reason, websocket.StatusNormalClosure)
	close(c.tasks)
	wg.Wait()

	c.mu.Lock()
	reason = c.closeReason
	socks := make([]*Socket, 0, len(c.sockets))
	for _, s := range c.sockets {
		socks = append(socks, s)
	}
	c.sockets = map[string]*Socket{}
	c.mu.Unlock()
	for _, s := range socks {
		s.onClose(reason)
	}
}

// readLoop reads until the connection fails and returns the reason.
func (c *conn) readLoop() string {
	for {
		typ, msg, err := c.ws.Read(c.ctx)
		if err != nil {
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			switch {
			case closed:
				return ""
			case websocket.CloseStatus(err) != -1:
				return ReasonTransportClose
			case errors.Is(err, context.Canceled):
				return ""
			default:
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					return ReasonTransportClose
				}
				if strings.Contains(err.Error(), "read limited at") {
					c.log("tsunagi: closing connection: message over maxPayload", "maxPayload", c.srv.opts.MaxPayload, "err", err)
					return ReasonParseError
				}
				c.log("tsunagi: read failed", "err", err)
				return ReasonTransportError
			}
		}
		if err := c.handleMessage(typ, msg); err != nil {
			c.log("tsunagi: closing connection after bad input", "err", err)
			c.close(ReasonParseError, websocket.StatusPolicyViolation)
			return ReasonParseError
		}
	}
}

func (c *conn) handleMessage(typ websocket.MessageType, msg []byte) error {
	if typ == websocket.MessageBinary {
		p, complete, err := c.dec.Binary(msg)
		if err != nil || !complete {
			return err
		}
		return c.handlePacket(p)
	}
	t, data, err := shared.DecodeEIO(msg)
	if err != nil {
		return err
	}
	switch t {
	case shared.EIOPong:
		select {
		case c.pong <- struct{}{}:
		default:
		}
	case shared.EIOPing:
		c.send(frame{websocket.MessageText, append([]byte{byte(shared.EIOPong)}, data...)})
	case shared.EIOMessage:
		p, complete, err := c.dec.Text(data)
		if err != nil || !complete {
			return err
		}
		return c.handlePacket(p)
	case shared.EIOClose:
		c.close(ReasonTransportClose, websocket.StatusNormalClosure)
	case shared.EIONoop:
	default:
		return fmt.Errorf("tsunagi: unexpected Engine.IO %s packet from a client", t)
	}
	return nil
}

func (c *conn) handlePacket(p shared.Packet) error {
	switch p.Type {
	case shared.Connect:
		c.mu.Lock()
		_, dup := c.sockets[p.Namespace]
		c.mu.Unlock()
		if dup {
			return fmt.Errorf("tsunagi: second CONNECT to namespace %q", p.Namespace)
		}
		c.task(func() { c.connect(p) })
	case shared.Disconnect:
		if s := c.socket(p.Namespace); s != nil {
			c.task(func() { s.closeNamespace(ReasonClientDisconnect, false) })
		}
	case shared.EventPacket, shared.BinaryEvent:
		s := c.socket(p.Namespace)
		if s == nil {
			c.log("tsunagi: event for a namespace the client has not joined", "nsp", p.Namespace)
			return nil
		}
		name, args, err := shared.ParseEvent(p.Data, p.Buffers)
		if err != nil {
			return err
		}
		c.task(func() { s.dispatch(name, args, p.ID) })
	case shared.Ack, shared.BinaryAck:
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
	return c.sockets[nsp]
}

// task queues fn for the dispatcher. It blocks when the dispatcher is
// behind, which stops reading from this client: backpressure.
func (c *conn) task(fn func()) {
	select {
	case c.tasks <- fn:
	case <-c.ctx.Done():
	}
}

// dispatchLoop runs handlers one at a time, in the order packets arrived,
// outside every lock.
func (c *conn) dispatchLoop() {
	for fn := range c.tasks {
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

// connect runs the namespace middleware and, when it passes, creates the socket.
func (c *conn) connect(p shared.Packet) {
	ns := c.srv.namespace(p.Namespace)
	if ns == nil {
		c.sendPacket(&shared.Packet{Type: shared.ConnectError, Namespace: p.Namespace, ID: shared.NoID,
			Data: []byte(`{"message":"Invalid namespace"}`)})
		return
	}
	s := newSocket(c, ns, p.Data)
	if err := ns.runMiddleware(s); err != nil {
		c.sendPacket(&shared.Packet{Type: shared.ConnectError, Namespace: p.Namespace, ID: shared.NoID,
			Data: connectErrorData(err)})
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.sockets[p.Namespace] = s
	c.mu.Unlock()
	c.connected.Store(true)
	ns.add(s)
	c.sendPacket(&shared.Packet{Type: shared.Connect, Namespace: p.Namespace, ID: shared.NoID,
		Data: []byte(`{"sid":"` + s.id + `"}`)})
	ns.connected(s)
}

func (c *conn) removeSocket(s *Socket) {
	c.mu.Lock()
	if c.sockets[s.nsp.name] == s {
		delete(c.sockets, s.nsp.name)
	}
	c.mu.Unlock()
}

// sendPacket queues a packet and its attachments.
func (c *conn) sendPacket(p *shared.Packet) error {
	if len(p.Buffers) == 0 {
		return c.send(frame{websocket.MessageText, p.Message()})
	}
	return c.send(packetFrames(p)...)
}

var errSlow = errors.New("tsunagi: client too slow, outgoing queue full")

// send queues frames for the writer without blocking. A connection whose
// queue overflows is closed: one slow reader never stalls the others.
func (c *conn) send(fs ...frame) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return shared.ErrDisconnected
	}
	if len(c.queue)+len(fs) > c.srv.opts.MaxQueue {
		c.mu.Unlock()
		c.log("tsunagi: disconnecting slow client", "queued", len(c.queue))
		c.close(ReasonSlowClient, websocket.StatusPolicyViolation)
		return errSlow
	}
	c.queue = append(c.queue, fs...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// close ends the connection once: the writer flushes what is queued (unless
// the client is the problem) and sends a close frame.
func (c *conn) close(reason string, code websocket.StatusCode) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeReason = reason
	c.closeCode = code
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued frames and runs the heartbeat.
func (c *conn) writeLoop() {
	o := c.srv.opts
	timer := time.NewTimer(o.PingInterval)
	defer timer.Stop()
	awaitingPong := false
	for {
		select {
		case <-c.wake:
		case <-c.pong:
			if awaitingPong {
				awaitingPong = false
				timer.Reset(o.PingInterval)
			}
			continue
		case <-timer.C:
			if awaitingPong {
				c.close(ReasonPingTimeout, websocket.StatusPolicyViolation)
				continue
			}
			awaitingPong = true
			timer.Reset(o.PingTimeout)
			if err := c.write(frame{websocket.MessageText, []byte{byte(shared.EIOPing)}}); err != nil {
				c.abort(ReasonTransportError)
				return
			}
			continue
		}
		c.mu.Lock()
		batch := c.queue
		c.queue = c.spare[:0]
		closed, reason, code := c.closed, c.closeReason, c.closeCode
		c.mu.Unlock()
		if closed && (reason == ReasonSlowClient || reason == ReasonPingTimeout) {
			batch = batch[:0] // the client is the problem: do not wait on it
		}
		for i, f := range batch {
			if err := c.write(f); err != nil {
				c.abort(ReasonTransportError)
				return
			}
			batch[i] = frame{}
		}
		c.mu.Lock()
		c.spare = batch[:0]
		c.mu.Unlock()
		if closed {
			c.finish(reason, code)
			return
		}
	}
}

func (c *conn) write(f frame) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.opts.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, f.typ, f.data)
}

// abort closes the connection at once after a failed write.
func (c *conn) abort(reason string) {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.closeReason = reason
	}
	c.mu.Unlock()
	c.cancel()
	c.ws.CloseNow()
}

// finish sends the close frame and stops the reader.
func (c *conn) finish(reason string, code websocket.StatusCode) {
	switch reason {
	case ReasonSlowClient, ReasonPingTimeout, ReasonParseError, ReasonConnectTimeout:
		c.ws.Close(code, reason)
	case ReasonTransportClose, ReasonTransportError, "":
		c.ws.CloseNow()
	default:
		c.ws.Close(code, reason)
	}
	c.cancel()
}

// idle reports whether nothing is waiting to be written: a volatile event
// is sent only then.
func (c *conn) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) == 0
}
