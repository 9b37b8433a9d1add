package admin_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/admin"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// benchModes are the admin setups compared: none, production, development
// (with an admin client connected, which receives every notification).
var benchModes = []struct {
	name string
	mode admin.Mode
}{{"off", ""}, {"production", admin.ModeProduction}, {"development", admin.ModeDevelopment}}

// benchServer starts a server in mode with clients Go clients over
// WebSocket, which call got for each "tick".
func benchServer(b *testing.B, mode admin.Mode, clients int, got func()) (*server.Server, []*wasmclient.Socket) {
	srv := server.New(nil)
	if mode != "" {
		adm, err := admin.Instrument(srv, admin.Options{NoAuth: true, Mode: mode})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(adm.Close)
	}
	srv.OnConnection(func(s *server.Socket) {
		s.On("req", func(a shared.Args, ack shared.AckFunc) error { return ack("ok") })
	})
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	ws := &wasmclient.Options{NoReconnection: true, Transports: []string{"websocket"}}
	if mode != "" {
		a, err := wasmclient.Dial(ctx, hs.URL+"/admin", ws)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = a.Disconnect() })
	}
	var out []*wasmclient.Socket
	for range clients {
		c, err := wasmclient.Dial(ctx, hs.URL, ws)
		if err != nil {
			b.Fatal(err)
		}
		c.On("tick", func(shared.Args, shared.AckFunc) error { got(); return nil })
		b.Cleanup(func() { _ = c.Disconnect() })
		out = append(out, c)
	}
	return srv, out
}

// BenchmarkAdminBroadcast: broadcasts to 50 clients, with the admin
// namespace off, in production and in development mode.
func BenchmarkAdminBroadcast(b *testing.B) {
	const clients = 50
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			var n atomic.Int64
			srv, _ := benchServer(b, m.mode, clients, func() { n.Add(1) })
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				_ = srv.Emit("tick", i)
				for int64(i)*clients-n.Load() > 50*clients { // bounded lag: at most 50 broadcasts in flight
					time.Sleep(50 * time.Microsecond)
				}
			}
			if !wait.Until(func() bool { return n.Load() == int64(b.N)*clients }) {
				b.Fatalf("delivered %d of %d", n.Load(), int64(b.N)*clients)
			}
			b.ReportMetric(float64(b.N*clients)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkAdminAcks: 8 clients each call "req" with an ack, 8 in flight
// each, with the admin namespace off, in production and in development.
func BenchmarkAdminAcks(b *testing.B) {
	const clients, inflight = 8, 8
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			_, cs := benchServer(b, m.mode, clients, func() {})
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, c := range cs {
				for range inflight {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for left.Add(-1) >= 0 {
							ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
							_, err := c.EmitWithAck(ctx, "req", 1)
							cancel()
							if err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "acks/s")
		})
	}
}
