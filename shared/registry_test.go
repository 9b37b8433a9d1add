package shared

import (
	"fmt"
	"strings"
	"testing"
)

// Handlers of several events, added and removed in any order, and Off.
func TestRegistryEvents(t *testing.T) {
	var r Registry
	var calls []string
	h := func(name string) Handler {
		return func(Args, AckFunc) error { calls = append(calls, name); return nil }
	}
	run := func(event string) []string {
		calls = nil
		for _, fn := range r.handlersOf(event) {
			fn(Args{}, nil)
		}
		return calls
	}
	check := func(event string, want ...string) {
		t.Helper()
		if got := run(event); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: handlers %v, want %v", event, got, want)
		}
		if r.has(event) != (len(want) > 0) {
			t.Fatalf("%s: Has %v", event, r.has(event))
		}
	}
	offA1 := r.On("a", h("a1"))
	r.On("b", h("b1"))
	offA2 := r.On("a", h("a2"))
	r.On("c", h("c1"))
	check("a", "a1", "a2")
	check("b", "b1")
	check("c", "c1")
	check("d")

	snapshot := r.handlersOf("a")
	offA1()
	check("a", "a2")
	if len(snapshot) != 2 {
		t.Fatalf("a snapshot changed: %d handlers", len(snapshot))
	}
	offA2()
	check("a")
	check("b", "b1")
	check("c", "c1")
	offA1() // again: nothing to remove

	r.On("a", h("a3"))
	r.Off("b")
	check("b")
	check("a", "a3")
	check("c", "c1")
}

// An ack is sent once; a second call fails and sends nothing.
func TestAckOnce(t *testing.T) {
	var r Registry
	var sent [][]any
	var second error
	r.On("e", func(_ Args, ack AckFunc) error {
		if err := ack(1); err != nil {
			t.Errorf("first ack: %v", err)
		}
		second = ack(2)
		return nil
	})
	r.Dispatch("e", &Args{}, func(res []any) error { sent = append(sent, res); return nil },
		func(_ string, fn func() error) { fn() })
	if len(sent) != 1 || fmt.Sprint(sent[0]) != "[1]" {
		t.Fatalf("sent %v, want [[1]]", sent)
	}
	if second == nil || !strings.Contains(second.Error(), `ack for "e" already sent`) {
		t.Fatalf("second ack: %v", second)
	}
}

// The snapshots that Registry's own Dispatch reads, for tests.

func (r *Registry) handlersOf(event string) []Handler {
	r.mu.Lock()
	es := r.get(event)
	r.mu.Unlock()
	out := make([]Handler, len(es))
	for i, e := range es {
		out[i] = e.h
	}
	return out
}

func (r *Registry) has(event string) bool { return len(r.handlersOf(event)) > 0 }

func (r *Registry) incoming() []AnyHandler { return r.anys(&r.anyIn) }
