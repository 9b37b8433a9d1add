// Command chat is a small chat with rooms: its server is the devserver with
// the chat's handlers, and its browser side is a Go wasm program
// (./client), not JavaScript. Both import ./events.
//
//	go run ./examples/chat      # http://127.0.0.1:8125/
package main

import (
	"errors"
	"strings"

	"github.com/tsunagi/tsunagi/examples/chat/events"
	dev "github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/server"
)

func main() {
	dev.Main(dev.Config{
		Addr: "127.0.0.1:8125",
		Web:  "examples/chat/web",
		Wasm: "github.com/tsunagi/tsunagi/examples/chat/client",
	}, Setup)
}

// Setup installs the chat's handlers on io.
func Setup(io *server.Server) {
	io.OnConnection(func(s *server.Socket) {
		events.Join.Handle(s, func(req events.JoinRequest) (int, error) {
			room := strings.TrimSpace(req.Room)
			if room == "" || len(room) > 64 {
				return 0, errors.New("a room name has 1 to 64 characters")
			}
			for _, r := range s.Rooms() {
				if r != s.ID() {
					s.Leave(r)
				}
			}
			s.Join(room)
			s.SetData(room)
			n := len(io.To(room).Sockets())
			events.Joined.Emit(io.To(room), events.Presence{Room: room, User: req.User, Count: n})
			return n, nil
		})
		events.Say.On(s, func(m events.Message) {
			room, _ := s.Data().(string)
			if room == "" || strings.TrimSpace(m.Text) == "" {
				return
			}
			m.Room = room // a socket speaks only where it is
			events.Said.Emit(io.To(room), m)
		})
	})
}
