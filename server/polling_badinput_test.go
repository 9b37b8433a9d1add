package server

// Bad input over polling (issue 13): each gets a clear error (a status, an
// Engine.IO error body where engine.io gives one, and a line in the
// server's log), closes only its own session, and leaves nothing behind;
// a polling client and a WebSocket client on the same server go on.

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server/engineio"
)

// healthy checks that the well-behaved clients are still served.
func (e *pollEnv) healthy(t *testing.T, p *poller, ws *websocket.Conn, after string) {
	t.Helper()
	p.echo(t, "polling, after "+after)
	e.wsEcho(t, ws, "websocket, after "+after)
}

// gone checks that the session of sid has left the server: a GET for it
// gets code 1.
func (e *pollEnv) gone(t *testing.T, sid string) {
	t.Helper()
	resp, body := e.must(t, http.MethodGet, "sid="+sid, "", nil)
	engineErr(t, resp, body, http.StatusBadRequest, engineio.CodeUnknownSID, "Session ID unknown")
}

func TestPollingBadInput(t *testing.T) {
	t.Parallel()
	e := startPolling(t, Options{MaxPayload: 10_000, PostTimeout: 3 * time.Second})
	good := e.handshake(t)
	good.join(t)
	ws := e.joinWebSocket(t)
	e.waitSessions(t, 1, 2)

	for _, tc := range []struct {
		name   string
		body   string
		status int
		log    []string // words of one line of the server's log
	}{
		{"malformed payload", "6\x1e\x1e4b", http.StatusBadRequest, []string{"status=400", "parser error"}},
		{"empty payload", "", http.StatusBadRequest, []string{"status=400", "parser error"}},
		{"unknown engine.io packet type", "9", http.StatusBadRequest, []string{"status=400", "parser error"}},
		{"bad base64", "b@@@", http.StatusBadRequest, []string{"status=400", "parser error"}},
		{"ping from the client", "2", http.StatusBadRequest, []string{"status=400", "invalid heartbeat direction"}},
		{"unknown socket.io packet type", "49[]", http.StatusOK, []string{"closing connection after bad input", "unknown packet type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.handshake(t)
			p.join(t)
			status, body := p.post(t, tc.body)
			if status != tc.status {
				t.Errorf("POST %q: %d %q, want %d", tc.body, status, body, tc.status)
			}
			e.logs.waitFor(t, append([]string{"sid=" + p.sid}, tc.log...)...)
			if tc.status == http.StatusOK {
				// Accepted by Engine.IO, refused by Socket.IO: the session
				// is closed by the server, and the next GET gets the close
				// packet.
				if rec := p.until(t, "1"); rec != "1" {
					t.Errorf("closing GET: %q", rec)
				}
			}
			e.gone(t, p.sid)
			e.healthy(t, good, ws, tc.name)
			e.waitSessions(t, 1, 2)
		})
	}

	t.Run("body over MaxPayload", func(t *testing.T) {
		p := e.handshake(t)
		p.join(t)
		status, body := p.post(t, "4"+strings.Repeat("a", 10_000))
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("POST over MaxPayload: %d %q, want 413", status, body)
		}
		e.logs.waitFor(t, "sid="+p.sid, "status=413", "maxHttpBufferSize")
		// As in engine.io, the session stays: the client closes it (or it
		// times out). A GET sent before the close packet may come after
		// it: the first one gets a noop.
		p.echo(t, "after 413")
		p.post(t, "1")
		if status, body := p.get(t); status != http.StatusOK || body != "6" {
			t.Errorf("GET after the close packet: %d %q, want the noop", status, body)
		}
		e.gone(t, p.sid)
		e.healthy(t, good, ws, "413")
		e.waitSessions(t, 1, 2)
	})

	t.Run("POST with no sid", func(t *testing.T) {
		resp, body := e.must(t, http.MethodPost, "", "40", nil)
		engineErr(t, resp, body, http.StatusBadRequest, engineio.CodeBadHandshake, "Bad handshake method")
		e.logs.waitFor(t, "request refused", "code=2", "method=POST")
		e.healthy(t, good, ws, "no sid")
		e.waitSessions(t, 1, 2)
	})

	t.Run("unknown sid", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			resp, body := e.must(t, m, "sid=nosuchsession", "40", nil)
			engineErr(t, resp, body, http.StatusBadRequest, engineio.CodeUnknownSID, "Session ID unknown")
			e.logs.waitFor(t, "request refused", "code=1", "method="+m, "sid=nosuchsession")
		}
		e.healthy(t, good, ws, "unknown sid")
		e.waitSessions(t, 1, 2)
	})

	t.Run("concurrent GETs", func(t *testing.T) {
		p := e.handshake(t)
		p.join(t)
		type answer struct {
			status int
			body   string
		}
		answers := make(chan answer, 2)
		for range 2 {
			go func() {
				resp, body, err := e.request(http.MethodGet, "sid="+p.sid, "", nil)
				if err != nil {
					answers <- answer{0, err.Error()}
					return
				}
				answers <- answer{resp.StatusCode, body}
			}()
		}
		// Whichever comes second gets 400 and closes the session; the one
		// held gets the close packet.
		a, b := wait.Recv(t, "a GET's answer", answers), wait.Recv(t, "the other GET's answer", answers)
		if a.status == http.StatusOK {
			a, b = b, a
		}
		if a.status != http.StatusBadRequest || b.status != http.StatusOK || b.body != "1" {
			t.Errorf("two GETs got %d %q and %d %q, want 400 and 200 \"1\"", a.status, a.body, b.status, b.body)
		}
		e.logs.waitFor(t, "sid="+p.sid, "status=400", "overlap from client")
		e.logs.waitFor(t, "sid="+p.sid, "session closed", "transport error")
		e.gone(t, p.sid)
		e.healthy(t, good, ws, "concurrent GETs")
		e.waitSessions(t, 1, 2)
	})

	t.Run("upgraded sid", func(t *testing.T) {
		p := e.handshake(t)
		p.join(t)
		up := e.probe(t, p.sid)
		e.send(t, up, "5")
		// Polling is over for this session: a GET or a POST gets code 3,
		// and the session goes on over its WebSocket.
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			var resp *http.Response
			var body string
			wait.For(t, "the upgrade done", func() bool {
				resp, body = e.must(t, m, "sid="+p.sid, "40", nil)
				return resp.StatusCode != http.StatusOK
			})
			engineErr(t, resp, body, http.StatusBadRequest, engineio.CodeBadRequest, "Bad request")
		}
		e.logs.waitFor(t, "request refused", "code=3", "sid="+p.sid)
		e.wsEcho(t, up, "upgraded")
		e.healthy(t, good, ws, "upgraded sid")
		up.Close(websocket.StatusNormalClosure, "")
		e.waitSessions(t, 1, 2)
	})

	t.Run("upgrade for a sid already upgrading", func(t *testing.T) {
		p := e.handshake(t)
		p.join(t)
		first := e.probe(t, p.sid)
		second := e.upgradeConn(t, p.sid)
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		if typ, b, err := second.Read(ctx); err == nil {
			t.Errorf("second upgrade of %s got %v %q, want its WebSocket closed", p.sid, typ, b)
		}
		e.logs.waitFor(t, "sid="+p.sid, "upgrade refused", "already been trying to upgrade")
		// The first upgrade goes on.
		e.send(t, first, "5")
		e.wsEcho(t, first, "after a second upgrade")
		e.healthy(t, good, ws, "second upgrade")
		first.Close(websocket.StatusNormalClosure, "")
		e.waitSessions(t, 1, 2)
	})

	t.Run("slow POST body", func(t *testing.T) {
		// Cut at Options.PostTimeout (3 s here; 10 s by default).
		p := e.handshake(t)
		p.join(t)
		c, br := e.slowPost(t, p.sid)
		_ = c.SetReadDeadline(time.Now().Add(wait.Deadline()))
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 400") {
			t.Errorf("slow POST got %q %v, want 400", line, err)
		}
		e.logs.waitFor(t, "sid="+p.sid, "status=400", "POST body not read in full")
		e.gone(t, p.sid)
		e.healthy(t, good, ws, "slow POST")
		e.waitSessions(t, 1, 2)
	})
}

// upgradeConn opens the WebSocket of an upgrade of sid.
func (e *pollEnv) upgradeConn(t *testing.T, sid string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	url := "ws" + strings.TrimPrefix(e.url, "http") + "/socket.io/?EIO=4&transport=websocket&sid=" + sid
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("upgrade of %s: %v", sid, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// probe opens the WebSocket of an upgrade of sid and probes it.
func (e *pollEnv) probe(t *testing.T, sid string) *websocket.Conn {
	t.Helper()
	c := e.upgradeConn(t, sid)
	e.send(t, c, "2probe")
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if _, b, err := c.Read(ctx); err != nil || string(b) != "3probe" {
		t.Fatalf("probe: %q %v", b, err)
	}
	return c
}

func (e *pollEnv) send(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

// TestPollingExpiredSID: a session that stops polling expires at
// PingInterval + PingTimeout; its sid then gets code 1, and the other
// clients go on.
func TestPollingExpiredSID(t *testing.T) {
	t.Parallel()
	// The healthy clients answer pings as they poll; an interval long
	// enough for a loaded machine keeps them alive.
	e := startPolling(t, Options{PingInterval: 100 * time.Millisecond, PingTimeout: time.Second})
	good := e.handshake(t)
	good.join(t)
	ws := e.joinWebSocket(t)
	p := e.handshake(t)
	p.join(t)
	// The healthy clients keep answering while p expires.
	wait.For(t, "the session that stopped polling to expire", func() bool {
		e.healthy(t, good, ws, "a tick")
		eio, conns := e.sessions()
		return eio == 1 && conns == 2
	})
	e.logs.waitFor(t, "sid="+p.sid, "session closed", "ping timeout")
	e.gone(t, p.sid)
	e.healthy(t, good, ws, "an expired session")
}

// TestPollingHandshakesNeverPolled: 10,000 handshakes that never poll
// again all expire (at PingInterval + PingTimeout), and the memory they
// held returns.
func TestPollingHandshakesNeverPolled(t *testing.T) {
	const n = 10_000
	e := startPolling(t, Options{PingInterval: 2 * time.Second, PingTimeout: 500 * time.Millisecond,
		Logger: quietOptions(Options{}).Logger})
	before := heapAfterGC()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				resp, body, err := e.request(http.MethodGet, "", "", nil)
				if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "0{") {
					mu.Lock()
					failed = append(failed, fmt.Sprint(err, body))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d handshakes failed, the first: %s", len(failed), failed[0])
	}
	alive, _ := e.sessions()
	during := heapAfterGC()
	e.waitSessions(t, 0, 0)

	// Memory returns: the heap after GC comes back near where it was. The
	// margin (8 MB, some 800 bytes a session) is far below what 10,000
	// sessions that stayed would hold.
	const margin = 8 << 20
	var after uint64
	if !wait.Until(func() bool { after = heapAfterGC(); return after < before+margin }) {
		t.Fatalf("heap %d bytes after the sessions expired, %d before", after, before)
	}
	t.Logf("heap: %d bytes before, %d with %d sessions left of %d, %d after they expired", before, during, alive, n, after)
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
