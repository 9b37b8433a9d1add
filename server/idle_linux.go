package server

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// idler holds the connections that have gone quiet without a goroutine
// each: their sockets wait in an epoll set of the server's, and a
// connection's reader starts again, on a new goroutine, when its socket has
// input or is closed. One goroutine, the idler's loop, runs while the
// server has connections: it waits on the epoll set and, once a second,
// moves readers that have waited in Go's poller for a second or two into
// the set (kick). A reader whose last message was a heartbeat's pong or a
// CONNECT moves there at once (quietAfter). A busy connection never leaves Go's poller.
type idler struct {
	srv     *Server
	tick    atomic.Uint32 // seconds counted by the loop, from 1
	resumed atomic.Int64  // readers started again, for tests

	mu      sync.Mutex
	epfd    int
	running bool
	live    int              // connections being served
	parked  map[uint64]*conn // by parkID
	nextID  uint64
}

// parkState is what a connection keeps for the idler.
type parkState struct {
	waitTick atomic.Uint32 // the tick at which the reader began to wait in Go's poller; 0 when it does not
	kmu      sync.Mutex    // orders a kick with the reader's return from the wait
	kicked   bool          // the idler set a read deadline in the past to end the wait
	parkID   uint64        // under idler.mu: the connection's key in parked and epoll data
	inEpoll  bool          // under idler.mu: the socket was added to the epoll set
}

// tickEvery is how often the idler moves waiting readers into its set.
const tickEvery = time.Second

func (p *idler) add() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live++
	if p.running || p.srv.opts.DisableIdleParking {
		return
	}
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		p.srv.log.Warn("tsunagi: no epoll set for idle connections; each keeps its goroutine", "err", err)
		return
	}
	p.epfd, p.running = fd, true
	if p.parked == nil {
		p.parked = map[uint64]*conn{}
		p.tick.Store(1)
	}
	go p.loop(fd)
}

// enabled reports whether quiet connections are parked.
func (p *idler) enabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

func (p *idler) remove() {
	p.mu.Lock()
	p.live--
	p.mu.Unlock()
}

func (p *idler) loop(epfd int) {
	events := make([]syscall.EpollEvent, 128)
	next := time.Now().Add(tickEvery)
	for {
		n, err := syscall.EpollWait(epfd, events, int(tickEvery/time.Millisecond))
		if err != nil && !errors.Is(err, syscall.EINTR) {
			p.srv.log.Error("tsunagi: epoll_wait failed", "err", err)
			n = 0
			time.Sleep(tickEvery) // not a busy loop; the sweep below still runs
		}
		p.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if c := p.parked[id]; c != nil {
				delete(p.parked, id)
				p.resumed.Add(1)
				go c.serve()
			}
		}
		if p.live == 0 {
			p.running = false
			syscall.Close(epfd)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if now := time.Now(); !now.Before(next) {
			next = now.Add(tickEvery)
			p.sweep()
		}
	}
}

// sweep kicks the readers that have waited in Go's poller since the tick
// before last.
func (p *idler) sweep() {
	now := p.tick.Add(1)
	s := p.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if t := c.park.waitTick.Load(); t != 0 && now-t >= 2 {
			c.kick()
		}
	}
}

// kick ends the reader's wait in Go's poller, with a read deadline in the
// past, unless it has ended already.
func (c *conn) kick() {
	c.park.kmu.Lock()
	defer c.park.kmu.Unlock()
	if c.park.waitTick.Load() != 0 && !c.park.kicked {
		c.park.kicked = true
		c.bc.Conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// waitStart and waitEnd bracket the reader's wait in Go's poller. waitEnd
// reports whether the idler ended it.
func (c *conn) waitStart() { c.park.waitTick.Store(c.srv.idle.tick.Load()) }

func (c *conn) waitEnd() (kicked bool) {
	c.park.kmu.Lock()
	defer c.park.kmu.Unlock()
	c.park.waitTick.Store(0)
	if kicked = c.park.kicked; kicked {
		c.park.kicked = false
		c.bc.Conn.SetReadDeadline(time.Time{})
	}
	return kicked
}

// park moves c's socket into the epoll set; the caller's goroutine then
// ends. It reports false when it cannot (the idler is not running, the
// socket is closed): the reader then goes on as before.
func (p *idler) park(c *conn) bool {
	if c.bc.raw == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return false
	}
	if c.park.parkID == 0 {
		p.nextID++
		c.park.parkID = p.nextID
	}
	id := c.park.parkID
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(id)),
		Pad:    int32(uint32(id >> 32)),
	}
	var cerr error
	// Under Control the descriptor stays open: it cannot be closed and
	// reused by another connection meanwhile.
	err := c.bc.raw.Control(func(fd uintptr) {
		op := syscall.EPOLL_CTL_ADD
		if c.park.inEpoll {
			op = syscall.EPOLL_CTL_MOD // re-arm (one-shot)
		}
		cerr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
		if cerr == nil {
			c.park.inEpoll = true
		}
	})
	if err != nil || cerr != nil {
		return false
	}
	p.parked[id] = c
	return true
}

// unpark starts c's reader again if c is parked. Whoever closes c's socket
// calls it: a closed socket leaves the epoll set without an event.
func (p *idler) unpark(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id := c.park.parkID; id != 0 && p.parked[id] == c {
		delete(p.parked, id)
		p.resumed.Add(1)
		go c.serve()
	}
}
