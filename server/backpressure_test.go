package server

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared"
)

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
		srv.OnConnection(func(s *Socket) {
			s.On("n", func(args shared.Args, _ shared.AckFunc) error {
				var v int
				args.Decode(0, &v)
				<-release
				got <- v
				return nil
			})
			s.OnDisconnect(func(r string) { gone <- r })
		})
		url := startPlain(t, srv)
		ws := joinMain(t, url, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		const n = 3 * maxTasks
		for i := range n {
			if err := ws.Write(ctx, websocket.MessageText, []byte(`42["n",`+strconv.Itoa(i)+`]`)); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for queued(srv) < maxTasks {
			if time.Now().After(deadline) {
				t.Fatalf("%d tasks queued, want %d", queued(srv), maxTasks)
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		if q := queued(srv); q != maxTasks {
			t.Fatalf("%d tasks queued, want at most %d", q, maxTasks)
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
			srv.mu.Lock()
			for c := range srv.conns {
				go c.close(ReasonServerDisconnect, websocket.StatusNormalClosure)
			}
			srv.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			close(release)
			if r := take(t, gone); r != ReasonServerDisconnect {
				t.Fatalf("disconnect reason %q", r)
			}
			cancel()
			continue
		}
		close(release)
		for i := range n {
			if v := take(t, got); v != i {
				t.Fatalf("handler %d got %d", i, v)
			}
		}
		cancel()
	}
}
