package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

// BenchmarkBroadcastFanout measures one broadcast (srv.Emit) reaching every
// one of N sockets connected over loopback WebSockets in this process: an op
// ends when the last socket has read the event. allocs/op include the
// clients' reads, which reuse their buffers.
//
//	go test -run '^$' -bench BroadcastFanout -benchtime 2s ./server/
func BenchmarkBroadcastFanout(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	srv := server.New(&server.Options{Logger: slog.New(slog.DiscardHandler)})
	var joined sync.WaitGroup
	joined.Add(n)
	srv.OnConnection(func(*server.Socket) { joined.Done() })
	hs := httptest.NewServer(srv)
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"

	var got atomic.Int64
	round := make(chan struct{}, 1)
	var readers sync.WaitGroup
	conns := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, ws := range conns {
			ws.CloseNow()
		}
		readers.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			b.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	}()
	for range n {
		ws, err := fanoutJoin(url)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, ws)
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 256)
			for {
				msg, err := fanoutRead(ws, buf)
				if err != nil {
					return
				}
				switch {
				case bytes.HasPrefix(msg, fanoutEvent):
					// The next op starts only after every socket has
					// counted this one, so the reset cannot race.
					if got.Add(1) == int64(n) {
						got.Store(0)
						round <- struct{}{}
					}
				case len(msg) == 1 && msg[0] == '2':
					if ws.Write(context.Background(), websocket.MessageText, []byte("3")) != nil {
						return
					}
				}
			}
		}()
	}
	joined.Wait()

	payload := json.RawMessage(`{"hello":"world","n":12345}`)
	b.ReportAllocs()
	ops := 0
	deadline := wait.Deadline() // read once: the env lookup stays out of the loop
	for b.Loop() {
		if err := srv.Emit("bcast", payload); err != nil {
			b.Fatal(err)
		}
		select {
		case <-round:
		case <-time.After(deadline):
			b.Fatalf("broadcast %d: only %d of %d sockets received it within %v", ops, got.Load(), n, deadline)
		}
		ops++
	}
	d := float64(ops * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/d, "ns/delivery")
	b.ReportMetric(d/b.Elapsed().Seconds(), "deliveries/s")
}

var fanoutEvent = []byte(`42["bcast"`)

// fanoutJoin opens a WebSocket and joins the main namespace.
func fanoutJoin(url string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 256)
	if msg, err := fanoutRead(ws, buf); err != nil || !strings.HasPrefix(string(msg), "0{") {
		ws.CloseNow()
		return nil, fmt.Errorf("open packet: %q, %v", msg, err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		ws.CloseNow()
		return nil, err
	}
	if msg, err := fanoutRead(ws, buf); err != nil || !strings.HasPrefix(string(msg), "40") {
		ws.CloseNow()
		return nil, fmt.Errorf("connect: %q, %v", msg, err)
	}
	return ws, nil
}

// fanoutRead reads one message into buf (grown when too small) without a
// context deadline, so that coder/websocket arms no timer per read.
func fanoutRead(ws *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := ws.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// BenchmarkAckRoundTrip measures one client's event with an ack id, the
// server's handler acking its argument back, and the client reading the
// ack: one op per round trip, over loopback, one call in flight (as in
// scripts/bench's first phase). allocs/op include the client's.
//
//	go test -run '^$' -bench AckRoundTrip -benchmem ./server/
func BenchmarkAckRoundTrip(b *testing.B) {
	srv := server.New(&server.Options{Logger: slog.New(slog.DiscardHandler)})
	srv.OnConnection(func(s *server.Socket) {
		s.On("echo", func(args shared.Args, ack shared.AckFunc) error {
			var v json.RawMessage
			if err := args.Decode(0, &v); err != nil {
				return err
			}
			return ack(v)
		})
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		srv.Shutdown(ctx)
	}()
	ws, err := fanoutJoin("ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		b.Fatal(err)
	}
	defer ws.CloseNow()
	msg := []byte(`421["echo",{"seq":1,"at":1732400000000}]`)
	want := []byte(`431[{"seq":1,"at":1732400000000}]`)
	buf := make([]byte, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := ws.Write(context.Background(), websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		got, err := fanoutRead(ws, buf)
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			b.Fatalf("got %q, want %q", got, want)
		}
	}
}
