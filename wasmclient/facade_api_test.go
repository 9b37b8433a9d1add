//go:build !js

package wasmclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/web"
)

// The facade tests run a page in headless Chromium that drives, in the
// same page and against the same tsunagi server, both the facade's io()
// and the official socket.io.min.js 4.8 (served from the npm package at
// /official/socket.io.min.js, and saved by the page as window.official).
// The page puts what each client saw in window.results.tsunagi and
// window.results.official.

var (
	facadeAssetsOnce sync.Once
	facadeAssets     *web.Assets
	facadeAssetsErr  error
)

// facadePage serves testdata with the loader and client.wasm of the
// default build and the official client, on a server set up by setup, and
// opens page in Chromium; it returns both clients' results once the page
// sets results.done.
func facadePage(t *testing.T, page string, setup func(*server.Server)) (tsunagi, official map[string]any) {
	t.Helper()
	facadeAssetsOnce.Do(func() {
		facadeAssets, facadeAssetsErr = web.BuildWasm(context.Background(), devserver.DefaultWasm, nil)
	})
	if facadeAssetsErr != nil {
		t.Fatal(facadeAssetsErr)
	}
	// Pings every 300 ms, so that the Manager's "ping" event comes soon.
	srv := server.New(&server.Options{Logger: quiet, PingInterval: 300 * time.Millisecond})
	setup(srv)
	mux := http.NewServeMux()
	min := filepath.Join(testenv.NodeModules(t), "socket.io-client", "dist", "socket.io.min.js")
	mux.HandleFunc("/official/socket.io.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, min)
	})
	mux.Handle("/", devserver.Handler(srv, "testdata", facadeAssets))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	ctx := testenv.NewBrowser(t)
	nctx, cancel := context.WithTimeout(ctx, wait.Deadline())
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(hs.URL+"/"+page)); err != nil {
		t.Fatal(err)
	}
	js := testenv.WaitJS(t, ctx, "both clients' results", `window.results || {}`,
		`r => r.tsunagi && r.tsunagi.done && r.official && r.official.done`)
	var got struct{ Tsunagi, Official map[string]any }
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("results %s: %v", js, err)
	}
	return got.Tsunagi, got.Official
}

// sameAsOfficial checks that both clients saw the same for each key, and
// that the facade saw want where want has the key.
func sameAsOfficial(t *testing.T, ts, off map[string]any, keys []string, want map[string]any) {
	t.Helper()
	for _, k := range keys {
		if _, ok := ts[k]; !ok {
			t.Errorf("%s: the facade has no result", k)
			continue
		}
		if !reflect.DeepEqual(ts[k], off[k]) {
			t.Errorf("%s:\n facade   %#v\n official %#v", k, ts[k], off[k])
		}
	}
	for k, w := range want {
		if !reflect.DeepEqual(ts[k], w) {
			t.Errorf("%s = %#v, want %#v", k, ts[k], w)
		}
	}
	if t.Failed() {
		t.Logf("facade: %v\nofficial: %v", ts, off)
	}
}

// rawReport is what the server acks for "raw": the JSON of each argument
// as it arrived, and the attachments' bytes.
type rawReport struct {
	Raw  []string `json:"raw"`
	Bufs [][]int  `json:"bufs"`
}

func reportOf(a shared.Args) rawReport {
	r := rawReport{Raw: []string{}, Bufs: [][]int{}}
	for i := range a.Len() {
		r.Raw = append(r.Raw, string(a.Raw(i)))
	}
	for _, b := range a.Buffers() {
		n := make([]int, len(b))
		for i, c := range b {
			n[i] = int(c)
		}
		r.Bufs = append(r.Bufs, n)
	}
	return r
}

// valuesServer: "raw" acks a rawReport; "echo" acks its arguments back
// as they came (JSON text, key order kept); "seq" records, "seqdone" acks
// the records; on "send me" the server emits ordered objects, one with an
// attachment, and asks the page for an ack whose raw JSON it emits back.
func valuesServer(srv *server.Server) {
	srv.OnConnection(func(s *server.Socket) {
		var mu sync.Mutex
		var seq []rawReport
		s.On("raw", func(a shared.Args, ack shared.AckFunc) error {
			if ack == nil {
				return s.Emit("raw report", reportOf(a))
			}
			return ack(reportOf(a))
		})
		s.On("echo", func(a shared.Args, ack shared.AckFunc) error {
			vals := make([]any, a.Len())
			for i := range vals {
				vals[i] = json.RawMessage(a.Raw(i))
			}
			return ack(vals...)
		})
		s.On("seq", func(a shared.Args, _ shared.AckFunc) error {
			mu.Lock()
			seq = append(seq, reportOf(a))
			mu.Unlock()
			return nil
		})
		s.On("seqdone", func(_ shared.Args, ack shared.AckFunc) error {
			mu.Lock()
			defer mu.Unlock()
			return ack(seq)
		})
		s.On("send me", func(_ shared.Args, ack shared.AckFunc) error {
			type withFile struct {
				Z    int    `json:"z"`
				File []byte `json:"file"`
				A    struct {
					Y int    `json:"y"`
					B []byte `json:"b"`
				} `json:"a"`
				M string `json:"m"`
			}
			v := withFile{Z: 1, File: []byte{1, 2, 3}, M: "é"}
			v.A.Y, v.A.B = 2, []byte{4}
			s.Emit("ordered", json.RawMessage(`{"z":1,"a":{"y":2,"b":[{"k":1,"c":2}]},"m":null,"é":"\ud83d\ude00"}`), json.RawMessage(`[3,{"q":1,"p":2}]`))
			s.Emit("ordered bin", v)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
				defer cancel()
				res, err := s.EmitWithAck(ctx, "ask")
				if err == nil {
					s.Emit("asked", reportOf(res))
				}
			}()
			return ack()
		})
	})
}

// TestFacadeValuesInChromium: values keep their key order, nested too, both
// ways and in acks; Dates become ISO strings; ArrayBuffers, typed arrays,
// Blobs and Files go as binary, in the order emitted; received attachments
// are ArrayBuffers in place: all as the official client does in the same
// page. Bad values (a cycle, a BigInt) throw to the caller, and what the
// official client sends silently (Symbols, functions, lone surrogates) is
// sent the same; the client keeps working.
func TestFacadeValuesInChromium(t *testing.T) {
	t.Parallel()
	ts, off := facadePage(t, "facade_values.html", valuesServer)
	same := []string{
		"ordered", "orderedKeys", "orderedBin", "emitOrdered", "emitDate", "emitBin", "echo", "echoKeys",
		"asked", "seq", "symbol", "function", "surrogate", "bigint", "afterBad",
	}
	sameAsOfficial(t, ts, off, same, map[string]any{
		"orderedKeys": []any{"z", "a", "y", "b", "k", "c", "m", "é", "q", "p"},
		"emitOrdered": []any{`{"z":1,"a":{"y":2,"b":[{"k":1,"c":2}]},"m":"x"}`},
		"emitDate":    []any{`{"when":"1970-01-01T00:00:00.000Z","z":0}`},
		"afterBad":    "ok",
		// socket.io.js sends what the buffer holds when its transport
		// gets to it: here [2] twice.
		"reused": []any{[]any{[]any{1.0}}, []any{[]any{2.0}}},
		"cycle":  "threw",
		"bigint": "TypeError",
	})
}

// apiServer: "/" records "seq" and acks the records on "seqdone", answers
// "message" with "message back", echoes "echo", never acks "silent", acks
// "flaky" on its second try, acks "auth" with the handshake's auth JSON,
// and disconnects the socket on "kick"; "/other" says hello; "/private"
// refuses every socket with data.
func apiServer(srv *server.Server) {
	srv.OnConnection(func(s *server.Socket) {
		var mu sync.Mutex
		var seq []string
		tries := 0
		s.On("seq", func(a shared.Args, _ shared.AckFunc) error {
			mu.Lock()
			defer mu.Unlock()
			seq = append(seq, string(a.Raw(0)))
			return nil
		})
		s.On("seqdone", func(_ shared.Args, ack shared.AckFunc) error {
			mu.Lock()
			defer mu.Unlock()
			return ack(seq)
		})
		s.On("message", func(a shared.Args, _ shared.AckFunc) error {
			return s.Emit("message back", json.RawMessage(a.Raw(0)))
		})
		s.On("echo", func(a shared.Args, ack shared.AckFunc) error {
			vals := make([]any, a.Len())
			for i := range vals {
				vals[i] = json.RawMessage(a.Raw(i))
			}
			return ack(vals...)
		})
		s.On("silent", func(shared.Args, shared.AckFunc) error { return nil })
		s.On("flaky", func(a shared.Args, ack shared.AckFunc) error {
			mu.Lock()
			tries++
			n := tries
			mu.Unlock()
			if n < 2 {
				return nil
			}
			return ack("ok", n)
		})
		s.On("auth", func(_ shared.Args, ack shared.AckFunc) error {
			return ack(string(s.Handshake().Auth))
		})
		s.On("kick", func(shared.Args, shared.AckFunc) error {
			go s.Disconnect(false)
			return nil
		})
	})
	srv.Of("/other").OnConnection(func(s *server.Socket) { s.Emit("hello other", "from /other") })
	srv.Of("/private").Use(func(s *server.Socket) error {
		return &server.ConnectError{Message: "not authorized", Data: map[string]any{"hint": "token", "z": 1}}
	})
}

// TestFacadeAPIInChromium calls the members of socket.io-client's public
// API (docs/facade-api.md lists them) through the facade and through the
// official client in the same page, and checks that both saw the same.
func TestFacadeAPIInChromium(t *testing.T) {
	t.Parallel()
	ts, off := facadePage(t, "facade_api.html", apiServer)
	same := []string{
		"exports", "before", "sendBuffer", "listeners", "anyListeners", "connected", "sendBufferAfter", "engine",
		"send", "echo", "emitWithAck", "timeout", "timeoutOK", "timeoutPromise", "seq", "seen", "seenOut",
		"serverDisconnect", "clientDisconnect", "reconnectedByHand", "upgrade", "retries", "authFunction", "authCalls",
		"ackTimeout", "managerGetters", "managerSetters", "managerOpts", "managerSocket", "otherNamespace",
		"managerOpen", "managerEvents", "managerConnect", "ping", "transportError", "reconnectFailed", "refused",
	}
	sameAsOfficial(t, ts, off, same, map[string]any{
		"exports":          map[string]any{"connect": true, "io": true, "Manager": "function", "Socket": "function"},
		"protocol":         5.0,
		"managerEvents":    []any{"open", "close: forced close"},
		"engineClose":      "forced close",
		"managerPrivate":   []any{"closed", false},
		"reconnecting":     false,
		"clientDisconnect": []any{[]any{"io client disconnect", "io client disconnect"}, false, false},
		"seq":              []any{`"buffered"`, `"uncompressed"`, `"volatile while connected"`},
		"timeout":          []any{1.0, "operation has timed out"},
		"serverDisconnect": []any{"io server disconnect", false, false},
		"upgrade":          []any{"websocket", "websocket"},
		"authFunction":     []any{nil, `{"token":"fn","z":1,"a":2}`},
		"retries":          []any{nil, "ok", true},
		"reconnectFailed":  []any{2.0, []any{"xhr poll error", "xhr poll error"}, "xhr poll error"},
	})
	for k, v := range ts {
		if len(k) > 6 && k[:6] == "error " {
			t.Errorf("facade: %s: %v", k, v)
		}
	}
}
