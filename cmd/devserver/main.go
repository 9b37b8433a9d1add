// Command devserver is the `node app.js` of tsunagi: it builds client.wasm,
// serves the pages of web/ and hosts the Socket.IO endpoint, with the demo
// of the Socket.IO tutorial: on connect it emits `news` {"hello":"world"},
// and it logs each `my other event` the page sends back.
//
//	go run ./cmd/devserver            # http://127.0.0.1:8124/
//	go run ./cmd/devserver -addr 127.0.0.1:9000 -web ./mypages -wasm ./myclient
//
// It binds -addr before it builds client.wasm, so the port is its own from
// the start (-addr 127.0.0.1:0 takes a free one), and prints
// "listening on http://<address>/" with the bound address once it serves.
//
// It is a dev loop: it watches the pages folder (-web) and the Go packages
// of the main module(s) that client.wasm is built from. A change of a page
// reloads the open pages; a change of the client's code rebuilds
// client.wasm and reloads them when the build differs (a no-op edit does
// not reload). The pages need no change for it: every HTML page served
// gets a small script that keeps a WebSocket to /_tsunagi/reload (loopback
// pages only), reloads on command, shows a build error in an overlay until
// the fix, and reloads after the devserver restarts. A failed build leaves
// the last good one served, and prints the error here too. Gzip is served
// at once, brotli once made (the first build at once, a rebuild after 20 s
// without another).
//
// With -run PKG it builds the main package PKG, your own server, and runs
// it as a child process instead of the demo's handlers. The child listens
// on the address in $TSUNAGI_ADDR (127.0.0.1:port; $PORT holds the port
// alone); the devserver serves the pages, client.wasm, the loader and the
// reload endpoint itself and proxies everything else, /socket.io/ HTTP and
// WebSocket included, to it. When its code changes it is rebuilt, then the
// old process gets SIGINT (SIGKILL 5 s later) and the new one starts; open
// pages reconnect by themselves. A broken build keeps the old one running
// and shows the overlay. The child's output is printed with a [PKG]
// prefix, and it ends with the devserver.
//
//	go run github.com/tsunagi/tsunagi/cmd/devserver -web web -wasm ./client -run ./server
//
// With -build DIR it serves nothing: it builds client.wasm for production
// (-trimpath -ldflags=-s -w; development builds keep the wasm name section)
// and writes DIR: client.<hash>.wasm with .br and .gz, wasm_exec.<hash>.js,
// the loader naming them, manifest.json; with -pkg NAME also DIR/embed.go,
// a package NAME whose FS embeds them. web.OpenBuild serves either.
//
//	go run github.com/tsunagi/tsunagi/cmd/devserver -wasm ./client -build dist -pkg dist
//
// With -admin the demo server gets the Admin UI's /admin namespace
// (package server/admin) in development mode, with no auth, for loopback
// clients only, and the UI's files (the ui/dist of npm
// @socket.io/admin-ui: -admin-ui DIR, or found under node_modules) are
// served on a loopback port of their own; it prints "Admin UI: open
// http://…/", whose page is set to connect to this server.
//
// Flags: -addr, -web, -wasm as above; -run PKG; -watch=false to build once
// and neither reload nor restart; -tags for both builds; -trace; -build DIR
// and -pkg NAME; -admin and -admin-ui DIR. `devserver -h` lists them.
package main

import (
	"log"

	dev "github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

// The tutorial's events.
type (
	News struct {
		Hello string `json:"hello"`
	}
	MyData struct {
		My string `json:"my"`
	}
)

var (
	NewsEvent    = shared.NewEvent[News]("news")
	MyOtherEvent = shared.NewEvent[MyData]("my other event")
)

func main() {
	dev.Main(dev.Config{Addr: "127.0.0.1:8124", Web: "web", Wasm: dev.DefaultWasm}, demo)
}

func demo(io *server.Server) {
	if *adminOn {
		startAdmin(io)
	}
	io.OnConnection(func(s *server.Socket) {
		log.Printf("connected: %s from %s", s.ID(), s.Handshake().Address)
		NewsEvent.Emit(s, News{Hello: "world"})
		MyOtherEvent.On(s, func(d MyData) {
			log.Printf(`my other event: {"my":%q}`, d.My)
		})
		s.OnDisconnect(func(reason string) { log.Printf("disconnected: %s (%s)", s.ID(), reason) })
	})
}
