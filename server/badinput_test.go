package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// expectClosed reads until the server closes ws and returns the close error.
func expectClosed(t *testing.T, ws *websocket.Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("connection still open after bad input")
			}
			return err
		}
	}
}

func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	srv, url, logs := start(t, nil)
	srv.OnConnection(func(s *server.Socket) {
		echo.Handle(s, func(in string) (string, error) { return in, nil })
	})
	good := dial(t, url, nil)

	for _, tc := range []struct {
		name string
		send func(ws *websocket.Conn) error
		log  string // what the server's log must say
	}{
		{"unknown engine.io type", text("9"), "unknown Engine.IO packet type"},
		{"empty message", text(""), "empty Engine.IO packet"},
		{"unknown socket.io type", text("49[]"), "unknown packet type"},
		{"event that is an object", text(`42{}`), "EVENT payload must be an array"},
		{"garbage", text(`4abc`), "unknown packet type"},
		{"garbage after event type", text(`42abc["x"]`), "EVENT payload must be an array"},
		{"invalid json", text(`42["x",}`), "not valid JSON"},
		{"name is an object", text(`42[{"a":1},2]`), "event name must be a string"},
		{"name is null", text(`42[null]`), "event name must be a string"},
		{"name is a boolean", text(`42[true]`), "event name must be a string"},
		{"name is a number", text(`42[1]`), "event name must be a string"},
		{"reserved name", text(`42["disconnect"]`), "reserved"},
		{"ack id above 2^53", text(`429007199254740993["echo","x"]`), "above 2^53"},
		{"too many attachments", text(`4511-["x",{"_placeholder":true,"num":0}]`), "attachments"},
		{"placeholder out of range", text(`451-["x",{"_placeholder":true,"num":3}]`), "placeholder num"},
		{"placeholder num a string", text(`451-["x",{"_placeholder":true,"num":"0"}]`), "placeholder num"},
		{"text while binary expected", seq(text(`452-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), bin("a"), text(`42["x"]`)), "binary attachments were expected"},
		{"binary nobody announced", bin("zz"), "binary message without a binary packet"},
		{"payload over maxPayload", text(`42["x","` + strings.Repeat("a", wire.DefaultMaxPayload) + `"]`), "message over maxPayload"},
		{"deep json", text(`42["x",` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `]`), "not valid JSON"},
		{"client sends open", text(`0{}`), "unexpected Engine.IO open packet"},
		{"client sends CONNECT_ERROR", text(`44{"message":"x"}`), "may not send CONNECT_ERROR"},
		{"invalid utf-8 text frame", text("42[\"x\",\"\xff\xfe\"]"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := rawDial(t, url)
			readText(t, ws) // open
			writeText(t, ws, "40")
			readText(t, ws) // connect
			_ = tc.send(ws) // the server may close before all is written
			if tc.name == "invalid utf-8 text frame" {
				// Accepted or refused, the server must stay healthy; see below.
				ws.CloseNow()
			} else {
				expectClosed(t, ws)
				if tc.log != "" {
					waitLog(t, logs, tc.log)
				}
			}
			// The well-behaved client is unaffected.
			ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
			defer cancel()
			if res, err := echo.Call(ctx, good, tc.name); err != nil || res != tc.name {
				t.Fatalf("good client after %q: %q, %v", tc.name, res, err)
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

func text(s string) func(*websocket.Conn) error {
	return func(ws *websocket.Conn) error {
		return ws.Write(context.Background(), websocket.MessageText, []byte(s))
	}
}

func bin(s string) func(*websocket.Conn) error {
	return func(ws *websocket.Conn) error {
		return ws.Write(context.Background(), websocket.MessageBinary, []byte(s))
	}
}

func seq(fs ...func(*websocket.Conn) error) func(*websocket.Conn) error {
	return func(ws *websocket.Conn) error {
		for _, f := range fs {
			if err := f(ws); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestPanickingHandlerIsRecovered(t *testing.T) {
	t.Parallel()
	srv, url, logs := start(t, nil)
	srv.OnConnection(func(s *server.Socket) {
		s.On("boom", func(shared.Args, shared.AckFunc) error { panic("kaboom") })
		echo.Handle(s, func(in string) (string, error) { return in, nil })
	})
	c := dial(t, url, nil)
	c.Emit("boom")
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if res, err := echo.Call(ctx, c, "still here"); err != nil || res != "still here" {
		t.Fatalf("after a panic: %q, %v", res, err)
	}
	if !strings.Contains(logs.String(), "kaboom") {
		t.Fatalf("panic not logged:\n%s", logs.String())
	}
}

func TestUndecodablePayloadReachesErrorPath(t *testing.T) {
	t.Parallel()
	srv, url, logs := start(t, nil)
	called := make(chan MyData, 1)
	srv.OnConnection(func(s *server.Socket) {
		myOtherEvent.On(s, func(d MyData) { called <- d })
		echo.Handle(s, func(in string) (string, error) { return in, nil })
	})
	c := dial(t, url, nil)
	c.Emit("my other event", 42) // not an object
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	// A request whose payload does not decode gets an error reply.
	_, err := c.EmitWithAck(ctx, "echo", map[string]any{"not": "a string"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-called:
		t.Fatalf("handler called with %+v", d)
	default:
	}
	if !strings.Contains(logs.String(), `event \"my other event\" argument 0`) {
		t.Fatalf("decode error not logged:\n%s", logs.String())
	}
	res, err := echo.Call(ctx, c, "ok")
	if err != nil || res != "ok" {
		t.Fatalf("echo: %q %v", res, err)
	}
}
