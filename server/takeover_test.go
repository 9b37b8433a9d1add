package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/shared"
)

// TestUpgradeTakeover: a session that starts on polling and upgrades while
// events flow both ways ends on the server's own WebSocket transport
// (adopt), and every event crosses exactly once, in order: 10,000 up, each
// echoed down. The client speaks Engine.IO by hand, as engine.io-client
// does: it pauses polling (its held GET returns), then sends "5".
func TestUpgradeTakeover(t *testing.T) {
	t.Parallel()
	const n = 10000
	srv := New(quietOptions(Options{PingInterval: time.Minute, PingTimeout: time.Minute}))
	var (
		mu sync.Mutex
		up []int
	)
	srv.OnConnection(func(s *Socket) {
		s.On("up", func(a shared.Args, _ shared.AckFunc) error {
			v, err := a.Value(0)
			if err != nil {
				return err
			}
			i := int(v.(float64))
			mu.Lock()
			up = append(up, i)
			mu.Unlock()
			return s.Emit("down", i)
		})
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	base := hs.URL + "/socket.io/?EIO=4&transport=polling"
	req := func(method, url, body string) string {
		t.Helper()
		r, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
		return string(b)
	}
	open := req("GET", base, "")
	sid := open[strings.Index(open, `"sid":"`)+7:]
	sid = sid[:strings.IndexByte(sid, '"')]
	purl := base + "&sid=" + sid
	req("POST", purl, "40")

	var (
		dmu  sync.Mutex
		down []int
		bad  []string
	)
	handle := func(p string) {
		dmu.Lock()
		defer dmu.Unlock()
		switch {
		case strings.HasPrefix(p, `42["down",`):
			i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(p, `42["down",`), "]"))
			if err != nil {
				bad = append(bad, p)
			}
			down = append(down, i)
		case p == "6", strings.HasPrefix(p, "40{"):
		default:
			bad = append(bad, p)
		}
	}
	var paused sync.WaitGroup
	stop := make(chan struct{})
	paused.Add(1)
	go func() { // the polling reader, until paused
		defer paused.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for p := range strings.SplitSeq(req("GET", purl, ""), "\x1e") {
				handle(p)
			}
		}
	}()
	// The first half over polling, 50 events a POST.
	for i := 1; i <= n/2; i += 50 {
		var b strings.Builder
		for k := i; k < i+50; k++ {
			if k > i {
				b.WriteByte('\x1e')
			}
			fmt.Fprintf(&b, `42["up",%d]`, k)
		}
		req("POST", purl, b.String())
	}
	// The upgrade, with echoes still coming down the held GETs.
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/socket.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(-1)
	if err := ws.Write(ctx, websocket.MessageText, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if _, m, err := ws.Read(ctx); err != nil || string(m) != "3probe" {
		t.Fatalf("probe answer %q, %v", m, err)
	}
	close(stop)
	paused.Wait() // the held GET returned (a noop or echoes): polling is paused
	if err := ws.Write(ctx, websocket.MessageText, []byte("5")); err != nil {
		t.Fatal(err)
	}
	readDone := make(chan error, 1)
	go func() {
		for {
			_, m, err := ws.Read(ctx)
			if err != nil {
				readDone <- err
				return
			}
			handle(string(m))
			dmu.Lock()
			got := len(down)
			dmu.Unlock()
			if got >= n {
				readDone <- nil
				return
			}
		}
	}()
	for i := n/2 + 1; i <= n; i++ {
		if err := ws.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `42["up",%d]`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := wait.Recv(t, "every echo", readDone); err != nil {
		t.Fatalf("reading the WebSocket: %v", err)
	}
	check := func(what string, got []int) {
		t.Helper()
		if len(got) != n {
			t.Errorf("%s: %d events, want %d", what, len(got), n)
		}
		for k, v := range got {
			if v != k+1 {
				t.Fatalf("%s: event %d is %d: lost, doubled or reordered", what, k+1, v)
			}
		}
	}
	mu.Lock()
	check("server", up)
	mu.Unlock()
	dmu.Lock()
	check("client", down)
	if len(bad) > 0 {
		t.Errorf("unexpected packets: %q", bad)
	}
	dmu.Unlock()
	srv.mu.Lock()
	var own, total int
	for c := range srv.conns {
		total++
		c.mu.Lock()
		if c.ownWS {
			own++
		}
		c.mu.Unlock()
	}
	srv.mu.Unlock()
	if total != 1 || own != 1 {
		t.Errorf("%d of %d connections run on the server's own WebSocket after the upgrade, want 1 of 1", own, total)
	}
}
