package server

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
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

	mu      sync.Mutex
	holding bool
	held    *[]byte
	scan    frameScanner
}

func newBatchConn(c net.Conn, timeout time.Duration) *batchConn {
	return &batchConn{Conn: c, timeout: timeout}
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

func (b *batchConn) result(p []byte, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeHeld writes the buffered bytes followed by p, with one syscall
// (writev on a TCP conn when both are there), under b.mu.
func (b *batchConn) writeHeld(p []byte) error {
	var held []byte
	if b.held != nil {
		held = *b.held
	}
	var err error
	switch {
	case len(held) > 0 && len(p) > 0:
		b.writes.Add(1)
		b.Conn.SetWriteDeadline(time.Now().Add(b.timeout))
		bufs := net.Buffers{held, p}
		_, err = bufs.WriteTo(b.Conn)
	case len(held) > 0 || len(p) > 0:
		if len(held) == 0 {
			held = p
		}
		b.writes.Add(1)
		b.Conn.SetWriteDeadline(time.Now().Add(b.timeout))
		_, err = b.Conn.Write(held)
	}
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
	rest int64    // payload bytes of the current frame still to come
	hdr  [14]byte // header bytes of the next frame seen so far
	n    int
}

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
