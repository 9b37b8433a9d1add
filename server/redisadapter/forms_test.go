package redisadapter

import (
	"bytes"
	"reflect"
	"testing"
)

func TestChannels(t *testing.T) {
	t.Parallel()
	// Section 1.1 of the reference: namespace "/" and uid uUe5W8.
	c := NewChannels("", "/", "uUe5W8")
	want := Channels{
		Broadcast:        "socket.io#/#",
		Pattern:          "socket.io#/#*",
		Request:          "socket.io-request#/#",
		Response:         "socket.io-response#/#",
		SpecificResponse: "socket.io-response#/#uUe5W8#",
	}
	if c != want {
		t.Errorf("NewChannels: got %+v, want %+v", c, want)
	}
	if got := c.Room("room1"); got != "socket.io#/#room1#" {
		t.Errorf("Room: got %q", got)
	}
	for _, tc := range []struct {
		rooms []string
		want  string
	}{
		{nil, "socket.io#/#"},
		{[]string{"room1"}, "socket.io#/#room1#"},
		{[]string{"a", "b"}, "socket.io#/#"},
	} {
		if got := c.BroadcastChannel(tc.rooms); got != tc.want {
			t.Errorf("BroadcastChannel(%q): got %q, want %q", tc.rooms, got, tc.want)
		}
	}
	if got := NewChannels("app", "/admin", "x").Pattern; got != "app#/admin#*" {
		t.Errorf("Pattern of /admin under key app: got %q", got)
	}
	for _, tc := range []struct {
		channel string
		room    string
		ok      bool
	}{
		{"socket.io#/#room1#", "room1", true},
		{"socket.io#/#a#b#", "a#b", true},
		{"socket.io#/#", "", false},
		{"socket.io#/##", "", false},
		{"socket.io#/admin#x#", "", false},
		{"socket.io#/#x", "", false},
	} {
		room, ok := c.RoomOf(tc.channel)
		if room != tc.room || ok != tc.ok {
			t.Errorf("RoomOf(%q): got %q %v, want %q %v", tc.channel, room, ok, tc.room, tc.ok)
		}
	}
	if got := SpecificResponseChannel("", "/chat", "abc"); got != "socket.io-response#/chat#abc#" {
		t.Errorf("SpecificResponseChannel: got %q", got)
	}
}

// TestRequestForms covers the request layouts the reference describes
// without recorded bytes (the emitter's, Node ≤ 7's legacy forms, the ones
// with fields absent), in Node's key order.
func TestRequestForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wire string
		req  Request
	}{
		{"SOCKETS", `{"uid":"a","requestId":"r","type":0,"rooms":["x"]}`,
			Request{Type: RequestSockets, UID: "a", RequestID: "r", Rooms: []string{"x"}}},
		{"ALL_ROOMS", `{"uid":"a","requestId":"r","type":1}`,
			Request{Type: RequestAllRooms, UID: "a", RequestID: "r"}},
		{"REMOTE_LEAVE with rooms and except", `{"uid":"a","type":3,"opts":{"rooms":["r1"],"except":["e1"]},"rooms":["x","y"]}`,
			Request{Type: RequestRemoteLeave, UID: "a", Opts: BroadcastOptions{Rooms: []string{"r1"}, Except: []string{"e1"}}, Rooms: []string{"x", "y"}}},
		{"REMOTE_DISCONNECT close false", `{"uid":"a","type":4,"opts":{"rooms":[],"except":[]},"close":false}`,
			Request{Type: RequestRemoteDisconnect, UID: "a"}},
		{"emitter socketsJoin, no uid", `{"type":2,"opts":{"rooms":["r"],"except":[]},"rooms":["x"]}`,
			Request{Type: RequestRemoteJoin, Opts: BroadcastOptions{Rooms: []string{"r"}}, Rooms: []string{"x"}}},
		{"emitter serverSideEmit", `{"uid":"emitter","type":6,"data":["ev",1,{"a":[true,null]}]}`,
			Request{Type: RequestServerSideEmit, UID: "emitter", Data: JSONValue(`["ev",1,{"a":[true,null]}]`)}},
		{"legacy join", `{"uid":"a","requestId":"r","type":2,"sid":"s1","room":"x"}`,
			Request{Type: RequestRemoteJoin, UID: "a", RequestID: "r", Legacy: true, SID: "s1", Room: "x"}},
		{"legacy disconnect", `{"uid":"a","requestId":"r","type":4,"sid":"s1","close":true}`,
			Request{Type: RequestRemoteDisconnect, UID: "a", RequestID: "r", Legacy: true, SID: "s1", Close: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.wire {
				t.Errorf("encode:\n got %s\nwant %s", got, tc.wire)
			}
			dec, err := DecodeRequest([]byte(tc.wire))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dec, tc.req) {
				t.Errorf("decode:\n got %+v\nwant %+v", dec, tc.req)
			}
		})
	}
}

func TestResponseForms(t *testing.T) {
	t.Parallel()
	handshake := `{"headers":{"host":"127.0.0.1:3000","upgrade":"websocket"},"time":"Tue Dec 01 2026 21:09:55 GMT+0000 (Coordinated Universal Time)","address":"::ffff:127.0.0.1","xdomain":false,"secure":false,"issued":1796159395147,"url":"/socket.io/?q=1&EIO=4&transport=websocket","query":{"q":"1","EIO":"4","transport":"websocket"},"auth":{"token":"t"}}`
	for _, tc := range []struct {
		name string
		wire string
		res  Response
	}{
		{"SOCKETS", `{"requestId":"r","sockets":["s1","s2"]}`,
			Response{RequestID: "r", Sockets: []string{"s1", "s2"}}},
		{"ALL_ROOMS", `{"requestId":"r","rooms":["s1","room1"]}`,
			Response{RequestID: "r", Rooms: []string{"s1", "room1"}}},
		{"empty fetch", `{"requestId":"r","sockets":[]}`,
			Response{RequestID: "r", Sockets: []string{}, FetchedSockets: []SocketInfo{}}},
		{"fetch", `{"requestId":"r","sockets":[{"id":"s1","handshake":` + handshake + `,"rooms":["s1","room1"],"data":{"buf":{"type":"Buffer","data":[1,2]}}},{"id":"s2","handshake":{},"rooms":["s2"]}]}`,
			Response{RequestID: "r", FetchedSockets: []SocketInfo{
				{ID: "s1", Handshake: JSONValue(handshake), Rooms: []string{"s1", "room1"}, Data: JSONValue(`{"buf":{"type":"Buffer","data":[1,2]}}`)},
				{ID: "s2", Handshake: JSONValue(`{}`), Rooms: []string{"s2"}},
			}}},
		{"legacy ack", `{"requestId":"r"}`, Response{RequestID: "r"}},
		{"SERVER_SIDE_EMIT ack", `{"type":6,"requestId":"r","data":"pong"}`,
			Response{Type: RequestServerSideEmit, RequestID: "r", Data: JSONValue(`"pong"`)}},
		{"SERVER_SIDE_EMIT ack without argument", `{"type":6,"requestId":"r"}`,
			Response{Type: RequestServerSideEmit, RequestID: "r"}},
		{"BROADCAST_CLIENT_COUNT", `{"type":8,"requestId":"r","clientCount":3}`,
			Response{Type: ResponseBroadcastClientCount, RequestID: "r", ClientCount: 3}},
		{"BROADCAST_CLIENT_COUNT zero", `{"type":8,"requestId":"r","clientCount":0}`,
			Response{Type: ResponseBroadcastClientCount, RequestID: "r"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.res.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.wire {
				t.Errorf("encode:\n got %s\nwant %s", got, tc.wire)
			}
			dec, err := DecodeResponse([]byte(tc.wire))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dec, tc.res) {
				t.Errorf("decode:\n got %+v\nwant %+v", dec, tc.res)
			}
		})
	}
}

// TestEmitterBroadcast: @socket.io/redis-emitter writes opts as rooms,
// flags, except, and uid "emitter".
func TestEmitterBroadcast(t *testing.T) {
	t.Parallel()
	// ["emitter", {type:2, data:["ev", 1], nsp:"/admin"}, {rooms:["r"], flags:{volatile:true}, except:[]}]
	b := mustHex(t, "93a7656d697474657283a47479706502a46461746192a2657601a36e7370a62f61646d696e83a5726f6f6d7391a172a5666c61677381a8766f6c6174696c65c3a665786365707490")
	got, err := DecodeBroadcastMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BroadcastMessage{UID: "emitter", Packet: Packet{Data: mustEvent(t, "ev", 1), Nsp: "/admin"},
		Opts: BroadcastOptions{Rooms: []string{"r"}, Flags: Flags{Volatile: ptr(true)}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestAbsentFields: what Node leaves out decodes to what Node assumes.
func TestAbsentFields(t *testing.T) {
	t.Parallel()
	// [uid, {type:2, data:["e"]}, {rooms:null, except:null, flags:{}}]: no
	// nsp means "/", null lists mean none.
	b := mustHex(t, "93a16182a47479706502a46461746191a16583a5726f6f6d73c0a6657863657074c0a5666c61677380")
	got, err := DecodeBroadcastMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BroadcastMessage{UID: "a", Packet: Packet{Data: mustEvent(t, "e"), Nsp: "/"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Encoding writes [] for nil lists, never null.
	enc, err := want.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(enc, mustHex(t, "a5726f6f6d7390a665786365707490")) {
		t.Errorf("nil rooms/except: got %x, want empty arrays", enc)
	}
}

// TestCrossFormat: a request Node sends as msgpack may come as JSON from
// another peer, and the reverse; payloads are converted.
func TestCrossFormat(t *testing.T) {
	t.Parallel()
	// BROADCAST as JSON.
	r, err := DecodeRequest([]byte(`{"uid":"u","requestId":"r","type":7,"packet":{"type":2,"data":["ack",1.5,2.0,-3,"x"],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{"timeout":1000}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustEvent(t, "ack", 1.5, 2, -3, "x"); !bytes.Equal(r.Packet.Data, want) {
		t.Errorf("packet data from JSON: got %x, want %x", r.Packet.Data, want)
	}
	// SERVER_SIDE_EMIT as msgpack, with a Buffer, a timestamp and a
	// non-string key: {uid:"u", type:6, data:["e", bin[1,2], Date(0), {1:NaN}]}.
	m := mustHex(t, "83a3756964a175a47479706506a46461746194a165c4020102d6ff0000000081"+"01cb7ff8000000000000")
	r, err = DecodeRequest(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `["e",{"type":"Buffer","data":[1,2]},"1970-01-01T00:00:00.000Z",{"1":null}]`; string(r.Data) != want {
		t.Errorf("data from msgpack: got %s, want %s", r.Data, want)
	}
	// BROADCAST_ACK as JSON.
	res, err := DecodeResponse([]byte(`{"type":9,"requestId":"rq2","packet":{"got":42}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, "81a3676f742a"); !bytes.Equal(res.Packet, want) {
		t.Errorf("ack packet from JSON: got %x, want %x", res.Packet, want)
	}
	// A JSON packet re-encoded as msgpack, the other way round.
	b, err := Request{Type: RequestServerSideEmit, Data: JSONValue(`["e",{"b":[1,-1,1e300]}]`)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":6,"data":["e",{"b":[1,-1,1e300]}]}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

// TestTimeoutFraction: timeout(1000.5) reaches the wire as a float64 from
// Node; it is read, truncated, not refused.
func TestTimeoutFraction(t *testing.T) {
	t.Parallel()
	b := mustHex(t, "93a16183a47479706502a46461746191a165a36e7370a12f81a5666c61677381a774696d656f7574cb408f440000000000")
	m, err := DecodeBroadcastMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Opts.Flags.Timeout == nil || *m.Opts.Flags.Timeout != 1000 {
		t.Errorf("timeout: got %v, want 1000", m.Opts.Flags.Timeout)
	}
	r, err := DecodeRequest([]byte(`{"requestId":"r","type":7,"packet":{"type":2,"data":["e"],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{"timeout":2500.9}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Opts.Flags.Timeout == nil || *r.Opts.Flags.Timeout != 2500 {
		t.Errorf("JSON timeout: got %v, want 2500", r.Opts.Flags.Timeout)
	}
	if _, err := DecodeRequest([]byte(`{"requestId":"r","type":7,"packet":{"type":2,"data":["e"],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{"timeout":1e300}}}`)); err == nil {
		t.Error("timeout 1e300 ms decoded")
	}
}
