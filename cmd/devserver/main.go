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
	io.OnConnection(func(s *server.Socket) {
		log.Printf("connected: %s from %s", s.ID(), s.Handshake().Address)
		NewsEvent.Emit(s, News{Hello: "world"})
		MyOtherEvent.On(s, func(d MyData) {
			log.Printf(`my other event: {"my":%q}`, d.My)
		})
		s.OnDisconnect(func(reason string) { log.Printf("disconnected: %s (%s)", s.ID(), reason) })
	})
}
