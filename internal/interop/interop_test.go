//go:build !js

// Package interop tests tsunagi against the official Socket.IO packages
// from npm, run by Node.js.
package interop

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tsunagi/tsunagi/internal/leak"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

func TestMain(m *testing.M) {
	testenv.Require(testenv.NeedNode, testenv.NeedNodeModules)
	leak.VerifyTestMain(m)
}

type News struct {
	Hello string `json:"hello"`
}

var (
	newsEvent = shared.NewEvent[News]("news")
	echo      = shared.NewRequest[string, string]("echo")
)

// startServer runs a tsunagi server at /socket.io/ on a loopback httptest
// server and returns the server and its base URL. opts may be nil; its
// Logger is replaced by one writing to the test log.
func startServer(t *testing.T, opts *server.Options) (*server.Server, string) {
	t.Helper()
	logs := &testWriter{t: t}
	o := server.Options{}
	if opts != nil {
		o = *opts
	}
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	srv := server.New(&o)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	hs := httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
		logs.close()
	})
	return srv, hs.URL
}

// testWriter sends the server's log to the test log until the test's
// cleanup closes it (t.Log after the test has ended panics).
type testWriter struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

// TestOfficialClient: the official socket.io-client (Node), on each of
// clientTransports, receives "news", sends "my other event", and gets the
// ack of "echo".
func TestOfficialClient(t *testing.T) {
	for _, tr := range clientTransports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			testOfficialClient(t, tr)
		})
	}
}

func testOfficialClient(t *testing.T, transports string) {
	srv, url := startServer(t, nil)
	got := make(chan string, 1)
	srv.OnConnection(func(s *server.Socket) {
		s.On("my other event", func(args shared.Args, _ shared.AckFunc) error {
			select {
			case got <- string(args.Raw(0)):
			default:
			}
			return nil
		})
		echo.Handle(s, func(in string) (string, error) { return in, nil })
		if err := newsEvent.Emit(s, News{Hello: "world"}); err != nil {
			t.Errorf("emit news: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	p := testenv.RunNode(t, ctx, filepath.Join("testdata", "client_basic.js"), "URL="+url, "TRANSPORTS="+transports)
	if err := p.Wait(); err != nil {
		t.Fatalf("client_basic.js: %v\nstdout:\n%s\nstderr:\n%s", err, p.Stdout(), p.Stderr())
	}

	lines := strings.Split(strings.TrimSpace(p.Stdout()), "\n")
	want := []string{`news {"hello":"world"}`, `ack ["hi"]`}
	if len(lines) != len(want) {
		t.Fatalf("client printed %q, want %q", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("client line %d = %q, want %q", i, lines[i], want[i])
		}
	}

	raw := wait.Recv(t, `"my other event" at the server`, got)
	var v map[string]any
	if err := json.Unmarshal([]byte(raw), &v); err != nil || len(v) != 1 || v["my"] != "data" {
		t.Errorf(`server got "my other event" %s, want {"my":"data"}`, raw)
	}
}
