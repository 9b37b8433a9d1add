// Package redisadapter is the wire codec of the classic Redis adapter of
// Node socket.io, @socket.io/redis-adapter 8.3 createAdapter (Redis
// PUBLISH/PSUBSCRIBE), for tsunagi servers that join a cluster of Node and
// tsunagi servers. The core package server does not import it.
//
// # What is here
//
//   - Channel names (NewChannels): broadcast "{key}#{nsp}#", room broadcast
//     "{key}#{nsp}#{room}#", the pattern "{key}#{nsp}#*", request
//     "{key}-request#{nsp}#", response "{key}-response#{nsp}#" and the
//     specific response channel "{key}-response#{nsp}#{uid}#".
//   - BroadcastMessage, the msgpack array [uid, packet, opts] of the
//     broadcast channels; Request (types 0 to 7) and Response (untyped
//     replies and types 6, 8, 9) of the request and response channels.
//     Encode produces the bytes Node's notepack.io (or JSON.stringify)
//     produces for the same message, key order included: msgpack for
//     BROADCAST (7) and BROADCAST_ACK (9), JSON for the rest, as Node
//     sends them. The decoders accept either format on the request and
//     response channels, as Node does (a first byte '{' means JSON).
//   - Packet data stays msgpack (Value), so binary arguments are msgpack
//     bin (a Node Buffer) and relay unchanged; EventData builds it.
//     Payloads of JSON messages are JSONValue.
//
// Where the bytes may differ from Node's while the value is the same: flags
// are written in a fixed order (volatile, compress, timeout,
// expectSingleResponse), Node writes them in the order they were set;
// encoding/json escapes U+2028 and U+2029 in strings, JSON.stringify does
// not; EncodeValue sorts map keys. A payload converted between JSON and
// msgpack (a message in the format Node does not use for its type) follows
// JSON.stringify and JSON.parse: a Buffer becomes {"type":"Buffer","data":
// [...]}, a Date its toJSON string, NaN and ±Infinity null.
//
// The type numbers are those of the classic protocol only. The sharded and
// streams adapters use socket.io-adapter's ClusterAdapter numbers (7 is
// BROADCAST here and FETCH_SOCKETS there) and need a codec of their own.
//
// Decoding reads untrusted bytes (anyone who can PUBLISH can send them).
// Every msgpack message is first checked without recursion: one value, no
// trailing bytes, lengths that fit the message, nesting up to MaxDepth,
// UTF-8 strings, no ext type but the timestamp. Then the fields each type
// needs are checked. Errors wrap ErrMalformed (and ErrUnknownRequestType
// for an unknown request type); nothing panics (FuzzDecode).
//
// Example: the broadcast io.to("room1").emit("hello", "world", 1):
//
//	data, _ := redisadapter.EventData("hello", "world", 1)
//	msg := redisadapter.BroadcastMessage{
//		UID:    uid,
//		Packet: redisadapter.Packet{Data: data, Nsp: "/"},
//		Opts:   redisadapter.BroadcastOptions{Rooms: []string{"room1"}},
//	}
//	b, _ := msg.Encode()
//	// PUBLISH redisadapter.NewChannels("", "/", uid).BroadcastChannel(msg.Opts.Rooms) b
//
// # Still to build for issue 14
//
//   - The adapter itself, on go-redis v9 or rueidis (chosen by measurement
//     and by how each survives reconnects and slot moves): one adapter per
//     namespace, PSUBSCRIBE and SUBSCRIBE, PUBSUB NUMSUB as the server
//     count, every request type answered exactly once, the specific
//     response channel, request timeouts with partial results, and the
//     faults of the issue (Redis down, unreachable, silent peers, subscriber
//     overload, malformed messages dropped and counted).
//   - The conversion between Value and tsunagi's placeholder JSON packets
//     (shared.Packet), and the handshake mapping of fetchSockets.
//   - The Adapter interface additions in package server (serverSideEmit,
//     allRooms, session persist/restore).
//   - The sharded adapter (createShardedAdapter, SPUBLISH, Redis Cluster)
//     and the streams adapter (@socket.io/redis-streams-adapter 0.3, with
//     connection state recovery across servers), both on the ClusterAdapter
//     codec; an emitter compatible with @socket.io/redis-emitter 5; the
//     benchserver flags, the Node/Go test matrix and the benchmarks.
package redisadapter
