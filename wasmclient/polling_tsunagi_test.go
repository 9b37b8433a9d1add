//go:build !js

package wasmclient_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// pollingServer is a tsunagi server with the events of
// testdata/polling_server.js.
func pollingServer(t *testing.T) string {
	t.Helper()
	srv := server.New(&server.Options{Logger: quiet})
	srv.OnConnection(func(s *server.Socket) {
		s.Emit("hello", s.Transport(), s.Handshake().Headers.Get("X-Token"))
		s.On("transport", func(_ shared.Args, ack shared.AckFunc) error { return ack(s.Transport()) })
		s.On("echo", func(a shared.Args, ack shared.AckFunc) error {
			v, err := a.Values()
			if err != nil {
				return err
			}
			return ack(v...)
		})
		s.On("ask", func(_ shared.Args, ack shared.AckFunc) error {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
				defer cancel()
				res, err := s.EmitWithAck(ctx, "question", 20)
				n := -1
				if err == nil {
					res.Decode(0, &n)
				}
				ack(n)
			}()
			return nil
		})
		s.On("bin", func(a shared.Args, ack shared.AckFunc) error {
			var b []byte
			if err := a.Decode(0, &b); err != nil {
				return err
			}
			rev := slices.Clone(b)
			slices.Reverse(rev)
			s.Emit("bin-back", rev, map[string]any{"name": "x", "data": []byte{7, 8}})
			return ack(rev)
		})
		var mu sync.Mutex
		next, bad := 0, 0
		s.On("up", func(a shared.Args, _ shared.AckFunc) error {
			var i int
			if err := a.Decode(0, &i); err != nil {
				return err
			}
			mu.Lock()
			if i != next {
				bad++
			}
			next = i + 1
			mu.Unlock()
			return nil
		})
		s.On("up-count", func(_ shared.Args, ack shared.AckFunc) error {
			mu.Lock()
			defer mu.Unlock()
			return ack(next, bad)
		})
		s.On("flood", func(a shared.Args, _ shared.AckFunc) error {
			var n int
			if err := a.Decode(0, &n); err != nil {
				return err
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
				defer cancel()
				for i := 0; i < n; {
					for k := 0; k < 100 && i < n; k++ {
						s.Emit("down", i)
						i++
					}
					if i < n {
						if _, err := s.EmitWithAck(ctx, "down-batch", i); err != nil {
							return
						}
					}
				}
			}()
			return nil
		})
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Shutdown(context.Background())
	})
	return hs.URL
}

// TestTsunagiServerPolling: our client against our server over polling,
// and upgrading under load.
func TestTsunagiServerPolling(t *testing.T) {
	t.Parallel()
	t.Run("polling", func(t *testing.T) {
		t.Parallel()
		url := pollingServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		s, err := wasmclient.New(url, &wasmclient.Options{Transports: []string{"polling"}, NoReconnection: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Disconnect()
		hello, binBack := handlers(s)
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if h := ackValues(t, wait.Recv(t, "hello", hello)); h[0] != "polling" {
			t.Fatalf("the server saw transport %v", h[0])
		}
		exercise(t, ctx, s, binBack)
	})
	t.Run("upgrade under load", func(t *testing.T) {
		t.Parallel()
		upgradeUnderLoad(t, pollingServer(t))
	})
}
