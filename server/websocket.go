package server

// The server's own WebSocket transport: a conn that opened on WebSocket,
// or adopted the WebSocket its polling session upgraded to, reads here
// (readLoop, parked by internal/idlepark while quiet), writes its batches
// through the batchConn of coalesce.go, and runs the Engine.IO heartbeat
// with the server's heartbeats (heartbeat.go). conn.go is the Socket.IO
// client above it, session.go the glue to package engineio.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared/wire"
)

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
		flusher: s.flushers.assign(),
	}
	c.park.Init(bc.Conn, c.serve)
	return c
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
	c.srv.stats.messagesIn.Add(1)
	c.srv.stats.bytesIn.Add(uint64(len(msg)))
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
		if c.rawOK(f) && c.bc.appendFrame(opcode(f.typ), f.data) {
			continue
		}
		if err := c.writeFrame(f); err != nil {
			c.bc.flush()
			return err
		}
	}
	return c.bc.flush()
}

// rawOK reports whether f may go out as a frame of the server's own making
// (internal/wsframe): an uncompressed message, as coder/websocket would
// send it too.
func (c *conn) rawOK(f frame) bool {
	return rawFrames && !c.srv.noCoalesce && (!c.deflate || f.noCompress || len(f.data) < compressThreshold)
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
