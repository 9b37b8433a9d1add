//go:build !js

package interop

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

// The feature scenarios run in four pairings, with one expectation each:
//
//	official client (Node) → tsunagi server        TestOfficialClientFeatures
//	tsunagi client (Go)    → official server (Node) TestGoClientAgainstOfficialServer
//	official client        → official server        TestReferencePair
//	tsunagi client         → tsunagi server         TestGoClientAgainstOurServer
//
// The reference pair proves that each expectation is what Socket.IO itself
// does. Both servers implement the same feature protocol
// (testdata/server_features.js and featureServer below) and both clients run
// the same scenarios (testdata/client_features.js and goScenarios), printing
// a transcript of "<tag> <JSON>" lines with sorted keys and binary values as
// {"bin":"<hex>"}. A server notes what it sees in the same form.
type scenario struct {
	name string
	// Heartbeat of both servers; zero means the defaults.
	pingInterval, pingTimeout time.Duration
	// transcript is what the client prints, in order, before "done".
	transcript []string
	// notes must all appear among the server's notes, in any order; a line
	// listed twice must appear twice.
	notes []string
}

var scenarios = []scenario{
	{
		name: "auth_namespaces",
		transcript: []string{
			`main {"auth":{"token":"abc"},"idMatches":true,"query":"demo"}`,
			`admin {"auth":{"role":"admin"},"idMatches":true}`,
			`guest "admins only"`,
			`nope "Invalid namespace"`,
		},
		notes: []string{
			`auth / {"token":"abc"}`,
			`auth /admin {"role":"admin"}`,
			`auth /admin {"role":"guest"}`,
		},
	},
	{
		name: "events",
		transcript: []string{
			`multi-back [1,"two",{"three":[3]},null,true,4.5,"héllo 👋"]`,
			`typed-back [42,"s",{"k":[1,2]},{"hello":"world"},null,true,4.5]`,
			`noargs-back [0]`,
		},
		notes: []string{
			`multi [1,"two",{"three":[3]},null,true,4.5,"héllo 👋"]`,
			`noargs 0`,
		},
	},
	{
		name: "acks",
		transcript: []string{
			`sum [42]`,
			`several ["a",1,null,{"b":true}]`,
			`echo "hi"`,
			`echo-fail [null,{"message":"no thanks"}]`,
			`ask-result ["answer:question",14]`,
			`ignored-result [true]`,
			`client-timeout true`,
		},
		notes: []string{`ask ["answer:question",14]`},
	},
	{
		name: "binary",
		transcript: []string{
			`download [{"bin":"090807"},{"body":{"bin":"6261636b"},"name":"back.bin"}]`,
			`bin-echo [{"bin":"010203"},3]`,
			`bin-ask-result [{"bin":"050607"}]`,
			`bin-echo-empty [{"bin":""},0]`,
			`bin-echo-big [true,200000]`,
			`bin-count [10,10]`,
		},
		notes: []string{
			`upload [{"bin":"000102ff"},{"body":{"bin":"68656c6c6f"},"name":"a.bin"}]`,
			`bin-ask {"bin":"050607"}`,
		},
	},
	{
		name: "rooms",
		transcript: []string{
			`rooms-of-a ["r1"]`,
			`rooms-of-b []`,
			`A ["shouted:hello","marker:1","shouted:again","marker:2"]`,
			`B ["shouted:hello","shouted:psst","marker:1","marker:2"]`,
			`C ["marker:1","marker:2"]`,
		},
	},
	{
		name: "connect_error",
		transcript: []string{
			`refused-data {"active":false,"data":{"code":42,"hint":"log in"},"message":"not authorized"}`,
			`refused-plain {"active":false,"message":"plain refusal"}`,
			`accepted true`,
		},
		notes: []string{`disconnect /guarded "client namespace disconnect"`},
	},
	{
		name: "disconnect",
		transcript: []string{
			`kicked {"active":false,"reason":"io server disconnect"}`,
			`left "io client disconnect"`,
		},
		notes: []string{
			`disconnect / "server namespace disconnect"`,
			`disconnect / "client namespace disconnect"`,
		},
	},
	{
		// Disconnect(true) ends the whole connection: as in socket.io
		// (Client._disconnect), every socket on it gets DISCONNECT first, so
		// none hears "transport close" and reconnects.
		name: "disconnect_hard",
		transcript: []string{
			`main "io server disconnect"`,
			`admin "io server disconnect"`,
		},
		notes: []string{
			`disconnect / "server namespace disconnect"`,
			`disconnect /admin "server namespace disconnect"`,
		},
	},
	{
		name:         "heartbeat",
		pingInterval: 100 * time.Millisecond,
		pingTimeout:  500 * time.Millisecond,
		transcript: []string{
			`heartbeat {"connected":true}`,
			`echo "still here"`,
		},
		notes: []string{`disconnect / "client namespace disconnect"`},
	},
}

// clientTransports are the ways the official client is run: forced to
// WebSocket, on its defaults (polling first, then the upgrade), and forced
// to polling (a network that blocks WebSocket).
var clientTransports = []string{"websocket", "default", "polling"}

// TestOfficialClientFeatures: socket.io-client 4.8 against our server, on
// each of clientTransports.
func TestOfficialClientFeatures(t *testing.T) { officialClientMatrix(t, startFeatureServer) }

// officialClientMatrix runs every scenario with the official client on each
// of clientTransports, against the servers start starts.
func officialClientMatrix(t *testing.T, start func(*testing.T, scenario) (string, func() []string)) {
	for _, tr := range clientTransports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					url, notes := start(t, sc)
					checkTranscript(t, runOfficialClient(t, url, tr, sc), sc)
					checkNotes(t, notes, sc.notes)
				})
			}
		})
	}
}

// TestGoClientAgainstOfficialServer: our client against the socket.io 4.8 server.
func TestGoClientAgainstOfficialServer(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			url, notes := startOfficialServer(t, sc)
			checkTranscript(t, runGoClient(t, url, sc), sc)
			checkNotes(t, notes, sc.notes)
		})
	}
}

// TestReferencePair: the official client against the official server, so
// that every expectation above is what Socket.IO does, on each transport.
func TestReferencePair(t *testing.T) { officialClientMatrix(t, startOfficialServer) }

// TestGoClientAgainstOurServer: the same scenarios between our two ends.
func TestGoClientAgainstOurServer(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			url, notes := startFeatureServer(t, sc)
			checkTranscript(t, runGoClient(t, url, sc), sc)
			checkNotes(t, notes, sc.notes)
		})
	}
}

func checkTranscript(t *testing.T, got []string, sc scenario) {
	t.Helper()
	want := append(slices.Clone(sc.transcript), "done")
	if !slices.Equal(got, want) {
		t.Errorf("transcript of %s:\n got: %s\nwant: %s", sc.name, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// checkNotes waits for every wanted note among the server's.
func checkNotes(t *testing.T, notes func() []string, want []string) {
	t.Helper()
	var missing []string
	if !wait.Until(func() bool {
		missing = missingLines(notes(), want)
		return len(missing) == 0
	}) {
		t.Errorf("the server did not note:\n  %s\nit noted:\n  %s", strings.Join(missing, "\n  "), strings.Join(notes(), "\n  "))
	}
}

// missingLines returns the lines of want that got lacks, counting repeats.
func missingLines(got, want []string) []string {
	left := map[string]int{}
	for _, l := range got {
		left[l]++
	}
	var missing []string
	for _, l := range want {
		if left[l] == 0 {
			missing = append(missing, l)
			continue
		}
		left[l]--
	}
	return missing
}

// show turns a decoded value into its transcript form: []byte becomes
// {"bin":"<hex>"}, json.RawMessage is decoded.
func show(v any) any {
	switch x := v.(type) {
	case []byte:
		return map[string]any{"bin": hex.EncodeToString(x)}
	case json.RawMessage:
		var d any
		if err := json.Unmarshal(x, &d); err != nil {
			return fmt.Sprintf("invalid JSON %q", x)
		}
		return show(d)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = show(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = show(e)
		}
		return out
	}
	return v
}

// line formats one transcript or note line, as helpers.js does.
func line(tag string, v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(show(v)); err != nil {
		return fmt.Sprintf("%s <%v>", tag, err)
	}
	return tag + " " + strings.TrimSuffix(b.String(), "\n")
}

// lines collects transcript or note lines; safe for concurrent use.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (n *lines) add(tag string, v any) {
	s := line(tag, v)
	n.mu.Lock()
	n.l = append(n.l, s)
	n.mu.Unlock()
}

func (n *lines) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.l)
}

func stdoutLines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// runOfficialClient runs one scenario of client_features.js against url,
// on transports (one of clientTransports), and returns its transcript.
func runOfficialClient(t *testing.T, url, transports string, sc scenario) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	p := testenv.RunNode(t, ctx, filepath.Join("testdata", "client_features.js"), "URL="+url, "SCENARIO="+sc.name, "TRANSPORTS="+transports)
	if err := p.Wait(); err != nil {
		t.Fatalf("client_features.js %s: %v\nstdout:\n%s\nstderr:\n%s", sc.name, err, p.Stdout(), p.Stderr())
	}
	return stdoutLines(p.Stdout())
}

// runGoClient runs one of goScenarios against url and returns its transcript.
func runGoClient(t *testing.T, url string, sc scenario) []string {
	t.Helper()
	run, ok := goScenarios[sc.name]
	if !ok {
		t.Fatalf("no Go client scenario %q", sc.name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	out := &lines{}
	if err := run(ctx, url, out); err != nil {
		t.Fatalf("Go client scenario %s: %v\ntranscript so far:\n%s", sc.name, err, strings.Join(out.list(), "\n"))
	}
	return append(out.list(), "done")
}

// startOfficialServer runs server_features.js and returns its URL and notes.
func startOfficialServer(t *testing.T, sc scenario) (string, func() []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var env []string
	if sc.pingInterval > 0 {
		env = append(env, fmt.Sprintf("PING_INTERVAL=%d", sc.pingInterval.Milliseconds()))
	}
	if sc.pingTimeout > 0 {
		env = append(env, fmt.Sprintf("PING_TIMEOUT=%d", sc.pingTimeout.Milliseconds()))
	}
	p := testenv.RunNode(t, ctx, filepath.Join("testdata", "server_features.js"), env...)
	port := p.WaitOutput(t, wait.Deadline(), `^listening (\d+)\n`)[1]
	notes := func() []string {
		l := stdoutLines(p.Stdout())
		if len(l) > 0 {
			l = l[1:] // "listening <port>"
		}
		return l
	}
	return "http://127.0.0.1:" + port, notes
}

// startFeatureServer runs featureServer and returns its URL and notes.
func startFeatureServer(t *testing.T, sc scenario) (string, func() []string) {
	t.Helper()
	srv, url := startServer(t, &server.Options{PingInterval: sc.pingInterval, PingTimeout: sc.pingTimeout})
	notes := &lines{}
	featureServer(srv, notes)
	return url, notes.list
}

// authValue is the handshake's auth as Socket.IO shows it: {} when absent.
func authValue(s *server.Socket) json.RawMessage {
	if a := s.Handshake().Auth; len(a) > 0 {
		return a
	}
	return json.RawMessage(`{}`)
}

func values(a shared.Args) []any {
	v, err := a.Values()
	if err != nil {
		return []any{"undecodable: " + err.Error()}
	}
	return v
}

// featureServer is the Go twin of testdata/server_features.js: keep them in step.
func featureServer(srv *server.Server, notes *lines) {
	common := func(s *server.Socket) {
		nsp := s.Namespace().Name()
		var app any
		if q := s.Handshake().Query; q.Has("app") {
			app = q.Get("app")
		}
		s.Emit("whoami", s.ID(), authValue(s), app)
		s.OnDisconnect(func(reason string) { notes.add("disconnect "+nsp, reason) })
	}
	srv.Use(func(s *server.Socket) error {
		notes.add("auth /", authValue(s))
		return nil
	})
	srv.OnConnection(func(s *server.Socket) {
		common(s)
		// events
		s.On("multi", func(a shared.Args, _ shared.AckFunc) error {
			notes.add("multi", values(a))
			raw := make([]any, a.Len())
			for i := range raw {
				raw[i] = a.Raw(i)
			}
			return s.Emit("multi-back", raw...)
		})
		s.On("typed", func(shared.Args, shared.AckFunc) error {
			return s.Emit("typed-back", 42, "s", map[string]any{"k": []any{1, 2}}, map[string]any{"hello": "world"}, nil, true, 4.5)
		})
		s.On("noargs", func(a shared.Args, _ shared.AckFunc) error {
			notes.add("noargs", a.Len())
			return s.Emit("noargs-back", a.Len())
		})

		// acks
		s.On("sum", func(a shared.Args, ack shared.AckFunc) error {
			var x, y float64
			if err := errors.Join(a.Decode(0, &x), a.Decode(1, &y)); err != nil {
				return err
			}
			return ack(x + y)
		})
		s.On("several", func(_ shared.Args, ack shared.AckFunc) error {
			return ack("a", 1, nil, map[string]any{"b": true})
		})
		echo.Handle(s, func(in string) (string, error) {
			if in == "fail" {
				return "", errors.New("no thanks")
			}
			return in, nil
		})
		s.On("no-answer", func(shared.Args, shared.AckFunc) error { return nil })
		s.On("ask-me", func(shared.Args, shared.AckFunc) error {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
				defer cancel()
				res, err := s.EmitWithAck(ctx, "ask", "question", 7)
				out := values(res)
				if err != nil {
					out = []any{"error", err.Error()}
				}
				notes.add("ask", out)
				s.Emit("ask-result", out...)
			}()
			return nil
		})
		s.On("ask-ignored", func(shared.Args, shared.AckFunc) error {
			go func() {
				// The timeout under test, as short as the official scenario's.
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				_, err := s.EmitWithAck(ctx, "ignored")
				s.Emit("ignored-result", errors.Is(err, shared.ErrAckTimeout))
			}()
			return nil
		})

		// binary
		s.On("upload", func(a shared.Args, _ shared.AckFunc) error {
			notes.add("upload", values(a))
			return s.Emit("download", []byte{9, 8, 7}, map[string]any{"name": "back.bin", "body": []byte("back")})
		})
		s.On("bin-echo", func(a shared.Args, ack shared.AckFunc) error {
			var b []byte
			if err := a.Decode(0, &b); err != nil {
				return err
			}
			return ack(b, len(b))
		})
		s.On("bin-count", func(a shared.Args, ack shared.AckFunc) error {
			return ack(a.Len(), len(a.Buffers()))
		})
		s.On("bin-ask-me", func(shared.Args, shared.AckFunc) error {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
				defer cancel()
				res, err := s.EmitWithAck(ctx, "bin-ask", []byte{5, 6})
				var b []byte
				if err == nil {
					err = res.Decode(0, &b)
				}
				if err != nil {
					notes.add("bin-ask", err.Error())
					return
				}
				notes.add("bin-ask", b)
				s.Emit("bin-ask-result", b)
			}()
			return nil
		})

		// rooms
		room := func(a shared.Args) string {
			var r string
			_ = a.Decode(0, &r)
			return r
		}
		s.On("join", func(a shared.Args, ack shared.AckFunc) error {
			s.Join(room(a))
			return ack(true)
		})
		s.On("leave", func(a shared.Args, ack shared.AckFunc) error {
			s.Leave(room(a))
			return ack(true)
		})
		s.On("my-rooms", func(_ shared.Args, ack shared.AckFunc) error {
			rooms := []string{}
			for _, r := range s.Rooms() {
				if r != s.ID() {
					rooms = append(rooms, r)
				}
			}
			slices.Sort(rooms)
			return ack(rooms)
		})
		s.On("shout", func(a shared.Args, _ shared.AckFunc) error {
			return srv.To(room(a)).Emit("shouted", a.Raw(1))
		})
		s.On("shout-others", func(a shared.Args, _ shared.AckFunc) error {
			return s.To(room(a)).Emit("shouted", a.Raw(1))
		})
		s.On("marker", func(a shared.Args, _ shared.AckFunc) error {
			return srv.Emit("marker", a.Raw(0))
		})

		// disconnects
		s.On("kick-me", func(shared.Args, shared.AckFunc) error { s.Disconnect(false); return nil })
		s.On("kick-me-hard", func(shared.Args, shared.AckFunc) error { s.Disconnect(true); return nil })
	})

	admin := srv.Of("/admin")
	admin.Use(func(s *server.Socket) error {
		notes.add("auth /admin", authValue(s))
		var a struct {
			Role string `json:"role"`
		}
		if json.Unmarshal(authValue(s), &a) != nil || a.Role != "admin" {
			return errors.New("admins only")
		}
		return nil
	})
	admin.OnConnection(common)

	guarded := srv.Of("/guarded")
	guarded.Use(func(s *server.Socket) error {
		var a struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal(authValue(s), &a)
		switch a.Token {
		case "data":
			return &server.ConnectError{Message: "not authorized", Data: map[string]any{"code": 42, "hint": "log in"}}
		case "plain":
			return errors.New("plain refusal")
		}
		return nil
	})
	guarded.OnConnection(common)
}
