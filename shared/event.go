package shared

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// Emitter sends an event: a server socket, a broadcast target or a client.
type Emitter interface {
	Emit(event string, args ...any) error
}

// Caller sends an event and waits for its acknowledgement.
type Caller interface {
	EmitWithAck(ctx context.Context, event string, args ...any) (Args, error)
}

// AckFunc answers an event that asked for an acknowledgement. Handlers
// receive a nil AckFunc when the sender asked for none.
type AckFunc func(args ...any) error

// Handler handles one event. An error it returns is reported by the end that
// runs it (logged by the server, passed to the client's error hook); it does
// not close the connection.
type Handler func(args Args, ack AckFunc) error

// Listener registers event handlers: a server socket or a client.
type Listener interface {
	// On adds h for event; the returned func removes it.
	On(event string, h Handler) (off func())
	// Off removes every handler of event.
	Off(event string)
}

// Errors shared by both ends.
var (
	// ErrAckTimeout is returned when an acknowledgement does not arrive in time.
	ErrAckTimeout = errors.New("tsunagi: operation has timed out")
	// ErrDisconnected is returned for an operation on a socket that is not connected.
	ErrDisconnected = errors.New("tsunagi: socket is disconnected")
)

// RemoteError is an error that the handler on the other end returned for a Request.
type RemoteError struct {
	Message string `json:"message"`
}

func (e *RemoteError) Error() string { return "tsunagi: remote error: " + e.Message }

// Event is an event whose single argument is a T. Declare it once, in a
// package both ends import; a payload of another type does not compile.
type Event[T any] struct{ name string }

// NewEvent declares an event. It panics for an empty or reserved name, like
// regexp.MustCompile, because declarations live in package variables.
func NewEvent[T any](name string) Event[T] {
	mustName(name)
	return Event[T]{name: name}
}

func mustName(name string) {
	if name == "" {
		panic("tsunagi: empty event name")
	}
	if wire.IsReserved(name) {
		panic(fmt.Sprintf("tsunagi: event name %q is reserved by Socket.IO", name))
	}
	wire.Intern(name)
}

// Name is the event name on the wire.
func (e Event[T]) Name() string { return e.name }

// Emit sends v to to.
func (e Event[T]) Emit(to Emitter, v T) error { return to.Emit(e.name, v) }

// On calls fn with each event's payload. A payload that does not decode into
// a T does not reach fn: the end reports a *DecodeError instead.
func (e Event[T]) On(l Listener, fn func(T)) (off func()) {
	return l.On(e.name, func(args Args, _ AckFunc) error {
		var v T
		if err := args.Decode(0, &v); err != nil {
			return &DecodeError{Event: e.name, Index: 0, Err: err}
		}
		fn(v)
		return nil
	})
}

// Once is On for the next event only.
func (e Event[T]) Once(l Listener, fn func(T)) (off func()) {
	return once(l, e.name, func(args Args, ack AckFunc) error {
		var v T
		if err := args.Decode(0, &v); err != nil {
			return &DecodeError{Event: e.name, Index: 0, Err: err}
		}
		fn(v)
		return nil
	})
}

// Off removes every handler of the event from l.
func (e Event[T]) Off(l Listener) { l.Off(e.name) }

func once(l Listener, name string, h Handler) (off func()) {
	var (
		mu   sync.Mutex
		done bool
		rm   func()
	)
	rm = l.On(name, func(args Args, ack AckFunc) error {
		mu.Lock()
		if done {
			mu.Unlock()
			return nil
		}
		done = true
		r := rm
		mu.Unlock()
		if r != nil {
			r()
		}
		return h(args, ack)
	})
	mu.Lock()
	if done {
		rm()
	}
	mu.Unlock()
	return rm
}

// Event2 is an event with two arguments, for the Socket.IO APIs that send several.
type Event2[A, B any] struct{ name string }

// NewEvent2 declares an event with two arguments.
func NewEvent2[A, B any](name string) Event2[A, B] {
	mustName(name)
	return Event2[A, B]{name: name}
}

// Name is the event name on the wire.
func (e Event2[A, B]) Name() string { return e.name }

// Emit sends a and b to to.
func (e Event2[A, B]) Emit(to Emitter, a A, b B) error { return to.Emit(e.name, a, b) }

// On calls fn with each event's two arguments.
func (e Event2[A, B]) On(l Listener, fn func(A, B)) (off func()) {
	return l.On(e.name, func(args Args, _ AckFunc) error {
		var a A
		var b B
		if err := args.Decode(0, &a); err != nil {
			return &DecodeError{Event: e.name, Index: 0, Err: err}
		}
		if err := args.Decode(1, &b); err != nil {
			return &DecodeError{Event: e.name, Index: 1, Err: err}
		}
		fn(a, b)
		return nil
	})
}

// Off removes every handler of the event from l.
func (e Event2[A, B]) Off(l Listener) { l.Off(e.name) }

// Request is an acknowledged event: a Req goes out, a Res or an error comes
// back. On the wire the reply is an ack with [res] on success and
// [null, {"message": "…"}] on failure.
type Request[Req, Res any] struct{ name string }

// NewRequest declares an acknowledged event.
func NewRequest[Req, Res any](name string) Request[Req, Res] {
	mustName(name)
	return Request[Req, Res]{name: name}
}

// Name is the event name on the wire.
func (r Request[Req, Res]) Name() string { return r.name }

// Call sends req and waits for the reply until ctx is done. A handler error
// comes back as a *RemoteError.
func (r Request[Req, Res]) Call(ctx context.Context, c Caller, req Req) (Res, error) {
	var res Res
	args, err := c.EmitWithAck(ctx, r.name, req)
	if err != nil {
		return res, err
	}
	return res, decodeReply(args, &res)
}

func decodeReply(args Args, res any) error {
	if args.Len() >= 2 {
		if raw := args.Raw(1); string(raw) != "null" {
			re := &RemoteError{}
			if err := jsoncodec.Unmarshal(raw, re); err != nil || re.Message == "" {
				re.Message = string(raw)
			}
			return re
		}
	}
	if err := args.Decode(0, res); err != nil {
		return &DecodeError{Index: 0, Err: err}
	}
	return nil
}

// Handle answers each request with fn's result. A request that does not
// decode into a Req gets an error reply, and fn is not called.
func (r Request[Req, Res]) Handle(l Listener, fn func(Req) (Res, error)) (off func()) {
	return l.On(r.name, func(args Args, ack AckFunc) error {
		var req Req
		if err := args.Decode(0, &req); err != nil {
			derr := &DecodeError{Event: r.name, Index: 0, Err: err}
			if ack != nil {
				_ = ack(nil, RemoteError{Message: derr.Error()})
			}
			return derr
		}
		res, err := fn(req)
		if ack == nil {
			return err
		}
		if err != nil {
			return ack(nil, RemoteError{Message: err.Error()})
		}
		return ack(res)
	})
}

// Off removes the request's handlers from l.
func (r Request[Req, Res]) Off(l Listener) { l.Off(r.name) }
