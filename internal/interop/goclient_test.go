//go:build !js

package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// goScenarios are the scenarios of testdata/client_features.js played by our
// Go client (wasmclient, natively); each prints the same transcript.
var goScenarios = map[string]func(ctx context.Context, base string, out *lines) error{
	"auth_namespaces": func(ctx context.Context, base string, out *lines) error {
		// Two namespaces over one connection, each with its own auth.
		m, err := wasmclient.NewManager(base, &wasmclient.Options{Query: url.Values{"app": {"demo"}}, NoReconnection: true})
		if err != nil {
			return err
		}
		defer m.Close()
		for _, c := range []struct{ tag, nsp, key, value string }{
			{"main", "/", "token", "abc"},
			{"admin", "/admin", "role", "admin"},
		} {
			s := m.Socket(c.nsp)
			s.SetAuth(map[string]any{c.key: c.value})
			who := events(s, "whoami")
			if err := s.Connect(ctx); err != nil {
				return err
			}
			defer s.Disconnect()
			a, err := next(ctx, who)
			if err != nil {
				return err
			}
			v := values(a)
			shown := map[string]any{"auth": v[1], "idMatches": v[0] == s.ID()}
			if c.tag == "main" {
				shown["query"] = v[2]
			}
			out.add(c.tag, shown)
		}
		if m.Socket("/").ID() == m.Socket("/admin").ID() {
			return errors.New("two namespaces got the same socket id")
		}
		for _, c := range []struct {
			tag, nsp string
			auth     any
		}{
			{"guest", "/admin", map[string]any{"role": "guest"}},
			{"nope", "/nope", nil},
		} {
			_, err := wasmclient.Dial(ctx, base+c.nsp, &wasmclient.Options{Auth: c.auth, NoReconnection: true})
			var ce *wasmclient.ConnectError
			if !errors.As(err, &ce) {
				return fmt.Errorf("%s: Dial err = %v, want a *ConnectError", c.nsp, err)
			}
			out.add(c.tag, ce.Message)
		}
		return nil
	},

	"events": func(ctx context.Context, base string, out *lines) error {
		s, err := wasmclient.Dial(ctx, base, noReconnection)
		if err != nil {
			return err
		}
		defer s.Disconnect()
		for _, c := range []struct {
			send, reply string
			args        []any
		}{
			{"multi", "multi-back", []any{1, "two", map[string]any{"three": []any{3}}, nil, true, 4.5, "héllo 👋"}},
			{"typed", "typed-back", nil},
			{"noargs", "noargs-back", nil},
		} {
			back := events(s, c.reply)
			if err := s.Emit(c.send, c.args...); err != nil {
				return err
			}
			a, err := next(ctx, back)
			if err != nil {
				return err
			}
			out.add(c.reply, values(a))
		}
		return nil
	},

	"acks": func(ctx context.Context, base string, out *lines) error {
		s, err := wasmclient.New(base, noReconnection)
		if err != nil {
			return err
		}
		s.On("ask", func(a shared.Args, ack shared.AckFunc) error {
			var q string
			var n float64
			if err := errors.Join(a.Decode(0, &q), a.Decode(1, &n)); err != nil {
				return err
			}
			return ack("answer:"+q, n*2)
		})
		s.On("ignored", func(shared.Args, shared.AckFunc) error { return nil })
		asked, ignored := events(s, "ask-result"), events(s, "ignored-result")
		if err := s.Connect(ctx); err != nil {
			return err
		}
		defer s.Disconnect()
		for _, c := range []struct {
			tag  string
			args []any
		}{{"sum", []any{40, 2}}, {"several", nil}} {
			a, err := s.EmitWithAck(ctx, c.tag, c.args...)
			if err != nil {
				return err
			}
			out.add(c.tag, values(a))
		}
		res, err := echo.Call(ctx, s, "hi")
		if err != nil {
			return err
		}
		out.add("echo", res)
		a, err := s.EmitWithAck(ctx, "echo", "fail")
		if err != nil {
			return err
		}
		out.add("echo-fail", values(a))
		for _, c := range []struct {
			send, reply string
			ch          <-chan shared.Args
		}{{"ask-me", "ask-result", asked}, {"ask-ignored", "ignored-result", ignored}} {
			if err := s.Emit(c.send); err != nil {
				return err
			}
			a, err := next(ctx, c.ch)
			if err != nil {
				return err
			}
			out.add(c.reply, values(a))
		}
		// The timeout under test, as short as the official scenario's.
		tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = s.EmitWithAck(tctx, "no-answer")
		out.add("client-timeout", errors.Is(err, shared.ErrAckTimeout))
		return nil
	},

	"binary": func(ctx context.Context, base string, out *lines) error {
		s, err := wasmclient.New(base, noReconnection)
		if err != nil {
			return err
		}
		s.On("bin-ask", func(a shared.Args, ack shared.AckFunc) error {
			var b []byte
			if err := a.Decode(0, &b); err != nil {
				return err
			}
			return ack(append(bytes.Clone(b), 7))
		})
		down, asked := events(s, "download"), events(s, "bin-ask-result")
		if err := s.Connect(ctx); err != nil {
			return err
		}
		defer s.Disconnect()
		if err := s.Emit("upload", []byte{0, 1, 2, 255}, map[string]any{"name": "a.bin", "body": []byte("hello")}); err != nil {
			return err
		}
		a, err := next(ctx, down)
		if err != nil {
			return err
		}
		out.add("download", values(a))
		if a, err = s.EmitWithAck(ctx, "bin-echo", []byte{1, 2, 3}); err != nil {
			return err
		}
		out.add("bin-echo", values(a))
		if err := s.Emit("bin-ask-me"); err != nil {
			return err
		}
		if a, err = next(ctx, asked); err != nil {
			return err
		}
		out.add("bin-ask-result", values(a))
		if a, err = s.EmitWithAck(ctx, "bin-echo", []byte{}); err != nil {
			return err
		}
		out.add("bin-echo-empty", values(a))
		big := bytes.Repeat([]byte{0xab}, 200000)
		if a, err = s.EmitWithAck(ctx, "bin-echo", big); err != nil {
			return err
		}
		var back []byte
		var n int
		if err := errors.Join(a.Decode(0, &back), a.Decode(1, &n)); err != nil {
			return err
		}
		out.add("bin-echo-big", []any{bytes.Equal(back, big), n})
		ten := make([]any, 10)
		for i := range ten {
			ten[i] = []byte{byte(i)}
		}
		if a, err = s.EmitWithAck(ctx, "bin-count", ten...); err != nil {
			return err
		}
		out.add("bin-count", values(a))
		return nil
	},

	"rooms": func(ctx context.Context, base string, out *lines) error {
		type member struct {
			s       *wasmclient.Socket
			mu      sync.Mutex
			log     []string
			markers chan struct{}
		}
		names := []string{"A", "B", "C"}
		m := map[string]*member{}
		for _, name := range names {
			s, err := wasmclient.New(base, noReconnection)
			if err != nil {
				return err
			}
			mb := &member{s: s, log: []string{}, markers: make(chan struct{}, 4)}
			record := func(prefix string, a shared.Args) {
				v := values(a)
				mb.mu.Lock()
				mb.log = append(mb.log, fmt.Sprint(prefix, v[0]))
				mb.mu.Unlock()
			}
			s.On("shouted", func(a shared.Args, _ shared.AckFunc) error { record("shouted:", a); return nil })
			s.On("marker", func(a shared.Args, _ shared.AckFunc) error {
				record("marker:", a)
				mb.markers <- struct{}{}
				return nil
			})
			if err := s.Connect(ctx); err != nil {
				return err
			}
			defer s.Disconnect()
			m[name] = mb
		}
		A, B := m["A"].s, m["B"].s
		awaitMarkers := func() error {
			for _, name := range names {
				select {
				case <-m[name].markers:
				case <-ctx.Done():
					return fmt.Errorf("%s got no marker: %w", name, ctx.Err())
				}
			}
			return nil
		}
		for _, s := range []*wasmclient.Socket{A, B} {
			if _, err := s.EmitWithAck(ctx, "join", "r1"); err != nil {
				return err
			}
		}
		for _, e := range [][]any{{"shout", "r1", "hello"}, {"shout-others", "r1", "psst"}, {"marker", 1}} {
			if err := A.Emit(e[0].(string), e[1:]...); err != nil {
				return err
			}
		}
		if err := awaitMarkers(); err != nil {
			return err
		}
		if _, err := B.EmitWithAck(ctx, "leave", "r1"); err != nil {
			return err
		}
		for _, c := range []struct {
			tag string
			s   *wasmclient.Socket
		}{{"rooms-of-a", A}, {"rooms-of-b", B}} {
			a, err := c.s.EmitWithAck(ctx, "my-rooms")
			if err != nil {
				return err
			}
			out.add(c.tag, values(a)[0])
		}
		for _, e := range [][]any{{"shout", "r1", "again"}, {"marker", 2}} {
			if err := A.Emit(e[0].(string), e[1:]...); err != nil {
				return err
			}
		}
		if err := awaitMarkers(); err != nil {
			return err
		}
		for _, name := range names {
			mb := m[name]
			mb.mu.Lock()
			out.add(name, mb.log)
			mb.mu.Unlock()
		}
		return nil
	},

	"connect_error": func(ctx context.Context, base string, out *lines) error {
		for _, token := range []string{"data", "plain"} {
			s, err := wasmclient.New(base+"/guarded", &wasmclient.Options{Auth: map[string]any{"token": token}, NoReconnection: true})
			if err != nil {
				return err
			}
			err = s.Connect(ctx)
			var ce *wasmclient.ConnectError
			if !errors.As(err, &ce) {
				return fmt.Errorf("token %s: Connect err = %v, want a *ConnectError", token, err)
			}
			shown := map[string]any{"message": ce.Message, "active": s.Active()}
			if len(ce.Data) > 0 {
				shown["data"] = ce.Data
			}
			out.add("refused-"+token, shown)
		}
		s, err := wasmclient.Dial(ctx, base+"/guarded", &wasmclient.Options{Auth: map[string]any{"token": "good"}, NoReconnection: true})
		if err != nil {
			return err
		}
		out.add("accepted", s.Connected())
		return s.Disconnect()
	},

	"disconnect": func(ctx context.Context, base string, out *lines) error {
		kicked, err := wasmclient.Dial(ctx, base, noReconnection)
		if err != nil {
			return err
		}
		defer kicked.Disconnect()
		reasons := make(chan string, 1)
		kicked.OnDisconnect(func(r string) { reasons <- r })
		if err := kicked.Emit("kick-me"); err != nil {
			return err
		}
		r, err := next(ctx, reasons)
		if err != nil {
			return err
		}
		out.add("kicked", map[string]any{"reason": r, "active": kicked.Active()})

		leaving, err := wasmclient.Dial(ctx, base, noReconnection)
		if err != nil {
			return err
		}
		leaving.OnDisconnect(func(r string) { reasons <- r })
		if err := leaving.Disconnect(); err != nil {
			return err
		}
		if r, err = next(ctx, reasons); err != nil {
			return err
		}
		out.add("left", r)
		return nil
	},

	"disconnect_hard": func(ctx context.Context, base string, out *lines) error {
		m, err := wasmclient.NewManager(base, noReconnection)
		if err != nil {
			return err
		}
		defer m.Close()
		main, admin := m.Socket("/"), m.Socket("/admin")
		admin.SetAuth(map[string]any{"role": "admin"})
		reasons := map[*wasmclient.Socket]chan string{main: make(chan string, 1), admin: make(chan string, 1)}
		for s, ch := range reasons {
			s.OnDisconnect(func(r string) { ch <- r })
			if err := s.Connect(ctx); err != nil {
				return err
			}
		}
		if err := main.Emit("kick-me-hard"); err != nil {
			return err
		}
		for _, c := range []struct {
			tag string
			s   *wasmclient.Socket
		}{{"main", main}, {"admin", admin}} {
			r, err := next(ctx, reasons[c.s])
			if err != nil {
				return err
			}
			out.add(c.tag, r)
		}
		return nil
	},

	// Seven pings 100 ms apart outlast pingInterval + pingTimeout (600 ms):
	// a server whose pings went unanswered would have dropped the client.
	"heartbeat": func(ctx context.Context, base string, out *lines) error {
		s, err := wasmclient.New(base, noReconnection)
		if err != nil {
			return err
		}
		pings := make(chan struct{}, 16)
		s.Manager().OnPing(func() {
			select {
			case pings <- struct{}{}:
			default:
			}
		})
		if err := s.Connect(ctx); err != nil {
			return err
		}
		defer s.Disconnect()
		for i := 0; i < 7; i++ {
			if _, err := next(ctx, pings); err != nil {
				return fmt.Errorf("ping %d: %w", i+1, err)
			}
		}
		out.add("heartbeat", map[string]any{"connected": s.Connected()})
		res, err := echo.Call(ctx, s, "still here")
		if err != nil {
			return err
		}
		out.add("echo", res)
		return nil
	},
}

// noReconnection mirrors the official scenarios' reconnection: false.
var noReconnection = &wasmclient.Options{NoReconnection: true}

// events returns a channel that receives the arguments of every event
// named name; register it before the event can arrive.
func events(s *wasmclient.Socket, name string) <-chan shared.Args {
	ch := make(chan shared.Args, 16)
	s.On(name, func(a shared.Args, _ shared.AckFunc) error {
		select {
		case ch <- a:
		default:
		}
		return nil
	})
	return ch
}

func next[T any](ctx context.Context, ch <-chan T) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("waiting: %w", ctx.Err())
	}
}
