// Package redisadapter joins tsunagi servers, and Node socket.io servers,
// into one cluster over Redis, with the protocols of Node's adapters
// (Options.Mode): the classic adapter, @socket.io/redis-adapter 8.3
// createAdapter (PUBLISH/PSUBSCRIBE); its sharded adapter,
// createShardedAdapter (Redis 7 SPUBLISH/SSUBSCRIBE, a Redis Cluster
// included); and @socket.io/redis-streams-adapter 0.3 (XADD/XREAD), with
// connection state recovery across servers. The core package server does
// not import it.
//
// # The adapter
//
// A Cluster (New) holds the Redis connections of one server, and its
// Adapter method is the server.Options.Adapter that gives each namespace
// its adapter:
//
//	cluster, err := redisadapter.New(ctx, redisadapter.Options{URL: "redis://127.0.0.1:6379"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer cluster.Close()
//	io := server.New(&server.Options{Adapter: cluster.Adapter})
//
// Every request type of the protocol works both ways with Node servers:
// broadcasts (rooms, except, volatile, compress, binary), broadcasts with
// acks and per-server client counts, fetchSockets, socketsJoin,
// socketsLeave, disconnectSockets, serverSideEmit with and without ack,
// allRooms and serverCount (PUBSUB NUMSUB). Each request is answered
// exactly once, on the requester's specific response channel unless
// Options.SharedResponseChannel. Requests to silent servers end at their
// deadline with what arrived and an error that gives the number missing.
//
// The client is github.com/redis/go-redis/v9. The Cluster keeps a pool for
// PUBLISH and PUBSUB (fed by one goroutine that pipelines whatever queued
// up, at most once: no retries) and one subscriber connection, read by one
// goroutine into a bounded queue, so Redis never cuts it off for a full
// output buffer; what the queue cannot hold is dropped and counted. A lost
// subscription (Redis restarted) is a gap: go-redis subscribes again when
// it connects, and the gap is counted and logged; a probe published to the
// subscriber itself finds a subscription that lapsed without an error.
// Cluster.Stats (server.AdapterStats) has the counters.
//
// Connection state recovery stays per server, as with Node's classic
// adapter: a client that comes back to another server starts anew.
//
// Package emitter, below this one, is the emitter of
// @socket.io/redis-emitter 5: it emits to the cluster from a process that
// is not a server.
//
// # The wire codec
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
// RequestType numbers are those of the classic protocol only. The sharded
// and streams adapters speak socket.io-adapter's ClusterAdapter protocol
// (ClusterMessage, MessageType: 7 is BROADCAST in one and FETCH_SOCKETS in
// the other), decoded by DecodeClusterMessage and, for stream entries, from
// their uid/nsp/type/data fields.
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
// # Not built
//
//   - Classic mode on a Redis Cluster: PUBLISH reaches every node and NUMSUB
//     is summed over them, but it is not tested there.
//   - The heartbeat variant (ClusterAdapterWithHeartbeat, types 1, 2 and 13),
//     which the streams adapter stopped using in 0.3: those messages are
//     read and ignored.
package redisadapter
