package server_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"regexp"
	"time"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

// Rooms: each socket joins the room it asks for; a line goes to the others
// in that room.
func ExampleBroadcast() {
	srv := server.New(nil)
	srv.OnConnection(func(s *server.Socket) {
		s.On("join", func(a shared.Args, _ shared.AckFunc) error {
			var room string
			if err := a.Decode(0, &room); err != nil {
				return err
			}
			s.Join(room)
			s.SetData(room)
			return nil
		})
		s.On("say", func(a shared.Args, _ shared.AckFunc) error {
			room, _ := s.Data().(string)
			var text string
			a.Decode(0, &text)
			return s.To(room).Emit("said", text) // the room, but not the sender
		})
	})
	// Elsewhere: everyone in "lobby" but the muted, and a poll with replies.
	srv.To("lobby").Except("muted").Emit("notice", "closing in 5 minutes")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	replies, err := srv.To("lobby").EmitWithAck(ctx, "still there?")
	log.Println(len(replies), err)
	http.Handle("/socket.io/", srv)
}

// Dynamic namespaces: one per workspace, created on first CONNECT, all
// sharing the parent's middleware and handlers.
func ExampleServer_OfRegexp() {
	srv := server.New(nil)
	workspaces := srv.OfRegexp(regexp.MustCompile(`^/workspace-[a-z0-9]+$`))
	workspaces.Use(func(s *server.Socket) error {
		if s.Handshake().Auth == nil {
			return &server.ConnectError{Message: "sign in first", Data: map[string]string{"login": "/login"}}
		}
		return nil
	})
	workspaces.OnConnection(func(s *server.Socket) {
		s.Namespace().Emit("arrived", s.ID()) // to this workspace only
	})
	workspaces.Emit("maintenance", "tonight") // to every workspace
}

// Packet middleware: refuse some events for some sockets.
func ExampleSocket_Use() {
	srv := server.New(nil)
	srv.OnConnection(func(s *server.Socket) {
		s.Use(func(event string, _ shared.Args) error {
			if event == "admin:wipe" && s.Handshake().Query.Get("role") != "admin" {
				return errors.New("not allowed")
			}
			return nil
		})
		s.OnError(func(err error) {
			log.Printf("socket %s: %v", s.ID(), err)
			s.Disconnect(false)
		})
	})
}
