package server_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

// TestSocketMiddleware: a packet middleware sees each event before any
// handler; its error drops the event, reaches OnError, and answers an
// acked event with the error at once.
func TestSocketMiddleware(t *testing.T) {
	t.Parallel()
	srv, url, logs := start(t, nil)
	seen := make(chan string, 16)
	errs := make(chan error, 4)
	srv.OnConnection(func(s *server.Socket) {
		s.Use(func(event string, args shared.Args) error {
			seen <- "mw1 " + event
			if event == "admin:wipe" {
				return errors.New("not allowed")
			}
			return nil
		})
		s.Use(func(event string, args shared.Args) error {
			var n int
			if err := args.Decode(0, &n); err == nil && n < 0 {
				return errors.New("negative")
			}
			seen <- "mw2 " + event
			return nil
		})
		s.OnError(func(err error) { errs <- err })
		s.OnAny(func(event string, _ shared.Args) { seen <- "any " + event })
		for _, ev := range []string{"admin:wipe", "count"} {
			s.On(ev, func(a shared.Args, ack shared.AckFunc) error {
				seen <- "handler " + ev
				if ack != nil {
					return ack("done")
				}
				return nil
			})
		}
	})
	srv.Of("/plain").OnConnection(func(s *server.Socket) {
		s.Use(func(string, shared.Args) error { return errors.New("closed for now") })
	})
	p := newPeer(t, url, "/", "/plain")
	drain := func() []string {
		var out []string
		for {
			select {
			case s := <-seen:
				out = append(out, s)
			default:
				return out
			}
		}
	}

	writeText(t, p.ws, `42["count",1]`)
	writeText(t, p.ws, `421["count",2]`)
	if got := p.next(); got != `431["done"]` {
		t.Fatalf("ack: %q", got)
	}
	if got, want := drain(), []string{"mw1 count", "mw2 count", "any count", "handler count", "mw1 count", "mw2 count", "any count", "handler count"}; !slices.Equal(got, want) {
		t.Errorf("allowed events: %q, want %q", got, want)
	}

	writeText(t, p.ws, `42["admin:wipe"]`)
	if err := recv(t, errs); !strings.Contains(err.Error(), "not allowed") || !strings.Contains(err.Error(), "admin:wipe") {
		t.Errorf("OnError: %v", err)
	}
	writeText(t, p.ws, `427["admin:wipe"]`)
	if got := p.next(); got != `437[null,{"message":"not allowed"}]` {
		t.Errorf("refused acked event: %q", got)
	}
	recv(t, errs)
	writeText(t, p.ws, `428["count",-1]`)
	if got := p.next(); got != `438[null,{"message":"negative"}]` {
		t.Errorf("refused by the second middleware: %q", got)
	}
	recv(t, errs)
	if got, want := drain(), []string{"mw1 admin:wipe", "mw1 admin:wipe", "mw1 count"}; !slices.Equal(got, want) {
		t.Errorf("refused events reached %q, want only %q", got, want)
	}

	// A refusal without OnError is logged; the socket stays connected.
	writeText(t, p.ws, `42/plain,9["x"]`)
	if got := p.next(); got != `43/plain,9[null,{"message":"closed for now"}]` {
		t.Errorf("/plain: %q", got)
	}
	waitLog(t, logs, "closed for now")
	writeText(t, p.ws, `421["count",3]`)
	if got := p.next(); got != `431["done"]` {
		t.Errorf("after refusals: %q", got)
	}
}
