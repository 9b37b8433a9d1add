package wasmclient

import (
	"context"
	"testing"
)

// TestTasksAfterEndArePrefix: once the connection has ended, the tasks that
// still run are the first ones queued, with none skipped. A later event run
// after an earlier one was dropped would move the recovery offset past the
// dropped event, and recovery would never resend it.
func TestTasksAfterEndArePrefix(t *testing.T) {
	t.Parallel()
	e := newEngine(nil)
	e.ctx.end(context.Canceled) // the end; the queue still has room
	const n = 64                // the queue's capacity: no send can block
	var order []int
	for i := range n {
		e.task(func() { order = append(order, i) })
	}
	close(e.tasks)
	for fn := range e.tasks {
		fn()
	}
	for k, i := range order {
		if i != k {
			t.Fatalf("after the end, tasks ran %v: task %d was dropped and a later one ran", order, k)
		}
	}
}
