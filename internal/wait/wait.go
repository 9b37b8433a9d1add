// Package wait is how tsunagi's tests wait: on a condition, with a deadline
// that comes from one place, never on a bare sleep.
//
// A test that waits for something to happen calls For (or Recv for a
// channel). A test that asserts that something did not happen must not sleep
// and look: it waits for a later thing that the system guarantees to happen
// after the thing that must not (a reply to a packet sent after the bad one,
// a barrier event, a closed connection), then checks. Where no such barrier
// exists, Absent waits a stated time and the caller says why that is enough.
//
// Every deadline is Timeout scaled by $TSUNAGI_TEST_TIMEOUT_SCALE (an integer,
// default 1), so a slow machine or the race detector under a CPU hog can be
// given more time without touching a test. The package uses the standard
// library only and builds for js/wasm too.
package wait

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Timeout is the unscaled deadline for anything a test waits on over
// loopback. It is far above what any wait takes on an idle machine; it exists
// only so that a broken test ends with a message instead of hanging.
const Timeout = 20 * time.Second

// interval is how often For polls its condition.
const interval = 2 * time.Millisecond

// Scale returns $TSUNAGI_TEST_TIMEOUT_SCALE, at least 1.
func Scale() int {
	if n, err := strconv.Atoi(os.Getenv("TSUNAGI_TEST_TIMEOUT_SCALE")); err == nil && n > 1 {
		return n
	}
	return 1
}

// Deadline returns the scaled Timeout: the one deadline for waits in tests.
func Deadline() time.Duration { return Timeout * time.Duration(Scale()) }

// Until polls cond until it returns true or the deadline passes, and reports
// whether it did. Use it where the caller handles the failure itself.
func Until(cond func() bool) bool {
	deadline := time.Now().Add(Deadline())
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// For polls cond until it returns true, and fails the test (t.Fatalf) naming
// what it waited for when the deadline passes first.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Until(cond) {
		t.Fatalf("wait: timed out after %v waiting for %s", Deadline(), what)
	}
}

// Recv waits for a value from ch, and fails the test naming what it waited
// for when the deadline passes first or ch is closed.
func Recv[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(Deadline())
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("wait: channel closed while waiting for %s", what)
		}
		return v
	case <-timer.C:
		t.Fatalf("wait: timed out after %v waiting for %s", Deadline(), what)
	}
	var zero T
	return zero
}

// Closed waits until ch is closed (or yields), and fails the test naming
// what it waited for when the deadline passes first.
func Closed[T any](t testing.TB, what string, ch <-chan T) {
	t.Helper()
	timer := time.NewTimer(Deadline())
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		t.Fatalf("wait: timed out after %v waiting for %s", Deadline(), what)
	}
}

// Absent checks that cond stays false for d, polling it, and fails the test
// naming what must not happen as soon as it does. d is not scaled: a longer
// window only makes the check stricter. The caller states in a comment why d
// is long enough, and prefers a barrier (see the package doc) when one
// exists.
func Absent(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if cond() {
			t.Fatalf("wait: %s happened, and must not", what)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(interval)
	}
}
