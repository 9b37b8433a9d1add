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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
	"github.com/tsunagi/tsunagi/wasmclient"
)

type News struct {
	Hello string `json:"hello"`
}

type MyData struct {
	My string `json:"my"`
}

var (
	newsEvent    = shared.NewEvent[News]("news")
	myOtherEvent = shared.NewEvent[MyData]("my other event")
	echo         = shared.NewRequest[string, string]("echo")
)

// logBuffer collects the server's log for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs srv on a loopback httptest server and returns its URL.
func start(t *testing.T, opts *server.Options) (*server.Server, string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if opts == nil {
		opts = &server.Options{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	srv := server.New(opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	})
	return srv, hs.URL, logs
}

func dial(t *testing.T, url string, opts *wasmclient.Options) *wasmclient.Socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	s, err := wasmclient.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	return wait.Recv(t, "a value", ch)
}

func TestTutorialDemo(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	got := make(chan MyData, 1)
	srv.OnConnection(func(s *server.Socket) {
		newsEvent.Emit(s, News{Hello: "world"})
		myOtherEvent.On(s, func(d MyData) { got <- d })
	})
	c, err := wasmclient.New(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	news := make(chan News, 1)
	newsEvent.On(c, func(n News) {
		news <- n
		myOtherEvent.Emit(c, MyData{My: "data"})
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	if n := recv(t, news); n.Hello != "world" {
		t.Errorf("news = %+v", n)
	}
	if d := recv(t, got); d.My != "data" {
		t.Errorf("my other event = %+v", d)
	}
}

func TestAcksBothWays(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	fromClient := make(chan string, 1)
	srv.OnConnection(func(s *server.Socket) {
		echo.Handle(s, func(in string) (string, error) {
			if in == "fail" {
				return "", errors.New("no thanks")
			}
			return in + "!", nil
		})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
			defer cancel()
			res, err := echo.Call(ctx, s, "from server")
			if err != nil {
				fromClient <- "error: " + err.Error()
				return
			}
			fromClient <- res
		}()
	})
	c, _ := wasmclient.New(url, nil)
	echo.Handle(c, func(in string) (string, error) { return strings.ToUpper(in), nil })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()

	res, err := echo.Call(ctx, c, "hi")
	if err != nil || res != "hi!" {
		t.Fatalf("Call = %q, %v", res, err)
	}
	_, err = echo.Call(ctx, c, "fail")
	var re *shared.RemoteError
	if !errors.As(err, &re) || re.Message != "no thanks" {
		t.Fatalf("Call(fail) err = %v, want RemoteError(no thanks)", err)
	}
	if got := recv(t, fromClient); got != "FROM SERVER" {
		t.Fatalf("server's call got %q", got)
	}
}

func TestAckTimeoutReleasesPending(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, &server.Options{AckTimeout: 200 * time.Millisecond})
	errs := make(chan error, 1)
	srv.OnConnection(func(s *server.Socket) {
		go func() {
			_, err := s.EmitWithAck(context.Background(), "never answered")
			errs <- err
		}()
	})
	c := dial(t, url, nil)
	c.On("never answered", func(shared.Args, shared.AckFunc) error { return nil })
	if err := recv(t, errs); !errors.Is(err, shared.ErrAckTimeout) {
		t.Fatalf("err = %v, want ErrAckTimeout", err)
	}
	// The client side: a deadline (wasmclient's TestAcksReleased checks that
	// its table of awaited acks is empty again). The 100 ms is the ack
	// timeout under test, not a wait.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.EmitWithAck(ctx, "nobody handles this"); !errors.Is(err, shared.ErrAckTimeout) {
		t.Fatalf("client err = %v", err)
	}
}

func TestPendingAcksReleasedOnDisconnect(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	srv.OnConnection(func(s *server.Socket) {
		s.On("bye", func(shared.Args, shared.AckFunc) error { s.Disconnect(true); return nil })
	})
	c := dial(t, url, nil)
	done := make(chan error, 1)
	go func() {
		_, err := c.EmitWithAck(context.Background(), "bye")
		done <- err
	}()
	if err := recv(t, done); !errors.Is(err, shared.ErrDisconnected) {
		t.Fatalf("err = %v, want ErrDisconnected", err)
	}
}

func TestBinaryBothWays(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	type file struct {
		Name string `json:"name"`
		Body []byte `json:"body"`
	}
	up := shared.NewEvent[file]("upload")
	down := shared.NewEvent[[]byte]("download")
	got := make(chan file, 1)
	srv.OnConnection(func(s *server.Socket) {
		up.On(s, func(f file) {
			got <- f
			down.Emit(s, append([]byte("re:"), f.Body...))
		})
	})
	c := dial(t, url, nil)
	back := make(chan []byte, 1)
	down.On(c, func(b []byte) { back <- b })
	if err := up.Emit(c, file{Name: "a.bin", Body: []byte{0, 1, 2, 255}}); err != nil {
		t.Fatal(err)
	}
	f := recv(t, got)
	if f.Name != "a.bin" || !bytes.Equal(f.Body, []byte{0, 1, 2, 255}) {
		t.Fatalf("server got %+v", f)
	}
	if b := recv(t, back); string(b) != "re:\x00\x01\x02\xff" {
		t.Fatalf("client got %q", b)
	}
}

// rawDial opens a bare WebSocket to the endpoint, for wire-level tests.
func rawDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func readText(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func writeText(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	if err := ws.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestWireFrames(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	srv.OnConnection(func(s *server.Socket) {
		newsEvent.Emit(s, News{Hello: "world"})
		s.On("echo", func(a shared.Args, ack shared.AckFunc) error {
			var v string
			a.Decode(0, &v)
			return ack(v)
		})
		s.On("bin", func(a shared.Args, ack shared.AckFunc) error {
			var b []byte
			a.Decode(0, &b)
			return ack(len(b), b)
		})
	})
	ws := rawDial(t, url)
	open := readText(t, ws)
	var o wire.OpenPacket
	if open[0] != '0' || json.Unmarshal([]byte(open[1:]), &o) != nil {
		t.Fatalf("open packet = %q", open)
	}
	if o.PingInterval != 25000 || o.PingTimeout != 20000 || o.MaxPayload != 1000000 || o.SID == "" {
		t.Fatalf("open = %+v", o)
	}
	writeText(t, ws, "40")
	conn := readText(t, ws)
	if !strings.HasPrefix(conn, `40{"sid":"`) {
		t.Fatalf("connect reply = %q", conn)
	}
	if got := readText(t, ws); got != `42["news",{"hello":"world"}]` {
		t.Fatalf("news frame = %q", got)
	}
	writeText(t, ws, `4212["echo","hi"]`)
	if got := readText(t, ws); got != `4312["hi"]` {
		t.Fatalf("ack frame = %q", got)
	}
	writeText(t, ws, `451-13["bin",{"_placeholder":true,"num":0}]`)
	if err := ws.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, ws); got != `461-13[3,{"_placeholder":true,"num":0}]` {
		t.Fatalf("binary ack frame = %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Fatalf("attachment = %v %v %v", typ, b, err)
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	_, url, _ := start(t, &server.Options{PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	// A client that answers pings stays connected: the server sends a
	// ping only once the last was answered in time, so five pings answered
	// prove four pongs in time (and span more than one pingInterval +
	// pingTimeout).
	c := dial(t, url, nil)
	pinged := make(chan struct{}, 16)
	c.Manager().OnPing(func() {
		select {
		case pinged <- struct{}{}:
		default:
		}
	})
	for range 5 {
		wait.Recv(t, "a ping answered", pinged)
	}
	if !c.Connected() {
		t.Fatal("a client answering pings was disconnected")
	}
	// A client that does not is closed after pingInterval + pingTimeout.
	ws := rawDial(t, url)
	readText(t, ws)
	writeText(t, ws, "40")
	readText(t, ws)
	if got := readText(t, ws); got != "2" {
		t.Fatalf("expected a ping, got %q", got)
	}
	// The 2 s is the guarantee under test, not a wait: far above the
	// configured 150 ms, far below the defaults' 45 s, so that a server
	// ignoring the options fails whatever $TSUNAGI_TEST_TIMEOUT_SCALE says.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("not closed after ping timeout")
			}
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("closed with %v", err)
			}
			return
		}
	}
}

func TestDisconnectReasons(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	reasons := make(chan string, 4)
	srv.OnConnection(func(s *server.Socket) {
		s.OnDisconnect(func(r string) { reasons <- "server:" + r })
		s.On("kick", func(shared.Args, shared.AckFunc) error { s.Disconnect(false); return nil })
	})
	c := dial(t, url, nil)
	c.OnDisconnect(func(r string) { reasons <- "client:" + r })
	c.Emit("kick")
	got := map[string]bool{recv(t, reasons): true, recv(t, reasons): true}
	if !got["server:"+server.ReasonServerDisconnect] || !got["client:"+wasmclient.ReasonServerDisconnect] {
		t.Fatalf("reasons = %v", got)
	}
	c2 := dial(t, url, nil)
	c2.Disconnect()
	if r := recv(t, reasons); r != "server:"+server.ReasonClientDisconnect {
		t.Fatalf("reason = %q", r)
	}
}

func TestHandshakeErrors(t *testing.T) {
	t.Parallel()
	_, url, _ := start(t, nil)
	for _, tc := range []struct {
		query, want string
	}{
		{"EIO=3&transport=polling", "Unsupported protocol version"},
		{"EIO=4&transport=websocket", "Bad request"}, // a GET without Upgrade
		{"EIO=4&transport=__proto__", "Transport unknown"},
		{"EIO=4", "Transport unknown"},
	} {
		resp, err := http.Get(url + "/socket.io/?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s", tc.query, resp.StatusCode, body)
		}
	}
}

func TestSecWebSocketAccept(t *testing.T) {
	t.Parallel()
	_, url, _ := start(t, nil)
	req, _ := http.NewRequest("GET", url+"/socket.io/?EIO=4&transport=websocket", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "bmxxAd1YiaYzLLnDb9pAEg==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "sk85MqSFg1CGhAYRlSvctpzSALA=" {
		t.Fatalf("Sec-WebSocket-Accept = %q", got)
	}
}

func TestCrossOrigin(t *testing.T) {
	t.Parallel()
	_, url, _ := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	h := http.Header{"Origin": {"http://evil.example"}}
	_, err := wasmclient.Dial(ctx, url, &wasmclient.Options{Header: h})
	if err == nil {
		t.Fatal("a cross-origin client was accepted")
	}
	_, url2, _ := start(t, &server.Options{OriginPatterns: []string{"good.example"}})
	c := dial(t, url2, &wasmclient.Options{Header: http.Header{"Origin": {"http://good.example"}}})
	if !c.Connected() {
		t.Fatal("allowed origin refused")
	}
}

// Handshake describes the HTTP request and the CONNECT, whenever it is asked.
func TestHandshakeFields(t *testing.T) {
	t.Parallel()
	srv, base, _ := start(t, nil)
	got := make(chan server.Handshake, 1)
	srv.OnConnection(func(s *server.Socket) { got <- s.Handshake() })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	before := time.Now()
	h := http.Header{"X-Test": {"yes", "a: b"}}
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket&room=a%20b", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	readText(t, ws)
	writeText(t, ws, `40{"token":"t"}`)
	hs := recv(t, got)
	if hs.URL != "/socket.io/?EIO=4&transport=websocket&room=a%20b" {
		t.Errorf("URL %q", hs.URL)
	}
	if hs.Query.Get("room") != "a b" || hs.Query.Get("EIO") != "4" {
		t.Errorf("Query %v", hs.Query)
	}
	if got := hs.Headers["X-Test"]; len(got) != 2 || got[0] != "yes" || got[1] != "a: b" || hs.Headers.Get("Upgrade") != "websocket" {
		t.Errorf("Headers %v", hs.Headers)
	}
	if string(hs.Auth) != `{"token":"t"}` {
		t.Errorf("Auth %s", hs.Auth)
	}
	if !strings.HasPrefix(hs.Address, "127.0.0.1:") {
		t.Errorf("Address %q", hs.Address)
	}
	if hs.Time.Before(before) || time.Since(hs.Time) > time.Minute {
		t.Errorf("Time %v, connected after %v", hs.Time, before)
	}
}
