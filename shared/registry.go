package shared

import (
	"slices"
	"sync"

	"github.com/tsunagi/tsunagi/shared/wire"
)

// AnyHandler receives every event, for catch-all listeners (onAny).
type AnyHandler func(event string, args Args)

// Registry holds the event handlers of one socket; both ends use it. It is
// safe for concurrent use, and the lists it returns are snapshots, so
// handlers run outside its lock and may add or remove handlers.
type Registry struct {
	mu       sync.Mutex
	handlers []eventHandlers // a socket has a few events: a scan costs less memory than a map
	anyIn    []*anyEntry
	anyOut   []*anyEntry
}

type eventHandlers struct {
	event string
	list  []*handlerEntry
}

type handlerEntry struct{ h Handler }

// get returns event's handlers, under r.mu.
func (r *Registry) get(event string) []*handlerEntry {
	for _, e := range r.handlers {
		if e.event == event {
			return e.list
		}
	}
	return nil
}

// set makes list event's handlers, under r.mu; an empty list removes event.
func (r *Registry) set(event string, list []*handlerEntry) {
	for i, e := range r.handlers {
		if e.event != event {
			continue
		}
		if len(list) == 0 {
			r.handlers = slices.Delete(r.handlers, i, i+1)
		} else {
			r.handlers[i].list = list
		}
		return
	}
	if len(list) > 0 {
		r.handlers = append(r.handlers, eventHandlers{event, list})
	}
}

type anyEntry struct{ fn AnyHandler }

// On adds h for event; the returned func removes it.
func (r *Registry) On(event string, h Handler) (off func()) {
	e := &handlerEntry{h: h}
	wire.Intern(event)
	r.mu.Lock()
	r.set(event, appendCOW(r.get(event), e))
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.set(event, removeCOW(r.get(event), e))
		r.mu.Unlock()
	}
}

// Off removes every handler of event.
func (r *Registry) Off(event string) {
	r.mu.Lock()
	r.set(event, nil)
	r.mu.Unlock()
}

// OnAny adds a listener for every incoming event.
func (r *Registry) OnAny(fn AnyHandler) (off func()) { return r.addAny(&r.anyIn, fn) }

// OnAnyOutgoing adds a listener for every outgoing event.
func (r *Registry) OnAnyOutgoing(fn AnyHandler) (off func()) { return r.addAny(&r.anyOut, fn) }

// OffAny removes every catch-all listener of incoming events.
func (r *Registry) OffAny() {
	r.mu.Lock()
	r.anyIn = nil
	r.mu.Unlock()
}

// OffAnyOutgoing removes every catch-all listener of outgoing events.
func (r *Registry) OffAnyOutgoing() {
	r.mu.Lock()
	r.anyOut = nil
	r.mu.Unlock()
}

// AnyOutgoing returns the catch-all listeners of outgoing events.
func (r *Registry) AnyOutgoing() []AnyHandler { return r.anys(&r.anyOut) }

func (r *Registry) anys(list *[]*anyEntry) []AnyHandler {
	r.mu.Lock()
	es := *list
	r.mu.Unlock()
	if len(es) == 0 {
		return nil
	}
	out := make([]AnyHandler, len(es))
	for i, e := range es {
		out[i] = e.fn
	}
	return out
}

func (r *Registry) addAny(list *[]*anyEntry, fn AnyHandler) func() {
	e := &anyEntry{fn: fn}
	r.mu.Lock()
	*list = appendCOW(*list, e)
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		*list = removeCOW(*list, e)
		r.mu.Unlock()
	}
}

// appendCOW and removeCOW never write into a slice a snapshot may share.
func appendCOW[E any](s []*E, e *E) []*E { return append(s[:len(s):len(s)], e) }

func removeCOW[E any](s []*E, e *E) []*E {
	for i, x := range s {
		if x == e {
			n := make([]*E, 0, len(s)-1)
			return append(append(n, s[:i]...), s[i+1:]...)
		}
	}
	return s
}
