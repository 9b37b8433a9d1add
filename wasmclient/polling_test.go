//go:build !js

package wasmclient_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// startNodePolling runs testdata/polling_server.js (the official socket.io
// server) with the given transports and returns its URL.
func startNodePolling(t *testing.T, transports string, env ...string) string {
	t.Helper()
	url, _ := startNodePollingProcess(t, transports, env...)
	return url
}

func startNodePollingProcess(t *testing.T, transports string, env ...string) (string, *testenv.Process) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p := testenv.RunNode(t, ctx, filepath.Join("testdata", "polling_server.js"), append(env, "TRANSPORTS="+transports)...)
	m := p.WaitOutput(t, wait.Deadline(), `listening (\d+)`)
	return "http://127.0.0.1:" + m[1], p
}

func ackValues(t *testing.T, a shared.Args) []any {
	t.Helper()
	v, err := a.Values()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// exercise checks one connected socket: acks both ways, binary both ways.
func exercise(t *testing.T, ctx context.Context, s *wasmclient.Socket, binBack <-chan shared.Args) {
	t.Helper()
	res, err := s.EmitWithAck(ctx, "echo", 1, "two", map[string]any{"three": 3})
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	if got := ackValues(t, res); len(got) != 3 || got[0] != 1.0 || got[1] != "two" {
		t.Fatalf("echo = %v", got)
	}
	res, err = s.EmitWithAck(ctx, "ask")
	if err != nil {
		t.Fatalf("ask: %v", err)
	}
	if got := ackValues(t, res); len(got) != 1 || got[0] != 40.0 {
		t.Fatalf("the server's ack got %v, want [40]", got)
	}
	res, err = s.EmitWithAck(ctx, "bin", []byte{1, 2, 3, 0xff})
	if err != nil {
		t.Fatalf("bin: %v", err)
	}
	var b []byte
	if err := res.Decode(0, &b); err != nil || !bytes.Equal(b, []byte{0xff, 3, 2, 1}) {
		t.Fatalf("bin ack = %v (%v)", b, err)
	}
	a := wait.Recv(t, "bin-back", binBack)
	var obj struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	}
	if err := a.Decode(0, &b); err != nil || !bytes.Equal(b, []byte{0xff, 3, 2, 1}) {
		t.Fatalf("bin-back[0] = %v (%v)", b, err)
	}
	if err := a.Decode(1, &obj); err != nil || obj.Name != "x" || !bytes.Equal(obj.Data, []byte{7, 8}) {
		t.Fatalf("bin-back[1] = %+v (%v)", obj, err)
	}
}

func handlers(s *wasmclient.Socket) (hello, binBack chan shared.Args) {
	hello = make(chan shared.Args, 4)
	binBack = make(chan shared.Args, 4)
	s.On("hello", func(a shared.Args, _ shared.AckFunc) error { hello <- a; return nil })
	s.On("bin-back", func(a shared.Args, _ shared.AckFunc) error { binBack <- a; return nil })
	s.On("question", func(a shared.Args, ack shared.AckFunc) error {
		var n int
		if err := a.Decode(0, &n); err != nil {
			return err
		}
		return ack(2 * n)
	})
	return hello, binBack
}

// TestNodeServerTransports: our client against the official socket.io
// server restricted to one transport: connect, acks and binary both ways,
// and a reconnection after the server drops the connection.
func TestNodeServerTransports(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{wasmclient.TransportPolling, wasmclient.TransportWebSocket} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			url := startNodePolling(t, transport, "COOKIE=1")
			ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
			defer cancel()
			s, err := wasmclient.New(url, &wasmclient.Options{
				Transports:        []string{transport},
				Header:            http.Header{"X-Token": {"t1"}},
				ReconnectionDelay: time.Millisecond, ReconnectionDelayMax: 10 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Disconnect()
			hello, binBack := handlers(s)
			reconnected := make(chan int, 1)
			s.Manager().OnReconnect(func(n int) { reconnected <- n })
			if err := s.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if got := s.Manager().Transport(); got != transport {
				t.Fatalf("Transport() = %q, want %q", got, transport)
			}
			h := ackValues(t, wait.Recv(t, "hello", hello))
			if h[0] != transport || h[1] != "t1" {
				t.Fatalf("the server saw transport %v and x-token %v, want %s and t1", h[0], h[1], transport)
			}
			exercise(t, ctx, s, binBack)
			if transport == wasmclient.TransportPolling {
				// The io cookie of the handshake comes back with the session's requests.
				res, err := s.EmitWithAck(ctx, "cookie")
				if err != nil {
					t.Fatal(err)
				}
				if c, _ := ackValues(t, res)[0].(string); !strings.Contains(c, "io=") {
					t.Fatalf("the session's requests carried cookie %q, want the io cookie", c)
				}
			}

			if err := s.Emit("drop"); err != nil {
				t.Fatal(err)
			}
			wait.Recv(t, "reconnect", reconnected)
			wait.Recv(t, "hello after the reconnection", hello)
			if got := s.Manager().Transport(); got != transport {
				t.Fatalf("after the reconnection Transport() = %q, want %q", got, transport)
			}
			exercise(t, ctx, s, binBack)
		})
	}
}

// TestDefaultTransportsFallBackToPolling: with the default transports, a
// server that refuses WebSocket is reached over polling.
func TestDefaultTransportsFallBackToPolling(t *testing.T) {
	t.Parallel()
	url := startNodePolling(t, "polling")
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	s, err := wasmclient.New(url, &wasmclient.Options{NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	hello, binBack := handlers(s)
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Manager().Transport(); got != wasmclient.TransportPolling {
		t.Fatalf("Transport() = %q, want polling", got)
	}
	if h := ackValues(t, wait.Recv(t, "hello", hello)); h[0] != "polling" {
		t.Fatalf("the server saw transport %v", h[0])
	}
	exercise(t, ctx, s, binBack)
}

// TestPollingHeartbeatAndClose: over polling the client answers the
// server's pings (the connection outlives many pingInterval+pingTimeout),
// and Disconnect posts the close packet: the server's Engine.IO socket
// closes with "transport close", not with the error of an aborted poll.
func TestPollingHeartbeatAndClose(t *testing.T) {
	t.Parallel()
	url, p := startNodePollingProcess(t, "polling", "PING_INTERVAL=50", "PING_TIMEOUT=400")
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	s, err := wasmclient.New(url, &wasmclient.Options{Transports: []string{"polling"}, NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	pings := make(chan struct{}, 100)
	s.Manager().OnPing(func() {
		select {
		case pings <- struct{}{}:
		default:
		}
	})
	closed := make(chan string, 1)
	s.Manager().OnClose(func(r string) { closed <- r })
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	for range 20 { // 20 pings: 1 s of pingInterval, more than twice pingInterval+pingTimeout
		wait.Recv(t, "a ping", pings)
	}
	if _, err := s.EmitWithAck(ctx, "echo", 1); err != nil {
		t.Fatalf("echo after 20 pings: %v", err)
	}
	select {
	case r := <-closed:
		t.Fatalf("the connection closed: %s", r)
	default:
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	p.WaitOutput(t, wait.Deadline(), `conn close transport close`)
}

// TestRememberUpgrade: after an upgrade, a Manager with RememberUpgrade
// opens its next connection over WebSocket at once.
func TestRememberUpgrade(t *testing.T) {
	t.Parallel()
	url := startNodePolling(t, "polling,websocket")
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	s, err := wasmclient.New(url, &wasmclient.Options{
		Transports: []string{"polling", "websocket"}, RememberUpgrade: true,
		ReconnectionDelay: time.Millisecond, ReconnectionDelayMax: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	hello, _ := handlers(s)
	upgraded := make(chan string, 1)
	s.Manager().OnUpgrade(func(tr string) { upgraded <- tr })
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if h := ackValues(t, wait.Recv(t, "hello", hello)); h[0] != "polling" {
		t.Fatalf("the first connection opened over %v, want polling", h[0])
	}
	wait.Recv(t, "the upgrade", upgraded)
	if err := s.Emit("drop"); err != nil {
		t.Fatal(err)
	}
	if h := ackValues(t, wait.Recv(t, "hello after the reconnection", hello)); h[0] != "websocket" {
		t.Fatalf("the next connection opened over %v, want websocket", h[0])
	}
}

// TestUpgradeUnderLoad: a connection opened over polling upgrades to
// WebSocket while 10,000 events flow each way; none is lost, doubled or
// reordered, and the transport is WebSocket after.
func TestUpgradeUnderLoad(t *testing.T) {
	t.Parallel()
	upgradeUnderLoad(t, startNodePolling(t, "polling,websocket"))
}

// upgradeUnderLoad runs TestUpgradeUnderLoad against the server at url,
// which speaks testdata/polling_server.js's events.
func upgradeUnderLoad(t *testing.T, url string) {
	const n, batch = 10000, 100
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	m, err := wasmclient.NewManager(url, &wasmclient.Options{
		Transports: []string{"polling", "websocket"}, NoReconnection: true,
		OnError: func(err error) { t.Errorf("OnError: %v", err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.OnClose(func(reason string) {
		if reason != wasmclient.ReasonClientDisconnect {
			t.Errorf("the connection closed: %s", reason)
		}
	})
	// The upgrade starts once a third of the events went each way.
	upFlowing, downFlowing := make(chan struct{}), make(chan struct{})
	wasmclient.SetUpgradeGate(m, func() {
		timer := time.NewTimer(wait.Deadline())
		defer timer.Stop()
		for _, ch := range []chan struct{}{upFlowing, downFlowing} {
			select {
			case <-ch:
			case <-timer.C:
				return
			}
		}
	})
	var upgradedAt atomic.Int64 // downs seen when the upgrade ended
	upgraded := make(chan string, 1)
	s := m.Socket("/")
	var mu sync.Mutex
	var downs []int
	m.OnUpgrade(func(tr string) {
		mu.Lock()
		upgradedAt.Store(int64(len(downs)))
		mu.Unlock()
		upgraded <- tr
	})
	s.On("down", func(a shared.Args, _ shared.AckFunc) error {
		var i int
		if err := a.Decode(0, &i); err != nil {
			return err
		}
		mu.Lock()
		downs = append(downs, i)
		if len(downs) == n/3 {
			close(downFlowing)
		}
		mu.Unlock()
		return nil
	})
	s.On("down-batch", func(_ shared.Args, ack shared.AckFunc) error { return ack() })
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Transport(); got != wasmclient.TransportPolling {
		t.Fatalf("Transport() = %q before the upgrade, want polling", got)
	}
	if err := s.Emit("flood", n); err != nil {
		t.Fatal(err)
	}
	var upsAtUpgrade int
	for b := range n / batch {
		for i := b * batch; i < (b+1)*batch; i++ {
			if err := s.Emit("up", i); err != nil {
				t.Fatal(err)
			}
		}
		if b == n/batch/3 {
			close(upFlowing)
		}
		if _, err := s.EmitWithAck(ctx, "up-count"); err != nil { // paces the sender by round trips
			t.Fatal(err)
		}
		if upsAtUpgrade == 0 && len(upgraded) > 0 {
			upsAtUpgrade = (b + 1) * batch
		}
	}
	if tr := wait.Recv(t, "the upgrade", upgraded); tr != wasmclient.TransportWebSocket {
		t.Fatalf("upgraded to %q", tr)
	}
	if got := m.Transport(); got != wasmclient.TransportWebSocket {
		t.Fatalf("Transport() = %q after the upgrade, want websocket", got)
	}
	res, err := s.EmitWithAck(ctx, "up-count")
	if err != nil {
		t.Fatal(err)
	}
	if got := ackValues(t, res); got[0] != float64(n) || got[1] != 0.0 {
		t.Fatalf("the server saw next=%v, out of order=%v; want %d, 0", got[0], got[1], n)
	}
	res, err = s.EmitWithAck(ctx, "transport")
	if err != nil {
		t.Fatal(err)
	}
	if got := ackValues(t, res); got[0] != "websocket" {
		t.Fatalf("the server's transport is %v after the upgrade", got[0])
	}
	wait.For(t, "10,000 events from the server", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(downs) >= n
	})
	mu.Lock()
	defer mu.Unlock()
	for i, d := range downs {
		if d != i {
			t.Fatalf("event %d from the server is %d (of %d received)", i, d, len(downs))
		}
	}
	if len(downs) != n {
		t.Fatalf("%d events from the server, want %d", len(downs), n)
	}
	t.Logf("the upgrade ended after %d of %d events down and before %d of %d up", upgradedAt.Load(), n, upsAtUpgrade, n)
}

// fakePolling is an Engine.IO polling server that answers the handshake
// and the Socket.IO CONNECT, then sends bad for the next GET.
type fakePolling struct {
	handshake  func(w http.ResponseWriter) // nil: a good open packet
	bad        func(w http.ResponseWriter)
	refusePost bool // refuse the POSTs after the CONNECT
	mu         sync.Mutex
	gets       int
	connected  chan struct{}
	once       sync.Once
}

func (f *fakePolling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("transport") != "polling" {
		http.Error(w, `{"code":0,"message":"Transport unknown"}`, http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("sid") == "" {
		if f.handshake != nil {
			f.handshake(w)
			return
		}
		w.Write([]byte(`0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
		return
	}
	if r.Method == http.MethodPost {
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		if bytes.HasPrefix(buf.Bytes(), []byte("40")) {
			f.once.Do(func() { close(f.connected) })
		} else if f.refusePost {
			http.Error(w, `{"code":3,"message":"Bad request"}`, http.StatusBadRequest)
			return
		}
		w.Write([]byte("ok"))
		return
	}
	f.mu.Lock()
	f.gets++
	n := f.gets
	f.mu.Unlock()
	switch n {
	case 1:
		select {
		case <-f.connected:
			w.Write([]byte(`40{"sid":"abc"}`))
		case <-r.Context().Done():
		}
	case 2:
		f.bad(w)
	default:
		<-r.Context().Done()
	}
}

// TestPollingBadServerInput: what a broken server sends over polling ends
// the connection (or the attempt) with an error that says what was wrong;
// nothing panics, and TestMain finds no goroutine left.
func TestPollingBadServerInput(t *testing.T) {
	t.Parallel()
	body := func(s string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) { w.Write([]byte(s)) }
	}
	status := func(code int, s string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) { http.Error(w, s, code) }
	}
	t.Run("handshake", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name      string
			handshake func(http.ResponseWriter)
			want      string
		}{
			{"status", status(http.StatusForbidden, `{"code":4,"message":"Forbidden"}`), "HTTP 403"},
			{"not an open packet", body("4hello"), "expected the open packet"},
			{"bad open packet", body("0{nope"), "invalid open packet"},
			{"empty", body(""), "expected the open packet"},
		} {
			hs := httptest.NewServer(&fakePolling{handshake: c.handshake, connected: make(chan struct{})})
			ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
			_, err := wasmclient.Dial(ctx, hs.URL, &wasmclient.Options{Transports: []string{"polling"}, NoReconnection: true})
			cancel()
			hs.Close()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: Dial err = %v, want one that says %q", c.name, err, c.want)
			}
			if c.name == "status" {
				var se *wasmclient.StatusError
				if !errors.As(err, &se) || se.Status != http.StatusForbidden || !strings.Contains(se.Body, "Forbidden") {
					t.Errorf("status: err = %#v, want a *StatusError 403 with the body", err)
				}
			}
		}
	})
	for _, c := range []struct {
		name       string
		bad        func(http.ResponseWriter)
		reason     string
		wantReport string // in an error given to OnError; "" for none
	}{
		{"bad base64", body("2\x1ebnot*base64"), wasmclient.ReasonParseError, "invalid base64"},
		{"empty record", body("2\x1e\x1e2"), wasmclient.ReasonParseError, "empty packet"},
		{"unknown packet type", body("9x"), wasmclient.ReasonParseError, ""},
		{"bad socket.io packet", body(`4{]`), wasmclient.ReasonParseError, "invalid packet"},
		{"status", status(http.StatusBadRequest, `{"code":1,"message":"Session ID unknown"}`), wasmclient.ReasonTransportError, ""},
		{"close packet", body("1"), wasmclient.ReasonTransportClose, ""},
		{"POST refused", body("2"), wasmclient.ReasonTransportError, ""}, // the pong's POST gets 400
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			hs := httptest.NewServer(&fakePolling{bad: c.bad, refusePost: c.name == "POST refused", connected: make(chan struct{})})
			defer hs.Close()
			var mu sync.Mutex
			var reports []string
			s, err := wasmclient.New(hs.URL, &wasmclient.Options{
				Transports: []string{"polling"}, NoReconnection: true,
				OnError: func(err error) { mu.Lock(); reports = append(reports, err.Error()); mu.Unlock() },
			})
			if err != nil {
				t.Fatal(err)
			}
			reason := make(chan string, 1)
			s.OnDisconnect(func(r string) { reason <- r })
			ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
			defer cancel()
			if err := s.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if got := wait.Recv(t, "the disconnection", reason); got != c.reason {
				t.Errorf("disconnect reason %q, want %q", got, c.reason)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.wantReport != "" && !slices.ContainsFunc(reports, func(r string) bool { return strings.Contains(r, c.wantReport) }) {
				t.Errorf("OnError got %q, want an error that says %q", reports, c.wantReport)
			}
		})
	}
}
