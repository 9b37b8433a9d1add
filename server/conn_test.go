package server

import (
	"context"
	"testing"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"

	"github.com/tsunagi/tsunagi/shared"
)

// A panic while the reader handles a message fails that connection only:
// the server goes on serving the others.
func TestReaderPanicFailsOneConnection(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{}))
	sockets := make(chan *Socket, 2)
	srv.OnConnection(func(s *Socket) { sockets <- s })
	_, url := startCounting(t, srv)
	bad := joinMain(t, url, nil)
	s := <-sockets
	if !s.addAck(7, func(shared.Args, error) { panic("a bug") }) {
		t.Fatal("addAck")
	}
	gone := make(chan string, 1)
	s.OnDisconnect(func(r string) { gone <- r })
	if err := bad.Write(context.Background(), websocket.MessageText, []byte("437[]")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	for { // until the close frame, which the client answers
		if _, _, err := bad.Read(ctx); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Errorf("closed with %v, want status 1008", err)
			}
			break
		}
	}
	if r := wait.Recv(t, "the connection's end", gone); r != ReasonParseError {
		t.Errorf("reason %q, want %q", r, ReasonParseError)
	}
	good := joinMain(t, url, nil)
	(<-sockets).Emit("m")
	if got := readN(t, good, 1)[0]; got != `42["m"]` {
		t.Errorf("got %q", got)
	}
}

// take waits for a value from ch.
func take[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	return wait.Recv(t, "a value", ch)
}

// startPlain serves srv on loopback, its connections plain TCP sockets.
func startPlain(t *testing.T, srv *Server) string { return serveOn(t, srv, nil) }
