package server

import (
	"container/heap"
	"sync"
	"time"
)

// heartbeats fires the connections' heartbeats (conn.onHeartbeat) from one
// timer of the server's: a connection keeps its due time and its place in
// a heap, not a timer of its own.
type heartbeats struct {
	mu    sync.Mutex
	base  time.Time // due times are durations since base, on the monotonic clock
	due   beatHeap
	timer *time.Timer // fires at due[0]'s time; made on first use
}

// arm schedules c's heartbeat at t, or moves it there. Callers hold c.mu.
func (h *heartbeats) arm(c *conn, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.base.IsZero() {
		h.base = time.Now()
	}
	c.beatAt = t.Sub(h.base)
	if c.beatPos == 0 {
		heap.Push(&h.due, c)
	} else {
		heap.Fix(&h.due, c.beatPos-1)
	}
	if h.due[0] == c {
		h.reset()
	}
}

// remove unschedules c's heartbeat.
func (h *heartbeats) remove(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.beatPos != 0 {
		heap.Remove(&h.due, c.beatPos-1)
	}
	if len(h.due) == 0 && cap(h.due) > 64 {
		h.due = nil // after a crowd has gone, no large array
	}
}

// reset sets the timer for due[0], under h.mu.
func (h *heartbeats) reset() {
	d := h.due[0].beatAt - time.Since(h.base)
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.fire)
		return
	}
	h.timer.Reset(d)
}

// fire runs the heartbeats that are due, outside h.mu: onHeartbeat takes
// c.mu, under which arm takes h.mu.
func (h *heartbeats) fire() {
	var now []*conn
	h.mu.Lock()
	elapsed := time.Since(h.base)
	for len(h.due) > 0 && h.due[0].beatAt <= elapsed {
		now = append(now, heap.Pop(&h.due).(*conn))
	}
	if len(h.due) > 0 {
		h.reset()
	}
	h.mu.Unlock()
	for _, c := range now {
		c.onHeartbeat()
	}
}

// beatHeap orders connections by heartbeat time; conn.beatPos is a
// connection's index + 1, 0 when it is not in the heap.
type beatHeap []*conn

func (b beatHeap) Len() int           { return len(b) }
func (b beatHeap) Less(i, j int) bool { return b[i].beatAt < b[j].beatAt }
func (b beatHeap) Swap(i, j int) {
	b[i], b[j] = b[j], b[i]
	b[i].beatPos, b[j].beatPos = i+1, j+1
}
func (b *beatHeap) Push(x any) {
	c := x.(*conn)
	*b = append(*b, c)
	c.beatPos = len(*b)
}
func (b *beatHeap) Pop() any {
	old := *b
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*b = old[:len(old)-1]
	c.beatPos = 0
	return c
}
