//go:build !js

package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/wait"
)

const (
	// recoveryServer is a -run server with connection state recovery on.
	// A page joins "room" once, on its first connection. Each process
	// emits "<version> start" to the room before it listens, which no page
	// is connected to get live: a page gets it only by recovering, from the
	// state the previous process saved; and "<version> stop" as it stops,
	// while the page is still connected (or not: then it is recovered too).
	recoveryServer = `package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/tsunagi/tsunagi/server"
)

const version = %q

func main() {
	io := server.New(&server.Options{
		OriginPatterns: []string{"127.0.0.1:*"},
		Recovery:       server.RecoveryOptions{MaxDisconnectionDuration: time.Minute},
	})
	io.OnConnection(func(s *server.Socket) {
		if !s.Recovered() {
			s.Join("room")
		}
		s.Emit("hello", version)
	})
	io.To("room").Emit("tick", version+" start")
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	hs := &http.Server{Addr: os.Getenv("TSUNAGI_ADDR"), Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		io.To("room").Emit("tick", version+" stop")
		io.Shutdown(context.Background())
		hs.Shutdown(context.Background())
	}()
	log.Printf("server %%s on %%s", version, hs.Addr)
	if err := hs.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
`
	recoveryPage = `<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <script src="/socket.io/socket.io.js"></script>
  <script>
    var seen = {ids: [], recovered: [], hellos: [], ticks: []};
    var socket = io.connect('http://localhost');
    socket.on('connect', function () { seen.ids.push(socket.id); seen.recovered.push(socket.recovered); });
    socket.on('hello', function (v) { seen.hellos.push(v); });
    socket.on('tick', function (v) { seen.ticks.push(v); });
  </script>
</head>
<body></body>
</html>
`
)

// TestRunChildRestartRecovers: with recovery on, a page open across a
// restart of the -run server is recovered by the new process: the same
// socket id, socket.recovered true, still in the room it joined before
// (it does not join again), and every event emitted to that room, by the
// old process as it stopped and by the new one before the page was back,
// each once, with no reload.
func TestRunChildRestartRecovers(t *testing.T) {
	mod := userModule(t)
	src := filepath.Join(mod, "server", "main.go")
	write(t, src, fmt.Sprintf(recoveryServer, "v1"))
	write(t, filepath.Join(mod, "web", "recover.html"), recoveryPage)
	d := startIn(t, mod, "-web", "web", "-run", "./server")
	d.proc.WaitOutput(t, wait.Deadline(), regexp.QuoteMeta(`[server] `)+`.*server v1 on `)
	ctx, loads := browserPage(t, d.base+"/recover.html")
	waitPage(t, ctx, "the hello of server v1", `seen.hellos.join() === "v1"`)

	write(t, src, fmt.Sprintf(recoveryServer, "v2"))
	waitPage(t, ctx, "the hello of server v2 and both ticks", `seen.hellos.length === 2 && seen.ticks.length >= 2`)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(seen)`))
	if err != nil {
		t.Fatalf("read the page's events: %v", err)
	}
	var seen struct {
		IDs       []string `json:"ids"`
		Recovered []bool   `json:"recovered"`
		Hellos    []string `json:"hellos"`
		Ticks     []string `json:"ticks"`
	}
	if err := json.Unmarshal([]byte(got), &seen); err != nil {
		t.Fatalf("the page's events %q: %v", got, err)
	}
	if len(seen.IDs) != 2 || seen.IDs[0] == "" || seen.IDs[0] != seen.IDs[1] ||
		!reflect.DeepEqual(seen.Recovered, []bool{false, true}) ||
		!reflect.DeepEqual(seen.Hellos, []string{"v1", "v2"}) ||
		!reflect.DeepEqual(seen.Ticks, []string{"v1 stop", "v2 start"}) {
		t.Fatalf("the page across the restart: %s\nwant the same id twice, recovered false then true, hellos v1 v2, ticks \"v1 stop\" \"v2 start\"", got)
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d page loads, want 1: the page reloaded instead of reconnecting", n)
	}
	d.stop(t)
}
