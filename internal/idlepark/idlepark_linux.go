package idlepark

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Tick is how often a Set moves waiting readers into its epoll set: a
// reader waiting since the tick before last is kicked, so a quiet reader
// parks one to two ticks after its last message.
const Tick = time.Second

// Set holds the parked connections of one server. Make it with New.
type Set struct {
	log     *slog.Logger
	parking bool          // parking on: otherwise Park always fails
	tick    atomic.Uint32 // ticks counted by the loop, from 1
	resumed atomic.Int64  // readers started again, for tests
	kicks   atomic.Int64  // waits ended by the sweep, for tests

	mu      sync.Mutex
	epfd    int
	running bool               // the loop runs and epfd is open
	conns   map[*Conn]struct{} // every connection added, for the sweep
	parked  map[uint64]*Conn   // by parkID
	nextID  uint64
}

// Conn is what a connection keeps for its Set. Init it before use.
type Conn struct {
	nc     net.Conn
	raw    syscall.RawConn // nil when the socket cannot be waited on or parked
	ready  func(fd uintptr) bool
	resume func()
	woken  bool // ready's state: the poller reported input since the peek found none

	waitTick atomic.Uint32 // the tick at which Wait began; 0 when not waiting
	kmu      sync.Mutex    // orders a kick with Wait's return
	kicked   bool          // under kmu: the sweep set a read deadline in the past
	parkID   uint64        // under Set.mu: the key in parked and in the epoll data
	inEpoll  bool          // under Set.mu: the socket was added to the epoll set
}

// New returns a Set. With parking false it parks nothing, has no loop and
// no epoll set, and Wait still waits with a shallow stack.
func New(log *slog.Logger, parking bool) *Set {
	s := &Set{log: log, parking: parking}
	s.tick.Store(1) // a waiting Conn's waitTick is never 0
	return s
}

// Init sets c up for nc, the connection's socket; resume is what runs, on
// a new goroutine, when a parked c is to read again. Only a *net.TCPConn
// can be waited on and parked.
func (c *Conn) Init(nc net.Conn, resume func()) {
	c.nc, c.resume = nc, resume
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	c.raw = raw
	c.ready = c.peek
}

// Waitable reports whether Wait and Park can be used for c.
func (c *Conn) Waitable() bool { return c.raw != nil }

// peek is called by raw.Read first at once, then each time the poller
// reports input: it peeks at the socket the first time (input may be there
// already), and trusts the poller after, to spend no more syscalls than a
// read.
func (c *Conn) peek(fd uintptr) bool {
	if c.woken {
		return true
	}
	c.woken = true
	var one [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true // input, end of stream or an error: the read tells which
	}
}

// Add records that c is being served, starting the Set's loop if needed.
func (s *Set) Add(c *Conn) {
	if !s.parking || c.raw == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[*Conn]struct{}{}
		s.parked = map[uint64]*Conn{}
	}
	s.conns[c] = struct{}{}
	if s.running {
		return
	}
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		s.log.Warn("tsunagi: no epoll set for idle connections; each keeps its goroutine", "err", err)
		return
	}
	s.epfd, s.running = fd, true
	go s.loop(fd)
}

// Remove records that c is no longer served. The loop ends within a tick
// of the last Remove.
func (s *Set) Remove(c *Conn) {
	if !s.parking || c.raw == nil {
		return
	}
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Enabled reports whether the Set parks connections now: parking is on
// and its loop runs.
func (s *Set) Enabled() bool {
	if !s.parking {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

func (s *Set) loop(epfd int) {
	events := make([]syscall.EpollEvent, 128)
	next := time.Now().Add(Tick)
	for {
		n, err := syscall.EpollWait(epfd, events, int(Tick/time.Millisecond))
		if err != nil && !errors.Is(err, syscall.EINTR) {
			s.log.Error("tsunagi: epoll_wait failed", "err", err)
			n = 0
			time.Sleep(Tick) // not a busy loop; the sweep below still runs
		}
		s.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if c := s.parked[id]; c != nil {
				delete(s.parked, id)
				s.resumed.Add(1)
				go c.resume()
			}
		}
		if len(s.conns) == 0 {
			s.running = false
			syscall.Close(epfd)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if now := time.Now(); !now.Before(next) {
			next = now.Add(Tick)
			s.sweep()
		}
	}
}

// sweep kicks the readers that have waited in Go's poller since the tick
// before last.
func (s *Set) sweep() {
	now := s.tick.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if t := c.waitTick.Load(); t != 0 && now-t >= 2 {
			c.kick(&s.kicks)
		}
	}
}

// kick ends the reader's wait in Go's poller with a read deadline in the
// past, unless the wait has ended already, and counts it in kicks before
// the wait can end, so that a reader back from its wait sees it counted.
func (c *Conn) kick(kicks *atomic.Int64) {
	c.kmu.Lock()
	defer c.kmu.Unlock()
	if c.waitTick.Load() == 0 || c.kicked {
		return
	}
	c.kicked = true
	kicks.Add(1)
	c.nc.SetReadDeadline(time.Unix(1, 0))
}

// Wait returns once c's socket has input, without reading it, or is
// closed or failed (err). It reports kick = true when the Set ended the
// wait because it had lasted two ticks: the caller then parks c. Only c's
// reader calls it, and only when Waitable.
func (s *Set) Wait(c *Conn) (kick bool, err error) {
	c.waitTick.Store(s.tick.Load())
	c.woken = false
	err = c.raw.Read(c.ready)
	c.kmu.Lock()
	defer c.kmu.Unlock()
	c.waitTick.Store(0)
	if kick = c.kicked; kick {
		c.kicked = false
		c.nc.SetReadDeadline(time.Time{})
	}
	return kick, err
}

// Park moves c's socket into the epoll set; the caller, c's reader, then
// ends. It reports false when it cannot (parking is off, the loop is not
// running, the socket is closed): the reader then goes on reading.
func (s *Set) Park(c *Conn) bool {
	if !s.parking || c.raw == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return false
	}
	if c.parkID == 0 {
		s.nextID++
		c.parkID = s.nextID
	}
	id := c.parkID
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(id)),
		Pad:    int32(uint32(id >> 32)),
	}
	var cerr error
	// Under Control the descriptor stays open: it cannot be closed and
	// reused by another connection meanwhile.
	err := c.raw.Control(func(fd uintptr) {
		op := syscall.EPOLL_CTL_ADD
		if c.inEpoll {
			op = syscall.EPOLL_CTL_MOD // re-arm (one-shot)
		}
		cerr = syscall.EpollCtl(s.epfd, op, int(fd), &ev)
		if cerr == nil {
			c.inEpoll = true
		}
	})
	if err != nil || cerr != nil {
		return false
	}
	s.parked[id] = c
	return true
}

// Unpark starts c's resume on a new goroutine if c is parked. Whoever
// closes c's socket calls it: a closed socket leaves the epoll set without
// an event.
func (s *Set) Unpark(c *Conn) {
	if !s.parking || c.raw == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := c.parkID; id != 0 && s.parked[id] == c {
		delete(s.parked, id)
		s.resumed.Add(1)
		go c.resume()
	}
}

// Parked reports whether c is parked.
func (s *Set) Parked(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.parkID != 0 && s.parked[c.parkID] == c
}

// Len returns how many connections are parked.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.parked)
}

// Resumed returns how many times a parked reader was started again.
func (s *Set) Resumed() int64 { return s.resumed.Load() }

// Kicks returns how many waits the sweep ended.
func (s *Set) Kicks() int64 { return s.kicks.Load() }

// Waiting reports whether c's reader is in Wait.
func (c *Conn) Waiting() bool { return c.waitTick.Load() != 0 }
