package redisadapter

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// The golden messages of the sharded adapter, from the reference
// (socket.io-adapter 2.5.5 with @socket.io/redis-adapter 8.3.0).
const (
	goldenShardedJSON   = `{"type":3,"data":{"packet":{"type":2,"data":["hello","world"]},"opts":{"rooms":["room1"],"except":[],"flags":{}}},"uid":"d4f39888e2a23439","nsp":"/"}`
	goldenShardedBinary = "84a47479706503a46461746182a67061636b657482a47479706502a46461746192a362696ec4020102a46f70747383a5726f6f6d7390a665786365707490a5666c61677380a3756964b064346633393838386532613233343339a36e7370a12f"
)

func TestClusterMessageGolden(t *testing.T) {
	m, err := DecodeClusterMessage([]byte(goldenShardedJSON))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != MessageBroadcast || m.UID != "d4f39888e2a23439" || m.Nsp != "/" || len(m.Opts.Rooms) != 1 || m.Opts.Rooms[0] != "room1" {
		t.Fatalf("decoded %+v", m)
	}
	if js, _ := m.Packet.MarshalJSON(); string(js) != `["hello","world"]` {
		t.Fatalf("packet data %s", js)
	}
	b, err := m.EncodeJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != goldenShardedJSON {
		t.Fatalf("JSON\n got %s\nwant %s", b, goldenShardedJSON)
	}

	golden, _ := hex.DecodeString(goldenShardedBinary)
	m, err = DecodeClusterMessage(golden)
	if err != nil {
		t.Fatal(err)
	}
	data, bufs, err := m.Packet.PacketData()
	if err != nil || string(data) != `["bin",{"_placeholder":true,"num":0}]` || len(bufs) != 1 || !bytes.Equal(bufs[0], []byte{1, 2}) {
		t.Fatalf("binary packet %s %v %v", data, bufs, err)
	}
	b, err = m.EncodeMsgpack()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, golden) {
		t.Fatalf("msgpack\n got %x\nwant %x", b, golden)
	}
}

func TestClusterMessageRoundTrip(t *testing.T) {
	ev, _ := EventData("ev", 1, []byte{9})
	one, _ := EncodeValue("yes")
	msgs := []ClusterMessage{
		{Type: MessageHeartbeat, UID: "a", Nsp: "/x"},
		{Type: MessageBroadcast, UID: "a", Nsp: "/", Packet: ev, RequestID: "r1", Opts: BroadcastOptions{Rooms: []string{"r"}, Except: []string{"e"}}},
		{Type: MessageSocketsJoin, UID: "a", Nsp: "/", Rooms: []string{"x", "y"}, Opts: BroadcastOptions{Rooms: []string{"r"}}},
		{Type: MessageSocketsLeave, UID: "a", Nsp: "/", Rooms: []string{"x"}},
		{Type: MessageDisconnectSockets, UID: "a", Nsp: "/", Close: true},
		{Type: MessageFetchSockets, UID: "a", Nsp: "/", RequestID: "r2"},
		{Type: MessageFetchSocketsResponse, UID: "a", Nsp: "/", RequestID: "r2", Sockets: []SocketInfo{{ID: "s", Handshake: JSONValue(`{"a":1}`), Rooms: []string{"s"}}}},
		{Type: MessageServerSideEmit, UID: "a", Nsp: "/", Packet: ev, RequestID: "r3"},
		{Type: MessageServerSideEmitResponse, UID: "a", Nsp: "/", RequestID: "r3", Packet: one},
		{Type: MessageBroadcastClientCount, UID: "a", Nsp: "/", RequestID: "r1", ClientCount: 0},
		{Type: MessageBroadcastAck, UID: "a", Nsp: "/", RequestID: "r1"},
		{Type: MessageFetchSocketsResponse, UID: "a", Nsp: "/", RequestID: "r4", Sockets: []SocketInfo{}},
	}
	// A server with no socket answers with an empty list, which Node
	// needs (it calls sockets.forEach).
	if b, _ := (ClusterMessage{Type: MessageFetchSocketsResponse, UID: "a", RequestID: "r"}).EncodeJSON(); !bytes.Contains(b, []byte(`"sockets":[]`)) {
		t.Errorf("empty FETCH_SOCKETS_RESPONSE: %s", b)
	}
	for _, m := range msgs {
		for _, enc := range []func(ClusterMessage) ([]byte, error){ClusterMessage.EncodeMsgpack, ClusterMessage.EncodeJSON} {
			b, err := enc(m)
			if err != nil {
				t.Fatalf("%v: %v", m.Type, err)
			}
			got, err := DecodeClusterMessage(b)
			if err != nil {
				t.Fatalf("%v: decode %q: %v", m.Type, b, err)
			}
			b2, _ := enc(got)
			if !bytes.Equal(b, b2) {
				t.Fatalf("%v: round trip\n%q\n%q", m.Type, b, b2)
			}
			if got.Type != m.Type || got.RequestID != m.RequestID || got.ClientCount != m.ClientCount || got.Close != m.Close {
				t.Fatalf("%v: got %+v", m.Type, got)
			}
		}
	}
}

func TestClusterMessageMalformed(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"type":3,"uid":"a","nsp":"/"}`, `{"type":99,"uid":"a","data":{}}`, `{"uid":"a"}`, `{"type":2}`,
		`{"type":3,"uid":"a","data":{"packet":{"type":2,"data":[1]},"opts":{"rooms":[],"except":[]}}}`,
		`{"type":3,"uid":"a","data":{"packet":{"type":2,"data":["e"]}}}`,
		`{"type":7,"uid":"a","data":{"opts":{"rooms":[],"except":[]}}}`,
		`{"type":11,"uid":"a","data":{"requestId":"x"}}`,
		`{"type":8,"uid":"a","data":{"requestId":"x"}}`,
		`{"type":11,"uid":"a","data":{"requestId":"x","clientCount":-1}}`,
		`{"type":9,"uid":"a","data":{"packet":"x"}}`,
		"\x93\xa1a\xa1b\xa1c", "\xc1",
	} {
		if _, err := DecodeClusterMessage([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err %v, want ErrMalformed", in, err)
		}
	}
}

func FuzzDecodeClusterMessage(f *testing.F) {
	golden, _ := hex.DecodeString(goldenShardedBinary)
	f.Add([]byte(goldenShardedJSON))
	f.Add(golden)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeClusterMessage(b)
		if err != nil {
			return
		}
		if _, err := m.EncodeMsgpack(); err != nil && m.Type != MessageFetchSocketsResponse {
			t.Fatalf("decoded %+v but cannot encode it: %v", m, err)
		}
	})
}
