package wasmclient

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared/wire"
)

func TestSignal(t *testing.T) {
	t.Parallel()
	s := newSignal(10 * time.Millisecond)
	if _, ok := s.Deadline(); !ok || s.Err() != nil {
		t.Fatalf("new signal: deadline %v, err %v", ok, s.Err())
	}
	<-s.Done()
	if s.Err() != context.DeadlineExceeded {
		t.Errorf("expired signal: err %v", s.Err())
	}
	s.stop()
	if s.Err() != context.DeadlineExceeded {
		t.Errorf("stopped after expiry: err %v", s.Err())
	}

	s = newSignal(0)
	if _, ok := s.Deadline(); ok {
		t.Error("signal without a timeout has a deadline")
	}
	s.stop()
	<-s.Done()
	if s.Err() != context.Canceled {
		t.Errorf("stopped signal: err %v", s.Err())
	}
}

type asMethodError struct{}

func (asMethodError) Error() string { return "as" }

func (asMethodError) As(target any) bool {
	if p, ok := target.(**wire.ParseError); ok {
		*p = &wire.ParseError{Reason: "from As"}
		return true
	}
	return false
}

// asError finds what errors.As finds.
func TestAsError(t *testing.T) {
	t.Parallel()
	pe := &wire.ParseError{Reason: "x"}
	ce := websocket.CloseError{Code: websocket.StatusGoingAway}
	for _, err := range []error{
		nil, pe, ce, errors.New("plain"), fmt.Errorf("a: %w", pe), fmt.Errorf("a: %w", fmt.Errorf("b: %w", ce)),
		fmt.Errorf("%w: %w", errors.New("x"), pe), errors.Join(errors.New("x"), fmt.Errorf("c: %w", ce)),
		asMethodError{}, fmt.Errorf("d: %w", asMethodError{}),
	} {
		var wantP *wire.ParseError
		okP := errors.As(err, &wantP)
		gotP, gotOkP := asError[*wire.ParseError](err)
		if gotOkP != okP || gotP != wantP && (gotP == nil || wantP == nil || gotP.Reason != wantP.Reason) {
			t.Errorf("asError[*ParseError](%v) = %v, %v; errors.As: %v, %v", err, gotP, gotOkP, wantP, okP)
		}
		var wantC websocket.CloseError
		okC := errors.As(err, &wantC)
		gotC, gotOkC := asError[websocket.CloseError](err)
		if gotOkC != okC || gotC != wantC {
			t.Errorf("asError[CloseError](%v) = %v, %v; errors.As: %v, %v", err, gotC, gotOkC, wantC, okC)
		}
	}
}
