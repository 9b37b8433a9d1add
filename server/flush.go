package server

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Flushers. A connection whose writer goroutine is not running (a quiet
// one: its reader is parked, so its writer ended after its last batch) has
// what is sent to it written by one of the server's flushers, one per
// GOMAXPROCS at most: a goroutine that takes every such connection queued
// to it, in turn, and writes each one's queue in one write(2) that never
// waits for the socket (batchConn.writeNow). The common broadcast, one
// event to a room whose members are quiet, then starts no goroutine per
// member, and grows no goroutine stack per member, as a writer per
// connection did; and since a flusher runs only once the sender yields,
// what is sent meanwhile to the same connection still leaves in the same
// write. When a socket does not take a whole batch at once, the rest goes
// to the connection's own writer, which waits for it under the write
// deadline: one slow client never holds a flusher up.
//
// Built with -tags tsunagi_coderwrite there are no flushers: every queue is
// written by the connection's own writer, through coder/websocket.

// flushers are the server's flushers.
type flushers struct {
	seq atomic.Uint32
	fl  []flusher
}

type flusher struct {
	mu      sync.Mutex
	list    []*conn
	spare   []*conn
	running bool
	flushes atomic.Int64 // queues written, for tests
}

func (fs *flushers) init() {
	fs.fl = make([]flusher, max(1, runtime.GOMAXPROCS(0)))
}

// assign picks the flusher of a new connection.
func (fs *flushers) assign() uint32 { return fs.seq.Add(1) % uint32(len(fs.fl)) }

// add queues c to its flusher, starting the flusher when it is not
// running. Under c.mu (the flusher takes c.mu only outside its own lock).
func (fs *flushers) add(c *conn) {
	f := &fs.fl[c.flusher]
	f.mu.Lock()
	f.list = append(f.list, c)
	if !f.running {
		f.running = true
		go f.run()
	}
	f.mu.Unlock()
}

// flushed is how many queues the flushers wrote, for tests.
func (fs *flushers) flushed() int64 {
	var n int64
	for i := range fs.fl {
		n += fs.fl[i].flushes.Load()
	}
	return n
}

// run writes the queues of the connections on the list until it is empty.
func (f *flusher) run() {
	for {
		f.mu.Lock()
		list := f.list
		if len(list) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.list, f.spare = f.spare[:0], nil
		f.mu.Unlock()
		for _, c := range list {
			if c.flushOnce() {
				f.flushes.Add(1)
			}
		}
		clear(list)
		if cap(list) <= 4096 { // after a burst, the flusher keeps no big array
			f.mu.Lock()
			f.spare = list[:0]
			f.mu.Unlock()
		}
	}
}

// flushable reports whether a flusher may write c's queue: the server's
// own WebSocket transport (not a polling session), under c.mu.
func (c *conn) flushable() bool {
	return rawFrames && c.bc != nil && c.bc.wn != nil && (c.eio == nil || c.ownWS) &&
		c.srv.beforeBatch == nil && !c.srv.noCoalesce
}

// flushOnce is a flusher's turn at c: it writes c's queue when no writer
// runs, in one write(2) that does not wait, and hands the connection to a
// writer for what that does not cover (a ping or the close to send, a
// compressed or large message, a socket that did not take it all). It
// reports whether it wrote.
func (c *conn) flushOnce() bool {
	c.mu.Lock()
	c.flushQueued = false
	if c.writing || c.directBusy { // a writer took it meanwhile, or a sender writes (sendNow: it kicks again after)
		c.mu.Unlock()
		return false
	}
	if len(c.queue) == 0 {
		if c.closed || c.pingDue { // the writer's to send
			c.startWriter()
		}
		c.mu.Unlock()
		return false
	}
	batch := c.queue
	ok := !c.closed && !c.pingDue
	n := 0
	for i := range batch {
		if !ok {
			break
		}
		ok = c.rawOK(batch[i])
		n += len(batch[i].data)
	}
	if !ok {
		c.startWriter()
		c.mu.Unlock()
		return false
	}
	c.queue = c.spare[:0]
	c.spare = nil
	c.writing = true // the flusher is the writer until it is done
	c.mu.Unlock()

	took, tail, err := c.bc.writeNow(batch)

	c.mu.Lock()
	c.writing = false
	c.wake(waitWriterGone)
	if !took { // nothing written: the batch goes back in front, to a writer
		c.queue = append(batch, c.queue...)
		c.startWriter()
		c.mu.Unlock()
		return false
	}
	if err != nil {
		c.mu.Unlock()
		c.writeFailed(err)
		return true
	}
	c.srv.stats.countQueue(len(batch))
	c.srv.stats.countBatch(len(batch), n)
	clear(batch)
	if cap(batch) <= 256 && c.spare == nil {
		c.spare = batch[:0]
	}
	switch {
	case tail: // the writer sends the rest first, waiting for the socket
		c.drain = true
		c.startWriter()
	case len(c.queue) > 0 || c.pingDue || c.closed:
		c.kick()
	}
	c.mu.Unlock()
	return true
}
