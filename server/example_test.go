package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"time"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/engineio"
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

// Transports: polling and WebSocket are both accepted, and a polling client
// upgrades, as with Socket.IO. The options shape polling and the upgrade;
// here a browser app on another origin, behind a load balancer that keeps
// sessions on the io cookie, with a token required to connect.
func ExampleOptions_transports() {
	srv := server.New(&server.Options{
		Transports:     []string{engineio.Polling, engineio.WebSocket}, // the default
		UpgradeTimeout: 10 * time.Second,                               // the default
		// DisableUpgrades: true, // keeps polling clients on polling
		CORS: &engineio.CORS{
			Origins:     []string{"https://app.example.com"},
			Credentials: true,
		},
		Cookie: &engineio.Cookie{}, // Set-Cookie: io=<sid>; Path=/; HttpOnly; SameSite=Lax
		AllowRequest: func(r *http.Request) error {
			if r.URL.Query().Get("token") == "" {
				return errors.New("a token is required")
			}
			return nil
		},
	})
	ts := httptest.NewServer(srv) // in an app: http.Handle("/socket.io/", srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	// What socket.io-client sends first, from https://app.example.com.
	handshake := func(query string) {
		req, _ := http.NewRequest("GET", ts.URL+"/socket.io/?EIO=4&transport=polling"+query, nil)
		req.Header.Set("Origin", "https://app.example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			fmt.Println(resp.StatusCode, string(body))
			return
		}
		var open struct{ Upgrades []string }
		_ = json.Unmarshal(body[1:], &open) // the open packet: 0{"sid":…,"upgrades":…}
		fmt.Println(resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"),
			resp.Cookies()[0].Name, open.Upgrades)
	}
	handshake("&token=secret")
	handshake("")
	// Output:
	// 200 https://app.example.com io [websocket]
	// 403 {"code":4,"message":"a token is required"}
}
