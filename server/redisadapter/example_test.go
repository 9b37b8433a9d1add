package redisadapter_test

import (
	"fmt"

	"github.com/tsunagi/tsunagi/server/redisadapter"
)

// The broadcast io.to("room1").emit("hello", "world", 1), as a Node server
// publishes it, and what a receiver reads from it.
func Example() {
	ch := redisadapter.NewChannels("", "/", "uUe5W8")
	data, err := redisadapter.EventData("hello", "world", 1)
	if err != nil {
		panic(err)
	}
	msg := redisadapter.BroadcastMessage{
		UID:    "uUe5W8",
		Packet: redisadapter.Packet{Data: data, Nsp: "/"},
		Opts:   redisadapter.BroadcastOptions{Rooms: []string{"room1"}},
	}
	b, err := msg.Encode()
	if err != nil {
		panic(err)
	}
	fmt.Printf("PUBLISH %s (%d bytes)\n", ch.BroadcastChannel(msg.Opts.Rooms), len(b))

	got, err := redisadapter.DecodeBroadcastMessage(b)
	if err != nil {
		panic(err)
	}
	var args []any
	if err := got.Packet.Data.Decode(&args); err != nil {
		panic(err)
	}
	fmt.Println(got.UID, got.Packet.Nsp, got.Opts.Rooms, args)
	// Output:
	// PUBLISH socket.io#/#room1# (69 bytes)
	// uUe5W8 / [room1] [hello world 1]
}

// A fetchSockets request from Node, and the answer of a server with no
// matching socket: every server answers once, even with nothing.
func ExampleDecodeRequest() {
	req, err := redisadapter.DecodeRequest([]byte(`{"uid":"uUe5W8","requestId":"L2G91w","type":5,"opts":{"rooms":[],"except":[]}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(req.Type, req.RequestID)
	res, err := redisadapter.Response{RequestID: req.RequestID, FetchedSockets: []redisadapter.SocketInfo{}}.Encode()
	if err != nil {
		panic(err)
	}
	fmt.Printf("PUBLISH %s %s\n", redisadapter.SpecificResponseChannel("", "/", req.UID), res)
	// Output:
	// REMOTE_FETCH L2G91w
	// PUBLISH socket.io-response#/#uUe5W8# {"requestId":"L2G91w","sockets":[]}
}
