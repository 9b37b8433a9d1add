//go:build !js

package redisadapter

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tsunagi/tsunagi/server"
)

// FuzzHandle gives any bytes, on each kind of channel, to the code that
// handles what other servers publish: decoding, the conversion to a local
// packet, the local delivery and the answers. Nothing may panic; a
// malformed message is counted, and no message makes the adapter publish
// more than a request's answers.
func FuzzHandle(f *testing.F) {
	fuzzSeeds(f)
	srv := server.New(&server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Cleanup(func() { srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	c := &Cluster{
		opts: Options{Key: DefaultKey, RequestsTimeout: 1},
		out:  make(chan outMsg, 1<<10),
		in:   make(chan inMsg, 1),
		sse:  make(chan func(), 1<<10),
	}
	c.log.Store(slog.New(slog.NewTextHandler(io.Discard, nil)))
	a := newAdapter(c, ns)
	a.MemoryAdapter.AddAll("sock", []string{"sock", "room1", "r"})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range []inMsg{
			{channel: a.ch.Broadcast, pattern: a.ch.Pattern, payload: string(b)},
			{channel: a.ch.Room("room1"), pattern: a.ch.Pattern, payload: string(b)},
			{channel: a.ch.Request, payload: string(b)},
			{channel: a.ch.Response, payload: string(b)},
			{channel: a.ch.SpecificResponse, payload: string(b)},
		} {
			a.handle(m)
		}
		for len(c.sse) > 0 {
			(<-c.sse)()
		}
		for len(c.out) > 0 {
			<-c.out
		}
	})
}
