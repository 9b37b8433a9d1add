//go:build linux

package server

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"

	"github.com/tsunagi/tsunagi/shared"
)

// Connections that go quiet and busy again at random, some hung up by the
// client and some closed by the server, parked and unparked all along:
// every call on a connection still open is answered, and every connection
// is torn down in the end. With parking off, the same without the idler.
func TestIdlerUnderChurn(t *testing.T) {
	t.Parallel()
	for _, parking := range []bool{true, false} {
		t.Run(parkingName(parking), func(t *testing.T) {
			t.Parallel()
			testIdlerUnderChurn(t, parking)
		})
	}
}

// pause is a client's quiet stretch of d: what the test does to the
// server, not a wait for something.
func pause(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

func testIdlerUnderChurn(t *testing.T, parking bool) {
	srv := New(quietOptions(Options{PingInterval: 300 * time.Millisecond, PingTimeout: 2 * time.Second,
		DisableIdleParking: !parking}))
	var mu sync.Mutex
	sockets := map[string]*Socket{}
	srv.OnConnection(func(s *Socket) {
		s.On("n", func(args shared.Args, ack shared.AckFunc) error {
			var v int
			if err := args.Decode(0, &v); err != nil {
				return err
			}
			return ack(v)
		})
		mu.Lock()
		sockets[s.ID()] = s
		mu.Unlock()
	})
	url := startPlain(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait.Deadline()) // the whole test's clients
	defer cancel()

	const clients = 60
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	var victims []string // socket ids the server closes
	for i := range clients {
		ws, sid := join(t, url, nil)
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		role := i % 10 // 0: the client hangs up; 1: the server closes it; else: stays
		if role == 1 {
			victims = append(victims, sid)
		}
		// A reader answers pings, so that quiet stretches never reach the
		// ping timeout, and hands over the rest.
		msgs := make(chan []byte, 4)
		readErr := make(chan error, 1)
		done := make(chan struct{})
		go func() {
			for {
				_, b, err := ws.Read(ctx)
				if err != nil {
					readErr <- err
					return
				}
				if string(b) == "2" {
					ws.Write(ctx, websocket.MessageText, []byte("3"))
					continue
				}
				select {
				case msgs <- b:
				case <-done:
					return
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ws.CloseNow()
			defer close(done)
			deadline := time.Now().Add(4 * time.Second)
			for n := 0; time.Now().Before(deadline); n++ {
				// Quiet for a while: long enough, at times, to be kicked.
				pause(ctx, time.Duration(rng.IntN(2500))*time.Millisecond)
				if role == 0 && n == 2 {
					return // hangs up, maybe while parked
				}
				id := strconv.Itoa(n)
				if err := ws.Write(ctx, websocket.MessageText, []byte("42"+id+`["n",`+id+`]`)); err != nil {
					if role != 1 {
						errs <- "write: " + err.Error()
					}
					return
				}
				select {
				case b := <-msgs:
					if role == 1 && string(b) == "41" {
						return // the server disconnected it
					}
					if want := "43" + id + "[" + id + "]"; string(b) != want {
						errs <- "client " + strconv.Itoa(i) + ": got " + string(b) + ", want " + want
						return
					}
				case err := <-readErr:
					if role != 1 || websocket.CloseStatus(err) != websocket.StatusNormalClosure {
						errs <- "client " + strconv.Itoa(i) + ": read: " + err.Error()
					}
					return
				}
			}
		}()
	}
	// Meanwhile the server closes the victims' connections, at their own
	// moments: parked, waiting in Go's poller, or busy.
	go func() {
		for _, sid := range victims {
			pause(ctx, time.Duration(200+rand.IntN(400))*time.Millisecond)
			mu.Lock()
			s := sockets[sid]
			mu.Unlock()
			s.Disconnect(true)
		}
	}()
	// How many were parked at once, sampled, and how often a reader was
	// started again: the churn went through the idler.
	most := 0
	sampling, clientsDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampling)
		tick := time.NewTicker(100 * time.Millisecond) // a sample every 100 ms while the clients run
		defer tick.Stop()
		for {
			most = max(most, parked(srv))
			select {
			case <-tick.C:
			case <-clientsDone:
				return
			}
		}
	}()
	wg.Wait()
	close(clientsDone)
	<-sampling
	resumed := srv.idle.Resumed()
	t.Logf("at most %d of %d connections parked at once; readers resumed %d times", most, clients, resumed)
	if !parking {
		if most != 0 || resumed != 0 {
			t.Errorf("parking off, yet %d parked at once and %d resumed", most, resumed)
		}
	} else if resumed < clients {
		t.Errorf("readers resumed %d times for %d connections that went quiet and busy again", resumed, clients)
	}
	close(errs)
	var failed []string
	for e := range errs {
		failed = append(failed, e)
	}
	if len(failed) > 0 {
		t.Errorf("%d clients failed: %s", len(failed), strings.Join(failed, "; "))
	}
	wait.For(t, "every connection torn down and none parked", func() bool {
		srv.mu.Lock()
		n := len(srv.conns)
		srv.mu.Unlock()
		return n == 0 && parked(srv) == 0
	})
}
