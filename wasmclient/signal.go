package wasmclient

import (
	"context"
	"sync"
	"time"
)

// signal is a context.Context that ends when stop is called or, with a
// timeout, when its timer fires: context.WithCancel and WithTimeout over
// Background, without the context package's tree of cancellations, which
// would add about 25 KB to client.wasm.
type signal struct {
	done     chan struct{}
	once     sync.Once
	err      error // set before done is closed
	deadline time.Time
	timer    *time.Timer
}

// newSignal returns a signal that ends with context.DeadlineExceeded after
// d, or only when stopped if d <= 0.
func newSignal(d time.Duration) *signal {
	s := &signal{done: make(chan struct{})}
	if d > 0 {
		s.deadline = time.Now().Add(d)
		s.timer = time.AfterFunc(d, func() { s.end(context.DeadlineExceeded) })
	}
	return s
}

// stop ends s with context.Canceled, unless it has ended already.
func (s *signal) stop() {
	s.end(context.Canceled)
	if s.timer != nil {
		s.timer.Stop()
	}
}

func (s *signal) end(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

func (s *signal) Deadline() (time.Time, bool) { return s.deadline, s.timer != nil }

func (s *signal) Done() <-chan struct{} { return s.done }

func (s *signal) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

func (s *signal) Value(any) any { return nil }

// asError is errors.As(err, &target) for a target of type T, without the
// reflection errors.As links: internal/reflectlite, about 20 KB of
// client.wasm.
func asError[T error](err error) (T, bool) {
	var zero T
	for err != nil {
		if t, ok := err.(T); ok {
			return t, true
		}
		if x, ok := err.(interface{ As(any) bool }); ok {
			var t T
			if x.As(&t) {
				return t, true
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if t, ok := asError[T](e); ok {
					return t, true
				}
			}
			return zero, false
		default:
			return zero, false
		}
	}
	return zero, false
}
