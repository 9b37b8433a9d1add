//go:build !js

package wasmclient_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestAcksReleased: an EmitWithAck that times out, and one whose socket is
// disconnected while it waits, leave nothing in the socket's table of
// awaited acks.
func TestAcksReleased(t *testing.T) {
	t.Parallel()
	srv := server.New(&server.Options{Logger: quiet})
	srv.OnConnection(func(s *server.Socket) {
		s.On("bye", func(shared.Args, shared.AckFunc) error { s.Disconnect(true); return nil })
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	m, err := wasmclient.NewManager(hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Socket("/")
	defer c.Disconnect()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// The ack timeout under test, not a wait.
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	if _, err := c.EmitWithAck(short, "nobody handles this"); !errors.Is(err, shared.ErrAckTimeout) {
		t.Fatalf("err = %v, want ErrAckTimeout", err)
	}
	if n := wasmclient.PendingAcks(c); n != 0 {
		t.Fatalf("%d acks pending after a timeout", n)
	}
	if _, err := c.EmitWithAck(ctx, "bye"); !errors.Is(err, shared.ErrDisconnected) {
		t.Fatalf("err = %v, want ErrDisconnected", err)
	}
	if n := wasmclient.PendingAcks(c); n != 0 {
		t.Fatalf("%d acks pending after a disconnect", n)
	}
}
