package server

import "sync"

// The read side of a batchConn. An idle connection holds no read buffer and,
// where the socket allows it (idlepark.Set.Wait), its reader goroutine waits
// for input with a shallow stack, outside coder/websocket, which the garbage
// collector then shrinks to the minimum: the reader reads a message only
// once bytes have arrived.
//
// coder/websocket reads frames through a bufio.Reader of readBufSize bytes
// over the batchConn; the batchConn reads the socket into a buffer from a
// pool and gives it back as soon as it has handed out every byte in it.

// readPoolSize is the size of the pooled read buffers: small messages, alone
// or a few at once, take one read; a read for at least this many bytes goes
// straight into the caller's buffer.
const readPoolSize = 1024

var readPool = sync.Pool{New: func() any { b := make([]byte, readPoolSize); return &b }}

// readSide is embedded in batchConn. Its Read is called by one goroutine at
// a time (under coder/websocket's read lock); buffered is guarded by the
// conn's read gate (see conn.awaitInput).
type readSide struct {
	rbuf *[]byte // bytes read but not handed out: (*rbuf)[rpos:rend]
	rpos int
	rend int
}

// preload keeps p, bytes that arrived with the upgrade request, to be read first.
func (b *batchConn) preload(p []byte) {
	for len(p) > 0 {
		buf := readPool.Get().(*[]byte)
		n := copy(*buf, p)
		if b.rbuf == nil {
			b.rbuf, b.rpos, b.rend = buf, 0, n
			p = p[n:]
			continue
		}
		// More than one buffer's worth (at most the HTTP server's 4 KB):
		// rare enough to keep it in one larger buffer, not pooled.
		rest := make([]byte, b.rend-b.rpos+len(p))
		copy(rest[copy(rest, (*b.rbuf)[b.rpos:b.rend]):], p)
		readPool.Put(b.rbuf)
		readPool.Put(buf)
		b.rbuf, b.rpos, b.rend = &rest, 0, len(rest)
		return
	}
}

func (b *batchConn) Read(p []byte) (int, error) {
	if b.rbuf == nil {
		if len(p) >= readPoolSize {
			return b.Conn.Read(p)
		}
		buf := readPool.Get().(*[]byte)
		n, err := b.Conn.Read(*buf)
		if n == 0 {
			readPool.Put(buf)
			return 0, err
		}
		b.rbuf, b.rpos, b.rend = buf, 0, n
	}
	n := copy(p, (*b.rbuf)[b.rpos:b.rend])
	b.rpos += n
	if b.rpos == b.rend {
		if len(*b.rbuf) == readPoolSize {
			readPool.Put(b.rbuf)
		}
		b.rbuf = nil
	}
	return n, nil
}

// buffered reports whether bytes read from the socket wait to be handed out.
func (b *batchConn) buffered() bool { return b.rbuf != nil }
