package wasmclient

import (
	"math"
	"math/rand/v2"
	"time"
)

// backoff computes reconnection delays the way socket.io-client does:
// min·2^attempt, moved up or down by up to factor·delay, capped at max.
type backoff struct {
	min, max time.Duration
	factor   float64
	rnd      func() float64
}

func (b backoff) delay(attempt int) time.Duration {
	ms := float64(b.min) * math.Ldexp(1, attempt) // math.Pow(2, attempt), without Pow's code
	if b.factor > 0 {
		r := rand.Float64
		if b.rnd != nil {
			r = b.rnd
		}
		x := r()
		dev := math.Floor(x * b.factor * ms)
		if int(math.Floor(x*10))&1 == 0 {
			ms -= dev
		} else {
			ms += dev
		}
	}
	if ms > float64(b.max) || math.IsInf(ms, 0) || math.IsNaN(ms) {
		ms = float64(b.max)
	}
	if ms < 0 {
		ms = 0
	}
	return time.Duration(ms)
}
