package wasmclient

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := backoff{min: time.Second, max: 5 * time.Second, factor: 0.5}
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		b.rnd = func() float64 { return 0 } // no deviation
		if got := b.delay(attempt); got != want {
			t.Errorf("attempt %d: %v, want %v", attempt, got, want)
		}
	}
	if got := b.delay(5000); got != 5*time.Second { // 2^5000 overflows to +Inf
		t.Errorf("attempt 5000: %v", got)
	}
	// 0.15: floor(1.5) is odd → up by 0.15·0.5·1s; 0.2: even → down by 0.1 s.
	b.rnd = func() float64 { return 0.15 }
	if got := b.delay(0); got != 1075*time.Millisecond {
		t.Errorf("jitter up: %v", got)
	}
	b.rnd = func() float64 { return 0.2 }
	if got := b.delay(0); got != 900*time.Millisecond {
		t.Errorf("jitter down: %v", got)
	}
	b.rnd = nil
	lo, hi := time.Hour, time.Duration(0)
	for i := 0; i < 1000; i++ {
		d := b.delay(0)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 500*time.Millisecond || hi > 1500*time.Millisecond || hi-lo < 500*time.Millisecond {
		t.Errorf("1000 first delays span [%v, %v], want spread over [0.5 s, 1.5 s]", lo, hi)
	}
}
