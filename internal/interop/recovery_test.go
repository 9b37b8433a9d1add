//go:build !js

package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestOfficialClientRecovers: socket.io-client 4.8 loses its transport in
// the middle of a stream of broadcasts from our server (Recovery on) and
// comes back with socket.recovered, the same id, every broadcast once, in
// order; on each of clientTransports.
func TestOfficialClientRecovers(t *testing.T) {
	t.Parallel()
	for _, tr := range clientTransports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			testOfficialClientRecovers(t, tr)
		})
	}
}

func testOfficialClientRecovers(t *testing.T, transports string) {
	const n = 300
	srv, url := startServer(t, &server.Options{Recovery: server.RecoveryOptions{MaxDisconnectionDuration: time.Minute}})
	seq := shared.NewEvent[int]("seq")
	var (
		mu   sync.Mutex
		done = make(chan struct{})
	)
	srv.OnConnection(func(s *server.Socket) {
		if !s.Recovered() {
			s.Join("r")
		}
		s.On("start", func(_ shared.Args, ack shared.AckFunc) error {
			mu.Lock()
			defer mu.Unlock()
			go func() {
				defer close(done)
				// One broadcast every 5 ms, as server_recovery.js does: a
				// stream that goes on while the client is away. The ticker
				// paces a producer; nothing waits on it.
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for i := 1; i <= n; i++ {
					seq.Emit(srv.To("r"), i)
					<-tick.C
				}
			}()
			return ack(n)
		})
		s.On("finished", func(_ shared.Args, ack shared.AckFunc) error {
			go func() {
				select {
				case <-done:
				case <-time.After(wait.Deadline()):
				}
				ack(true)
			}()
			return nil
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	p := testenv.RunNode(t, ctx, filepath.Join("testdata", "client_recovery.js"), "URL="+url, "TRANSPORTS="+transports)
	if err := p.Wait(); err != nil {
		t.Fatalf("client_recovery.js: %v\nstdout:\n%s\nstderr:\n%s", err, p.Stdout(), p.Stderr())
	}
	want := []string{
		"recovered false",
		"recovered true",
		"same id true",
		fmt.Sprintf(`seq {"count":%d,"inOrder":true,"total":%d}`, n, n),
		"done",
	}
	if got := stdoutLines(p.Stdout()); !slices.Equal(got, want) {
		t.Fatalf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestGoClientRecoversFromOfficialServer: the official socket.io 4.8 server
// with connectionStateRecovery closes our Go client's transport mid-stream;
// the client comes back recovered with every broadcast once, in order.
func TestGoClientRecoversFromOfficialServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	p := testenv.RunNode(t, ctx, filepath.Join("testdata", "server_recovery.js"))
	url := "http://127.0.0.1:" + p.WaitOutput(t, wait.Deadline(), `^listening (\d+)\n`)[1]

	c, err := wasmclient.New(url, &wasmclient.Options{ReconnectionDelay: 50 * time.Millisecond, ReconnectionDelayMax: 100 * time.Millisecond, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	var (
		mu  sync.Mutex
		got []int
	)
	shared.NewEvent[int]("seq").On(c, func(n int) {
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	})
	reasons := make(chan string, 4)
	c.OnDisconnect(func(r string) { reasons <- r })
	connects := make(chan struct{}, 4)
	c.OnConnect(func() { connects <- struct{}{} })
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	firstID := c.ID()
	res, err := c.EmitWithAck(ctx, "start")
	if err != nil {
		t.Fatal(err)
	}
	var total int
	res.Decode(0, &total)
	wait.Recv(t, "the first connect", connects)
	if r := wait.Recv(t, "the server closing the transport", reasons); r != wasmclient.ReasonTransportClose {
		t.Fatalf("disconnect reason %q", r)
	}
	wait.Recv(t, "the reconnection", connects)
	// The server acks "finished" once it has sent every broadcast, on the
	// same connection, so they have all been read when the ack is. Their
	// handlers run in order on the client's dispatcher, while an ack is
	// resolved on the reader (so that a handler may itself wait for an ack):
	// the last handlers may still be running when EmitWithAck returns.
	if _, err := c.EmitWithAck(ctx, "finished"); err != nil {
		t.Fatal(err)
	}
	if !c.Recovered() || c.ID() != firstID {
		t.Fatalf("recovered=%v id %q (was %q)\nserver:\n%s", c.Recovered(), c.ID(), firstID, p.Output())
	}
	wait.Until(func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= total })
	mu.Lock()
	defer mu.Unlock()
	for i, n := range got {
		if n != i+1 {
			b, _ := json.Marshal(got)
			t.Fatalf("broadcast %d is %d: %s", i, n, b)
		}
	}
	if len(got) != total {
		t.Fatalf("got %d of %d broadcasts", len(got), total)
	}
}
