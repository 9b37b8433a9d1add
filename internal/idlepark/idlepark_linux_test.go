package idlepark

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/leak"
	"github.com/tsunagi/tsunagi/internal/wait"
)

func TestMain(m *testing.M) { leak.VerifyTestMain(m) }

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := wait.Recv(t, "the accepted connection", accepted)
	if sc == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { sc.Close(); cc.Close() })
	return sc.(*net.TCPConn), cc.(*net.TCPConn)
}

// parkedConn is a Conn of set over a fresh connection, whose resumes are
// counted on a channel.
func parkedConn(t *testing.T, set *Set) (*Conn, *net.TCPConn, *net.TCPConn, chan struct{}) {
	t.Helper()
	sc, cc := pair(t)
	resumed := make(chan struct{}, 4)
	c := &Conn{}
	c.Init(sc, func() { resumed <- struct{}{} })
	if !c.Waitable() {
		t.Fatal("a TCP connection is not waitable")
	}
	set.Add(c)
	t.Cleanup(func() { set.Remove(c) })
	return c, sc, cc, resumed
}

func newSet(parking bool) *Set { return New(slog.New(slog.DiscardHandler), parking) }

// A parked connection resumes, once, when its socket has input, and again
// after it is parked again and hung up.
func TestParkResumesOnInputAndHangUp(t *testing.T) {
	t.Parallel()
	set := newSet(true)
	c, _, cc, resumed := parkedConn(t, set)
	if !set.Enabled() {
		t.Fatal("not enabled with a connection added")
	}
	if !set.Park(c) || !set.Parked(c) || set.Len() != 1 {
		t.Fatal("not parked")
	}
	if _, err := cc.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	wait.Recv(t, "the resume on input", resumed)
	if set.Parked(c) || set.Len() != 0 {
		t.Fatal("still parked after its resume")
	}
	// The reader would read the input; here it parks again at once, and
	// the input is still there: EPOLLONESHOT re-armed, level-triggered.
	if !set.Park(c) {
		t.Fatal("not parked again")
	}
	wait.Recv(t, "the resume on input still unread", resumed)
	var b [1]byte
	c.nc.Read(b[:])
	if !set.Park(c) {
		t.Fatal("not parked a third time")
	}
	cc.Close()
	wait.Recv(t, "the resume on hang-up", resumed)
	if got := set.Resumed(); got != 3 {
		t.Errorf("Resumed = %d, want 3", got)
	}
}

// Unpark resumes a parked connection, once; a closed socket cannot be
// parked.
func TestUnpark(t *testing.T) {
	t.Parallel()
	set := newSet(true)
	c, sc, _, resumed := parkedConn(t, set)
	set.Unpark(c) // not parked: nothing
	if !set.Park(c) {
		t.Fatal("not parked")
	}
	sc.Close() // a closed socket leaves the epoll set without an event
	set.Unpark(c)
	wait.Recv(t, "the resume on Unpark", resumed)
	set.Unpark(c)
	if set.Park(c) {
		t.Fatal("parked a closed socket")
	}
	if got := set.Resumed(); got != 1 {
		t.Errorf("Resumed = %d, want 1", got)
	}
}

// A reader that waits without input is kicked within two or three ticks,
// and the deadline of the kick is gone when Wait returns: a later wait
// returns on input, and the input reads.
func TestWaitIsKicked(t *testing.T) {
	t.Parallel()
	set := newSet(true)
	c, sc, cc, _ := parkedConn(t, set)
	start := time.Now()
	sawWaiting := make(chan bool, 1)
	go func() { sawWaiting <- wait.Until(c.Waiting) }()
	kick, err := set.Wait(c)
	if !kick || err == nil {
		t.Fatalf("Wait = %v, %v; want a kick", kick, err)
	}
	if !<-sawWaiting {
		t.Error("Waiting was never true during the wait")
	}
	if c.Waiting() || set.Kicks() != 1 {
		t.Fatalf("after the kick: waiting %v, %d kicks; want false, 1", c.Waiting(), set.Kicks())
	}
	// Sweeps are a tick apart, and the kick comes at the second after
	// the wait began: not much sooner than a tick.
	if d := time.Since(start); d < Tick/2 {
		t.Errorf("kicked after %v, sooner than a tick", d)
	}
	go cc.Write([]byte("y"))
	if kick, err := set.Wait(c); kick || err != nil {
		t.Fatalf("Wait with input = %v, %v", kick, err)
	}
	var b [1]byte
	if n, err := sc.Read(b[:]); n != 1 || err != nil {
		t.Fatalf("read after a kick: %d, %v", n, err)
	}
}

// With parking off nothing is parked and no loop runs, and Wait still
// returns on input.
func TestParkingOff(t *testing.T) {
	t.Parallel()
	set := newSet(false)
	c, _, cc, _ := parkedConn(t, set)
	if set.Enabled() || set.Park(c) || set.Len() != 0 {
		t.Fatal("parking while off")
	}
	go cc.Write([]byte("z"))
	if kick, err := set.Wait(c); kick || err != nil {
		t.Fatalf("Wait = %v, %v", kick, err)
	}
}

// The loop ends once the last connection is removed (TestMain's leak check
// fails the run otherwise), and starts again with the next.
func TestLoopEndsAndRestarts(t *testing.T) {
	t.Parallel()
	set := newSet(true)
	c, _, _, _ := parkedConn(t, set)
	set.Remove(c)
	wait.For(t, "the loop ended", func() bool { return !set.Enabled() })
	c2, _, cc2, resumed := parkedConn(t, set)
	if !set.Park(c2) {
		t.Fatal("not parked after the loop restarted")
	}
	cc2.Write([]byte("x"))
	wait.Recv(t, "the resume", resumed)
}
