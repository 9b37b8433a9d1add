package wait

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	var n atomic.Int32
	go func() {
		for i := 0; i < 3; i++ {
			n.Add(1)
		}
	}()
	if !Until(func() bool { return n.Load() == 3 }) {
		t.Fatal("Until returned false for a condition that became true")
	}
}

func TestRecvAndClosed(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Recv(t, "seven", ch); got != 7 {
		t.Fatalf("Recv = %d, want 7", got)
	}
	done := make(chan struct{})
	close(done)
	Closed(t, "done", done)
}

func TestAbsent(t *testing.T) {
	start := time.Now()
	Absent(t, "false becoming true", 20*time.Millisecond, func() bool { return false })
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("Absent returned before its window ended")
	}
}

func TestScale(t *testing.T) {
	t.Setenv("TSUNAGI_TEST_TIMEOUT_SCALE", "3")
	if Deadline() != 3*Timeout {
		t.Fatalf("Deadline = %v, want %v", Deadline(), 3*Timeout)
	}
	t.Setenv("TSUNAGI_TEST_TIMEOUT_SCALE", "junk")
	if Deadline() != Timeout {
		t.Fatalf("Deadline = %v with a bad scale, want %v", Deadline(), Timeout)
	}
}
