package server

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wsframe"
)

// Write coalescing. coder/websocket writes each message through a
// bufio.Writer that it flushes at the end of every frame: one write()
// syscall per message, about 7 µs each, which bounds a broadcast's rate.
// The server hands it a batchConn instead of the raw hijacked conn, and the
// connection's writer goroutine brackets the frames of one batch with hold
// and flush, so everything queued for a connection leaves in one write.

// maxHeld is the most bytes a batchConn buffers before it writes anyway,
// so a large batch never sits in memory whole.
const maxHeld = 64 << 10

var heldPool = sync.Pool{New: func() any { b := make([]byte, 0, maxHeld); return &b }}

// batchConn is the net.Conn under a server WebSocket. Between hold and
// flush it buffers what is written; control frames (close, ping, pong) are
// never held back: one writes out what is buffered, then itself, at once.
// Every write to the socket is bounded by timeout.
type batchConn struct {
	net.Conn
	readSide
	timeout time.Duration
	writes  atomic.Int64 // write syscalls, for tests
	tails   atomic.Int64 // writeNow calls that left a tail, for tests
	// wn writes the socket without waiting (internal/wsframe), or is nil:
	// then every write goes through Go's poller under a deadline.
	wn *wsframe.Writer

	mu      sync.Mutex
	holding bool
	held    *[]byte
	// tail is what writeNow accepted and the socket did not take yet:
	// the end of whole frames, which go out before anything else.
	tail []byte
	scan frameScanner
}

func newBatchConn(c net.Conn, timeout time.Duration) *batchConn {
	b := &batchConn{Conn: c, timeout: timeout}
	if rawFrames {
		b.wn, _ = wsframe.NewWriter(c) // nil without a file descriptor: the plain path
	}
	return b
}

// appendFrame holds a data frame of its own making (wsframe) with the
// batch, and reports whether it did: not when the stream is in the middle
// of a frame of coder/websocket's (a control frame it is sending from the
// reader's side), after a close frame, or for a frame larger than maxHeld.
// Then the caller hands the message to coder/websocket, whose write waits
// for its own frame to end. Only the writer calls it, between hold and
// flush.
func (b *batchConn) appendFrame(op byte, payload []byte) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := wsframe.MaxHeader + len(payload)
	if !b.holding || !b.scan.atBoundary() || b.scan.closed || n > maxHeld {
		return false
	}
	if b.held != nil && len(*b.held)+n > maxHeld {
		if b.writeHeld(nil) != nil {
			return false // coder/websocket's write meets the same error
		}
	}
	if b.held == nil {
		b.held = heldPool.Get().(*[]byte)
	}
	*b.held = append(wsframe.AppendHeader(*b.held, op, len(payload)), payload...)
	return true
}

// writeNow writes frames of its own making at once, on the caller's
// goroutine, without waiting for the socket: what the socket does not take
// stays in tail, and the caller starts the writer, whose flush sends it
// (under the write deadline). It reports whether it took the frames
// (false: nothing was written, the caller queues them) and whether a tail
// is left.
func (b *batchConn) writeNow(fs []frame) (took, tailLeft bool, err error) {
	if b.wn == nil {
		return false, false, nil
	}
	n := 0
	for i := range fs {
		n += wsframe.MaxHeader + len(fs[i].data)
	}
	if n > maxHeld {
		return false, false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holding || len(b.tail) > 0 || (b.held != nil && len(*b.held) > 0) || !b.scan.atBoundary() || b.scan.closed {
		return false, false, nil
	}
	bp := heldPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for i := range fs {
		buf = append(wsframe.AppendHeader(buf, opcode(fs[i].typ), len(fs[i].data)), fs[i].data...)
	}
	b.writes.Add(1)
	k, err := b.wn.WriteNow(buf)
	if err == nil && k < len(buf) {
		b.tail = bytes.Clone(buf[k:])
		b.tails.Add(1)
	}
	*bp = buf[:0]
	heldPool.Put(bp)
	return true, len(b.tail) > 0, err
}

// opcode is the WebSocket opcode of a message type.
func opcode(t websocket.MessageType) byte {
	if t == websocket.MessageBinary {
		return wsframe.OpBinary
	}
	return wsframe.OpText
}

// hold starts buffering writes.
func (b *batchConn) hold() {
	b.mu.Lock()
	b.holding = true
	b.mu.Unlock()
}

// flush writes out what is buffered and stops buffering.
func (b *batchConn) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holding = false
	return b.writeHeld(nil)
}

// Write buffers p while holding, unless p starts a control frame: then
// it writes what is held and p at once, in one syscall. When not holding it
// writes p through.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	control := b.scan.control(p)
	if !b.holding {
		return b.result(p, b.writeHeld(p))
	}
	if b.held != nil && len(*b.held)+len(p) > maxHeld {
		if err := b.writeHeld(nil); err != nil {
			return 0, err
		}
	}
	if len(p) > maxHeld {
		return b.result(p, b.writeHeld(p))
	}
	if b.held == nil {
		b.held = heldPool.Get().(*[]byte)
	}
	*b.held = append(*b.held, p...)
	if control {
		return b.result(p, b.writeHeld(nil))
	}
	return len(p), nil
}

// writeWaiting writes bufs through Go's poller, bounded by the timeout.
// With wn the deadline is cleared after: writeNow's writes check it too.
func (b *batchConn) writeWaiting(bufs net.Buffers) error {
	b.Conn.SetWriteDeadline(time.Now().Add(b.timeout))
	_, err := bufs.WriteTo(b.Conn)
	if err == nil && b.wn != nil {
		b.Conn.SetWriteDeadline(time.Time{})
	}
	return err
}

func (b *batchConn) result(p []byte, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeHeld writes the tail, the buffered bytes and p, in that order,
// with one syscall (writev on a TCP conn when there are several), under
// b.mu. With wn, a single buffer is first written without waiting, and the
// deadline is set only when the socket did not take it all.
func (b *batchConn) writeHeld(p []byte) error {
	var arr [3][]byte
	bufs := arr[:0]
	if len(b.tail) > 0 {
		bufs = append(bufs, b.tail)
	}
	if b.held != nil && len(*b.held) > 0 {
		bufs = append(bufs, *b.held)
	}
	if len(p) > 0 {
		bufs = append(bufs, p)
	}
	var err error
	switch {
	case len(bufs) == 1 && b.wn != nil:
		b.writes.Add(1)
		var n int
		n, err = b.wn.WriteNow(bufs[0])
		if err == nil && n < len(bufs[0]) {
			err = b.writeWaiting(net.Buffers{bufs[0][n:]})
		}
	case len(bufs) > 0:
		b.writes.Add(1)
		err = b.writeWaiting(net.Buffers(bufs))
	}
	b.tail = nil
	if b.held != nil {
		*b.held = (*b.held)[:0]
		heldPool.Put(b.held)
		b.held = nil
	}
	return err
}

// frameScanner follows frame boundaries in the bytes written to a
// WebSocket, to tell control frames from data frames.
type frameScanner struct {
	rest   int64    // payload bytes of the current frame still to come
	hdr    [14]byte // header bytes of the next frame seen so far
	n      int
	closed bool // a close frame began: no data frame may follow
}

// atBoundary reports whether the bytes seen so far end with a whole frame.
func (s *frameScanner) atBoundary() bool { return s.rest == 0 && s.n == 0 }

// control reports whether p starts a control frame.
func (s *frameScanner) control(p []byte) bool {
	ctl := false
	for len(p) > 0 {
		if s.rest > 0 {
			k := min(int64(len(p)), s.rest)
			s.rest -= k
			p = p[k:]
			continue
		}
		if s.n == 0 && p[0]&0x08 != 0 { // the opcode, in the first byte
			ctl = true
			if p[0]&0x0f == 0x8 {
				s.closed = true
			}
		}
		need := 2
		if s.n >= 2 {
			need = frameHeaderLen(s.hdr[1])
		}
		k := copy(s.hdr[s.n:need], p)
		s.n += k
		p = p[k:]
		if s.n < 2 || s.n < frameHeaderLen(s.hdr[1]) {
			continue
		}
		s.rest = framePayloadLen(s.hdr[:s.n])
		s.n = 0
	}
	return ctl
}

func frameHeaderLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4 // mask key
	}
	return n
}

func framePayloadLen(h []byte) int64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return int64(h[2])<<8 | int64(h[3])
	case 127:
		var n int64
		for _, c := range h[2:10] {
			n = n<<8 | int64(c)
		}
		return n
	default:
		return int64(l)
	}
}

// hijackResponse gives websocket.Accept a batchConn when it hijacks the
// HTTP connection.
type hijackResponse struct {
	http.ResponseWriter
	hj      http.Hijacker
	timeout time.Duration
	conn    *batchConn
	br      *bufio.Reader // what coder/websocket reads frames through
}

// wrapHijack returns w wrapped to hand out a batchConn, or w itself when
// it cannot be hijacked (Accept then refuses it).
func wrapHijack(w http.ResponseWriter, timeout time.Duration) (http.ResponseWriter, *hijackResponse) {
	for rw := w; ; {
		switch t := rw.(type) {
		case http.Hijacker:
			h := &hijackResponse{ResponseWriter: w, hj: t, timeout: timeout}
			return h, h
		case interface{ Unwrap() http.ResponseWriter }:
			rw = t.Unwrap()
		default:
			return w, nil
		}
	}
}

func (h *hijackResponse) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (h *hijackResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := h.hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	h.conn = newBatchConn(nc, h.timeout)
	// Smaller buffers than the HTTP server's 4 KB each, which an idle
	// connection would hold for its life. What the client sent behind its
	// upgrade request, already in the HTTP server's buffer, is read first.
	brw.Writer = bufio.NewWriterSize(h.conn, writeBufSize)
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		h.conn.preload(b)
	}
	h.br = bufio.NewReaderSize(h.conn, readBufSize)
	brw.Reader = h.br
	return h.conn, brw, nil
}

// writeBufSize is the size of the bufio.Writer coder/websocket frames
// into, bufio's least: every connection keeps it, and batchConn holds a
// batch in its own buffer. coder/websocket flushes it at the end of every
// frame, so a Write never spans two frames; a frame longer than it comes
// in pieces. A control frame's first piece goes out at once, with what is
// held; the rest of it goes through too, or, while the writer holds a
// batch (a pong coder/websocket sends meanwhile), with that batch.
const writeBufSize = 16

// readBufSize is the size of the bufio.Reader coder/websocket reads
// frames through, over the batchConn's pooled buffer (readPoolSize): a
// frame header and a small payload in one fill; a longer payload is read
// straight into the message.
const readBufSize = 64

// isTimeout reports whether err is a write that hit its deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
