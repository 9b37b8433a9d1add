package server

import (
	"context"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/shared"
)

// readerWaitsForRoom reports whether c's reader waits for room in its full
// task queue.
func readerWaitsForRoom(c *conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waits != nil && c.waits.n[waitRoom] > 0
}

// queued returns the tasks queued on srv's only connection.
func queued(srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for c := range srv.conns {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.tasks)
	}
	return -1
}

// A client that sends faster than its handlers run is not read further
// once maxTasks wait: the reader waits for room, then goes on, in order.
// The server closing the connection meanwhile ends the wait.
func TestTaskQueueBackpressure(t *testing.T) {
	t.Parallel()
	for _, closeFirst := range []bool{false, true} {
		srv := New(quietOptions(Options{}))
		release := make(chan struct{})
		got := make(chan int, 1000)
		gone := make(chan string, 1)
		entered := make(chan struct{}, 1)
		srv.OnConnection(func(s *Socket) {
			s.On("n", func(args shared.Args, _ shared.AckFunc) error {
				var v int
				args.Decode(0, &v)
				select {
				case entered <- struct{}{}: // the first handler holds the dispatcher
				default:
				}
				<-release
				got <- v
				return nil
			})
			s.OnDisconnect(func(r string) { gone <- r })
		})
		url := startPlain(t, srv)
		ws := joinMain(t, url, nil)
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		const n = 3 * maxTasks
		for i := range n {
			if err := ws.Write(ctx, websocket.MessageText, []byte(`42["n",`+strconv.Itoa(i)+`]`)); err != nil {
				t.Fatal(err)
			}
		}
		c := onlyConn(t, srv)
		// The barrier: the dispatcher holds the first task, so nothing more
		// is taken; the reader then fills the queue and waits for room. (The
		// reader may have waited once already, before the dispatcher took
		// that first task: its mark stays up until it runs again, so the
		// queue is checked in the same condition.) Without backpressure the
		// reader never waits and the queue grows past maxTasks.
		wait.Recv(t, "the first handler to run", entered)
		wait.For(t, "the reader waiting for room with the queue full", func() bool {
			return readerWaitsForRoom(c) && queued(srv) == maxTasks
		})
		if q := queued(srv); q != maxTasks {
			t.Fatalf("%d tasks queued, want %d", q, maxTasks)
		}
		if closeFirst {
			// The server closes it while its reader waits for room (a
			// handler blocked meanwhile holds up only this connection).
			go func() { // answers the close frame
				for {
					if _, _, err := ws.Read(ctx); err != nil {
						return
					}
				}
			}()
			go c.close(ReasonServerDisconnect, websocket.StatusNormalClosure)
			// The close ends the reader's wait before any task is taken.
			wait.For(t, "the reader's wait ended by the close", func() bool {
				c.mu.Lock()
				ended := c.ended
				c.mu.Unlock()
				return ended && !readerWaitsForRoom(c)
			})
			close(release)
			if r := wait.Recv(t, "the disconnect", gone); r != ReasonServerDisconnect {
				t.Fatalf("disconnect reason %q", r)
			}
			cancel()
			continue
		}
		close(release)
		for i := range n {
			if v := wait.Recv(t, "handler "+strconv.Itoa(i), got); v != i {
				t.Fatalf("handler %d got %d", i, v)
			}
		}
		cancel()
	}
}
