//go:build js

package wasmclient

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/shared"
)

func testURL(t *testing.T) string {
	u := os.Getenv("TSUNAGI_TEST_URL")
	if u == "" {
		t.Fatal("TSUNAGI_TEST_URL is not set: this test is run by the native TestWasmClientUnderNode")
	}
	return u
}

// TestBrowserWSRaw dials the server's engine endpoint with browserWS (the
// default under js): the open packet, a ping answered, a read limit, and
// the close.
func TestBrowserWSRaw(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	u := strings.Replace(testURL(t), "http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
	c, err := dial(ctx, u, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*browserWS); !ok {
		t.Fatalf("dial returned %T, want *browserWS", c)
	}
	typ, msg, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageText || !bytes.HasPrefix(msg, []byte(`0{`)) {
		t.Fatalf("open packet: %v %q %v", typ, msg, err)
	}
	// The namespace's CONNECT, then its reply; with a limit below the
	// reply's size, the read fails and the connection closes.
	if err := c.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(4)
	if _, msg, err := c.Read(ctx); !errors.Is(err, websocket.ErrMessageTooBig) {
		t.Fatalf("read over the limit: %q, %v; want ErrMessageTooBig", msg, err)
	}
	if _, _, err := c.Read(ctx); err == nil {
		t.Fatal("read after the close succeeded")
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("3")); err == nil {
		t.Fatal("write after the close succeeded")
	}
}

// TestBrowserWSMessages sends and receives, through the client on
// browserWS, messages bigger than the helper's first buffers, text with
// multi-byte characters, binary, and many in flight at once, which arrive
// in batches: none lost, changed or reordered.
func TestBrowserWSMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	s, err := New(testURL(t), &Options{Transports: []string{TransportWebSocket}, NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	s.m.mu.Lock()
	e := s.m.eng
	s.m.mu.Unlock()
	if _, ok := e.ws.(*browserWS); !ok {
		t.Fatalf("the engine writes on %T, want *browserWS", e.ws)
	}

	echo := shared.NewRequest[string, string]("echo")
	reverse := shared.NewRequest[[]byte, []byte]("reverse")
	big := strings.Repeat("é日本😀x", 20000) // 200 KB of UTF-8, 4 widths
	if got, err := echo.Call(ctx, s, big); err != nil || got != big {
		t.Fatalf("echo of %d bytes: %d bytes back, %v", len(big), len(got), err)
	}
	bin := make([]byte, 100_000)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	got, err := reverse.Call(ctx, s, bin)
	if err != nil || len(got) != len(bin) {
		t.Fatalf("reverse: %d bytes, %v", len(got), err)
	}
	for i := range got {
		if got[i] != bin[len(bin)-1-i] {
			t.Fatalf("reverse: byte %d is %d", i, got[i])
		}
	}

	const n = 500
	type reply struct {
		i   int
		got string
		err error
	}
	replies := make(chan reply, n)
	for i := range n {
		go func() {
			want := strings.Repeat("ü", i)
			got, err := echo.Call(ctx, s, want)
			if err == nil && got != want {
				err = errors.New("a different reply")
			}
			replies <- reply{i, got, err}
		}()
	}
	for range n {
		select {
		case r := <-replies:
			if r.err != nil {
				t.Fatalf("echo %d: %v", r.i, r.err)
			}
		case <-ctx.Done():
			t.Fatal("replies missing")
		}
	}
}
