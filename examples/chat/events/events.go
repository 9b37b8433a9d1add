// Package events declares the chat's events, once, for both ends: the
// server (examples/chat) and the Go wasm client (examples/chat/client)
// import it, so each emit and each handler is checked by the compiler.
package events

import "github.com/tsunagi/tsunagi/shared"

// Message is one chat line.
type Message struct {
	Room string `json:"room"`
	User string `json:"user"`
	Text string `json:"text"`
}

// Presence tells a room who came or went.
type Presence struct {
	Room  string `json:"room"`
	User  string `json:"user"`
	Count int    `json:"count"` // sockets in the room now
}

// JoinRequest asks to move to a room.
type JoinRequest struct {
	Room string `json:"room"`
	User string `json:"user"`
}

var (
	// Say is a line typed by a user: client → server.
	Say = shared.NewEvent[Message]("say")
	// Said is a line for everybody in its room: server → clients.
	Said = shared.NewEvent[Message]("said")
	// Join moves the sender to a room; the reply is how many are there.
	Join = shared.NewRequest[JoinRequest, int]("join")
	// Joined tells a room that somebody arrived.
	Joined = shared.NewEvent[Presence]("joined")
)
