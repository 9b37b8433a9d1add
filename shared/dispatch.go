package shared

import (
	"fmt"
	"sync/atomic"
)

// Dispatch runs the catch-all listeners, then the handlers of event, each
// through call, which recovers a panic and reports an error. When the
// sender asked for an ack (send is not nil), handlers get an AckFunc that
// sends it at most once. args is read, never changed: the caller's copy,
// which a handler may keep, is not copied again per handler.
func (r *Registry) Dispatch(event string, args *Args, send func(res []any) error, call func(what string, fn func() error)) {
	var ack AckFunc
	if send != nil {
		var sent atomic.Bool
		ack = func(res ...any) error {
			if sent.Swap(true) {
				return fmt.Errorf("tsunagi: ack for %q already sent", event)
			}
			return send(res)
		}
	}
	r.mu.Lock()
	anys, hs := r.anyIn, r.get(event) // snapshots: lists are replaced, never changed
	r.mu.Unlock()
	for _, e := range anys {
		call("onAny", func() error { e.fn(event, *args); return nil })
	}
	for _, e := range hs {
		call(event, func() error { return e.h(*args, ack) })
	}
}
