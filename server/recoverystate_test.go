package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestRecoveryAcrossRestart: server A, with recovery on and
// TSUNAGI_RECOVERY_FILE set, writes its recovery state at the end of
// Shutdown; server B, a new one at the same URL, reads it in New. The
// client, in a room before the restart, reconnects to B by itself and is
// recovered: its id, its room (B emits to it, the client never joins it
// again), and the events emitted to the room while it was away, each once.
// Not parallel: it sets the environment.
func TestRecoveryAcrossRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "recovery.json")
	t.Setenv(server.EnvRecoveryFile, file)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := &server.Options{Logger: quiet, Recovery: server.RecoveryOptions{MaxDisconnectionDuration: time.Minute}}
	seq := shared.NewEvent[int]("seq")

	recovered := make(chan bool, 4)
	onConn := func(s *server.Socket) {
		if !s.Recovered() {
			s.Join("numbers")
		}
		recovered <- s.Recovered()
	}
	a := server.New(opts)
	a.OnConnection(onConn)
	var cur atomic.Pointer[server.Server]
	cur.Store(a)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cur.Load().ServeHTTP(w, r) }))
	defer hs.Close()

	var (
		mu  sync.Mutex
		got []int
	)
	received := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), got...)
	}
	c, err := wasmclient.New(hs.URL, &wasmclient.Options{ReconnectionDelay: 20 * time.Millisecond, ReconnectionDelayMax: 100 * time.Millisecond, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	seq.On(c, func(n int) {
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	})
	connects := make(chan struct{}, 4)
	c.OnConnect(func() { connects <- struct{}{} })
	reasons := make(chan string, 4)
	c.OnDisconnect(func(r string) { reasons <- r })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	wait.Recv(t, "the first connect", connects)
	if r := wait.Recv(t, "A's connection handler", recovered); r {
		t.Fatal("a first connection cannot be recovered")
	}
	firstID := c.ID()
	for i := 1; i <= 3; i++ {
		if err := seq.Emit(a.To("numbers"), i); err != nil {
			t.Fatal(err)
		}
	}
	wait.For(t, "1, 2, 3 at the client", func() bool { return len(received()) == 3 })

	// The restart: A disconnects the client ("server shutting down"), and
	// answers 503 until B takes over.
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wait.Recv(t, "the client seeing the shutdown", reasons)
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("A's Shutdown wrote no recovery file: %v", err)
	}
	b := server.New(opts)
	defer b.Shutdown(context.Background())
	b.OnConnection(onConn)
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("B's New left the recovery file (%v), want it read and removed", err)
	}
	// Emitted by B while the client is away: it gets them from B's store.
	for i := 4; i <= 5; i++ {
		if err := seq.Emit(b.To("numbers"), i); err != nil {
			t.Fatal(err)
		}
	}
	cur.Store(b)
	wait.Recv(t, "the reconnection to B", connects)
	if r := wait.Recv(t, "B's connection handler", recovered); !r {
		t.Fatal("B's socket is not recovered")
	}
	if !c.Recovered() || c.ID() != firstID {
		t.Fatalf("after the restart: recovered=%v id=%q, want true and %q", c.Recovered(), c.ID(), firstID)
	}
	// In the room still: B's live broadcast reaches it without a join.
	if err := seq.Emit(b.To("numbers"), 6); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "6 events at the client", func() bool { return len(received()) >= 6 })
	if g := received(); len(g) != 6 || g[0] != 1 || g[1] != 2 || g[2] != 3 || g[3] != 4 || g[4] != 5 || g[5] != 6 {
		t.Fatalf("events across the restart: %v, want [1 2 3 4 5 6]", g)
	}
}

// TestRecoverySaveRestoreRoundTrip: what SaveRecovery writes,
// RestoreRecovery reads back as it was, for a namespace created after the
// restore too; with recovery off both refuse.
func TestRecoverySaveRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := &server.Options{Logger: quiet, Recovery: server.RecoveryOptions{MaxDisconnectionDuration: time.Minute}}
	a := server.New(opts)
	defer a.Shutdown(context.Background())
	if err := a.Of("/chat").Emit("x", 1); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := a.SaveRecovery(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"name":"/chat"`) || !strings.Contains(buf.String(), `"version":1`) {
		t.Fatalf("saved state without /chat or its version: %s", buf.String())
	}
	b := server.New(opts)
	defer b.Shutdown(context.Background())
	if err := b.RestoreRecovery(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	b.Of("/chat") // created after the restore: it gets its state then
	var again bytes.Buffer
	if err := b.SaveRecovery(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != buf.String() {
		t.Fatalf("restored then saved:\n%s\nwant what was saved:\n%s", again.String(), buf.String())
	}
	off := server.New(&server.Options{Logger: quiet})
	defer off.Shutdown(context.Background())
	if err := off.RestoreRecovery(bytes.NewReader(buf.Bytes())); !errors.Is(err, server.ErrRecoveryOff) {
		t.Fatalf("RestoreRecovery with recovery off: %v, want ErrRecoveryOff", err)
	}
}

// TestRecoveryRestoreBadInput: a corrupt, truncated or hostile state is a
// clear error, never a panic, and restores nothing; expired entries are
// dropped.
func TestRecoveryRestoreBadInput(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := &server.Options{Logger: quiet, Recovery: server.RecoveryOptions{MaxDisconnectionDuration: time.Minute}}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	old := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	good := `{"version":1,"namespaces":[{"name":"/","prefix":"abc","seq":2,"packets":[{"offset":"abc-1","at":"` + now + `","text":"42[\"x\",\"abc-1\"]"},{"offset":"abc-2","at":"` + now + `","text":"42[\"x\",\"abc-2\"]"}],"sessions":[{"id":"i","pid":"p","rooms":["r"],"at":"` + now + `"}]}]}`
	s := server.New(opts)
	defer s.Shutdown(context.Background())
	if err := s.RestoreRecovery(strings.NewReader(good)); err != nil {
		t.Fatalf("a good state: %v", err)
	}
	cases := []struct{ name, in, want string }{
		{"empty", ``, "not a saved state"},
		{"truncated", good[:len(good)/2], "not a saved state"},
		{"not json", "\x00\xff garbage", "not a saved state"},
		{"wrong version", `{"version":2,"namespaces":[]}`, "version 2"},
		{"no version", `{"namespaces":[]}`, "version 0"},
		{"huge seq", `{"version":1,"namespaces":[{"name":"/","prefix":"a","seq":1e400}]}`, "not a saved state"},
		{"huge version", `{"version":99999999999999999999999,"namespaces":[]}`, "not a saved state"},
		{"wrong types", `{"version":1,"namespaces":{"name":"/"}}`, "not a saved state"},
		{"bad name", `{"version":1,"namespaces":[{"name":"chat","prefix":"a"}]}`, "starts with /"},
		{"twice", `{"version":1,"namespaces":[{"name":"/","prefix":"a"},{"name":"/","prefix":"a"}]}`, "named twice"},
		{"no prefix", `{"version":1,"namespaces":[{"name":"/"}]}`, "offset prefix"},
		{"offset past seq", `{"version":1,"namespaces":[{"name":"/","prefix":"a","seq":1,"packets":[{"offset":"a-2","at":"` + now + `","text":"42[]"}]}]}`, "does not follow"},
		{"offsets out of order", `{"version":1,"namespaces":[{"name":"/","prefix":"a","seq":9,"packets":[{"offset":"a-2","at":"` + now + `","text":"42[]"},{"offset":"a-1","at":"` + now + `","text":"42[]"}]}]}`, "does not follow"},
		{"foreign offset", `{"version":1,"namespaces":[{"name":"/","prefix":"a","seq":9,"packets":[{"offset":"b-1","at":"` + now + `","text":"42[]"}]}]}`, "does not follow"},
		{"no message", `{"version":1,"namespaces":[{"name":"/","prefix":"a","seq":9,"packets":[{"offset":"a-1","at":"` + now + `"}]}]}`, "no message"},
		{"session without pid", `{"version":1,"namespaces":[{"name":"/","prefix":"a","sessions":[{"id":"i","at":"` + now + `"}]}]}`, "private id"},
		{"session twice", `{"version":1,"namespaces":[{"name":"/","prefix":"a","sessions":[{"id":"i","pid":"p","at":"` + now + `"},{"id":"j","pid":"p","at":"` + now + `"}]}]}`, "twice"},
		{"trailing data", good + `{}`, "more data"},
	}
	for _, tc := range cases {
		err := s.RestoreRecovery(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: RestoreRecovery = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	// The good state is still the one restored.
	var buf bytes.Buffer
	if err := s.SaveRecovery(&buf); err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Namespaces []struct {
			Name     string
			Packets  []json.RawMessage
			Sessions []json.RawMessage
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &saved); err != nil || len(saved.Namespaces) != 1 || len(saved.Namespaces[0].Packets) != 2 || len(saved.Namespaces[0].Sessions) != 1 {
		t.Fatalf("after bad inputs the state is %s (%v), want the good one", buf.String(), err)
	}

	// Entries older than MaxDisconnectionDuration are dropped.
	expired := `{"version":1,"namespaces":[{"name":"/","prefix":"abc","seq":2,"packets":[{"offset":"abc-1","at":"` + old + `","text":"42[]"},{"offset":"abc-2","at":"` + now + `","text":"42[]"}],"sessions":[{"id":"i","pid":"p","at":"` + old + `"}]}]}`
	if err := s.RestoreRecovery(strings.NewReader(expired)); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := s.SaveRecovery(&buf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &saved); err != nil || len(saved.Namespaces[0].Packets) != 1 || len(saved.Namespaces[0].Sessions) != 0 {
		t.Fatalf("expired entries kept: %s (%v)", buf.String(), err)
	}
}

// TestRecoveryFileCorrupt: a recovery file that does not restore is logged,
// removed, and the server starts without it.
func TestRecoveryFileCorrupt(t *testing.T) {
	file := filepath.Join(t.TempDir(), "recovery.json")
	if err := os.WriteFile(file, []byte(`{"version":1,"namespa`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(server.EnvRecoveryFile, file)
	var logs bytes.Buffer
	var lmu sync.Mutex
	lw := writerFunc(func(p []byte) (int, error) { lmu.Lock(); defer lmu.Unlock(); return logs.Write(p) })
	s := server.New(&server.Options{Logger: slog.New(slog.NewTextHandler(lw, nil)), Recovery: server.RecoveryOptions{MaxDisconnectionDuration: time.Minute}})
	defer s.Shutdown(context.Background())
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the corrupt file is still there (%v)", err)
	}
	lmu.Lock()
	defer lmu.Unlock()
	if !strings.Contains(logs.String(), "recovery state not restored") {
		t.Fatalf("no log line for the corrupt file: %q", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
