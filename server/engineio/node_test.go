package engineio

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
)

// TestOfficialClientUpgrade: the official engine.io-client on its default
// transports opens over polling, upgrades to WebSocket while 10,000
// messages flow each way, and every message crosses once, in order.
func TestOfficialClientUpgrade(t *testing.T) {
	const n = 10000
	eio := NewServer(nil)
	var mu sync.Mutex
	var got []string
	var transports []string
	eio.OnConnection(func(s *Session) {
		s.OnMessage(func(data []byte, binary bool) {
			mu.Lock()
			if binary {
				got = append(got, fmt.Sprintf("b%d", int(data[0])|int(data[1])<<8))
			} else {
				got = append(got, string(data))
			}
			mu.Unlock()
			_ = s.Send(append([]byte(nil), data...), binary)
		})
		s.OnClose(func(string) {
			mu.Lock()
			transports = append(transports, s.Transport())
			mu.Unlock()
		})
	})
	ts := httptest.NewServer(eio)
	defer ts.Close()
	defer eio.Close()

	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	p := testenv.RunNode(t, ctx, filepath.Join("testdata", "client_upgrade.js"), "URL="+ts.URL, fmt.Sprintf("N=%d", n))
	if err := p.Wait(); err != nil {
		t.Fatalf("client_upgrade.js: %v\n%s", err, p.Output())
	}
	out := strings.TrimSpace(p.Stdout())
	if !strings.HasPrefix(out, "done transport=websocket ") {
		t.Fatalf("client printed %q, want the upgrade done\n%s", out, p.Output())
	}
	t.Logf("%s (%s)", out, strings.ReplaceAll(strings.TrimSpace(p.Stderr()), "\n", "; "))
	wait.For(t, "session closed", func() bool { mu.Lock(); defer mu.Unlock(); return len(transports) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("server received %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		want := fmt.Sprintf("c%d", i)
		if i%10 == 0 {
			want = fmt.Sprintf("b%d", i)
		}
		if m != want {
			t.Fatalf("message %d is %q, want %q", i, m, want)
		}
	}
	if len(transports) != 1 || transports[0] != WebSocket {
		t.Fatalf("session closed on %v, want websocket", transports)
	}
}
