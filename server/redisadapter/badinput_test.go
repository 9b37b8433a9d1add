package redisadapter

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeBadInput(t *testing.T) {
	t.Parallel()
	deep := bytes.Repeat([]byte{0x91}, 1<<20)
	for _, tc := range []struct {
		name string
		in   []byte
		// which decoders must refuse it: b(roadcast), q (request), s (response)
		dec  string
		want string // a substring of the error
	}{
		{"empty", nil, "bqs", ""},
		{"reserved byte c1", []byte{0xc1}, "bqs", "invalid msgpack byte"},
		{"trailing bytes", append(mustHex(t, goldenRoomBroadcast), 0xc0), "b", "trailing"},
		{"trailing bytes in a request", append(mustHex(t, goldenBroadcastAckReq), 0x00), "q", "trailing"},
		{"array of 2^32-1", mustHex(t, "ddffffffff"), "bqs", "array of 4294967295"},
		{"map of 2^32-1", mustHex(t, "dfffffffff"), "bqs", "map of"},
		{"bin of 2^32-1", mustHex(t, "93a161c6ffffffff"), "b", "value of 4294967295 bytes"},
		{"str of 2^32-1", mustHex(t, "dbffffffff"), "bqs", "value of"},
		{"nested a million deep", deep, "bqs", "nested deeper"},
		{"notepack 2 undefined (ext 0)", mustHex(t, "93a16183a47479706502a46461746192a165d40000a36e7370a12f80"), "b", "ext type 0"},
		{"invalid UTF-8", mustHex(t, "93a2ff0083a47479706502a46461746191a165a36e7370a12f80"), "b", "UTF-8"},
		{"map, not array", mustHex(t, "80"), "b", "array [uid, packet, opts]"},
		{"array of 2", mustHex(t, "92a16180"), "b", "array [uid, packet, opts]"},
		{"uid not a string", mustHex(t, "930183a47479706502a46461746191a165a36e7370a12f80"), "b", ""},
		{"uid nil", mustHex(t, "93c083a47479706502a46461746191a165a36e7370a12f80"), "b", "uid"},
		{"packet missing", mustHex(t, "93a161c080"), "b", "packet is missing"},
		{"opts missing", mustHex(t, "93a16183a47479706502a46461746191a165a36e7370a12fc0"), "b", "opts are missing"},
		{"packet type 5", mustHex(t, "93a16183a47479706505a46461746191a165a36e7370a12f80"), "b", "packet type 5"},
		{"packet type missing", mustHex(t, "93a16182a46461746191a165a36e7370a12f80"), "b", "type is missing"},
		{"data missing", mustHex(t, "93a16182a47479706502a36e7370a12f80"), "b", "data is missing"},
		{"data not an array", mustHex(t, "93a16183a47479706502a464617461a165a36e7370a12f80"), "b", "[event, ...args]"},
		{"data empty", mustHex(t, "93a16183a47479706502a46461746190a36e7370a12f80"), "b", "[event, ...args]"},
		{"event name not a string", mustHex(t, "93a16183a47479706502a4646174619101a36e7370a12f80"), "b", "event name"},
		{"rooms not a list", mustHex(t, "93a16183a47479706502a46461746191a165a36e7370a12f81a5726f6f6d7301"), "b", ""},
		{"rooms of ints", mustHex(t, "93a16183a47479706502a46461746191a165a36e7370a12f81a5726f6f6d739101"), "b", ""},
		{"timeout a string", mustHex(t, "93a16183a47479706502a46461746191a165a36e7370a12f81a5666c61677381a774696d656f7574a178"), "b", ""},
		{"JSON truncated", []byte(`{"type":`), "qs", "JSON"},
		{"JSON trailing garbage", []byte(`{"type":1,"requestId":"r"}x`), "qs", "JSON"},
		{"JSON type a string", []byte(`{"type":"1","requestId":"r"}`), "qs", "JSON"},
		{"request not a map", mustHex(t, "9101"), "qs", "is a map"},
		{"request type missing", []byte(`{"uid":"a","requestId":"r"}`), "q", "type is missing"},
		{"fetch without requestId", []byte(`{"uid":"a","type":5,"opts":{"rooms":[],"except":[]}}`), "q", "without requestId"},
		{"fetch without opts", []byte(`{"uid":"a","requestId":"r","type":5}`), "q", "opts are missing"},
		{"join without rooms", []byte(`{"type":2,"opts":{"rooms":[],"except":[]}}`), "q", "without rooms"},
		{"join rooms a string", []byte(`{"type":2,"opts":{"rooms":[],"except":[]},"rooms":"x"}`), "q", "JSON"},
		{"legacy join without room", []byte(`{"requestId":"r","type":2,"sid":"s"}`), "q", "without room"},
		{"server-side emit without data", []byte(`{"type":6}`), "q", "[event, ...args]"},
		{"server-side emit data null", []byte(`{"type":6,"data":null}`), "q", "[event, ...args]"},
		{"server-side emit event a number", []byte(`{"type":6,"data":[1]}`), "q", "event name"},
		{"broadcast without packet", []byte(`{"requestId":"r","type":7,"opts":{"rooms":[],"except":[]}}`), "q", "packet is missing"},
		{"broadcast JSON data nested too deep", []byte(`{"requestId":"r","type":7,"packet":{"type":2,"data":["e",` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `]}}`), "q", "nested deeper"},
		{"response without requestId", []byte(`{"sockets":[]}`), "s", "without requestId"},
		{"response type 3", []byte(`{"type":3,"requestId":"r"}`), "s", "response type 3"},
		{"client count missing", []byte(`{"type":8,"requestId":"r"}`), "s", "clientCount"},
		{"client count negative", []byte(`{"type":8,"requestId":"r","clientCount":-1}`), "s", "clientCount"},
		{"sockets mixed", []byte(`{"requestId":"r","sockets":["a",{"id":"b","handshake":{},"rooms":[]}]}`), "s", "mixes"},
		{"sockets of numbers", []byte(`{"requestId":"r","sockets":[1]}`), "s", "JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(kind string, err error) {
				t.Helper()
				if err == nil {
					t.Errorf("%s: no error", kind)
					return
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("%s: %v does not wrap ErrMalformed", kind, err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want it to mention %q", kind, err, tc.want)
				}
			}
			if strings.Contains(tc.dec, "b") {
				_, err := DecodeBroadcastMessage(tc.in)
				check("broadcast", err)
			}
			if strings.Contains(tc.dec, "q") {
				_, err := DecodeRequest(tc.in)
				check("request", err)
			}
			if strings.Contains(tc.dec, "s") {
				_, err := DecodeResponse(tc.in)
				check("response", err)
			}
		})
	}
}

func TestDecodeUnknownRequestType(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"uid":"a","requestId":"r","type":42}`, `{"type":-1}`, "\x81\xa4type\x0a"} {
		_, err := DecodeRequest([]byte(in))
		if !errors.Is(err, ErrUnknownRequestType) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: got %v, want ErrUnknownRequestType", in, err)
		}
	}
}

// TestDecodeTruncated: every proper prefix of every golden message is an
// error.
func TestDecodeTruncated(t *testing.T) {
	t.Parallel()
	for _, s := range []string{goldenRoomBroadcast, goldenBinaryBroadcast, goldenBroadcastAckReq, goldenBroadcastAckRes} {
		b := mustHex(t, s)
		for i := range len(b) {
			_, e1 := DecodeBroadcastMessage(b[:i])
			_, e2 := DecodeRequest(b[:i])
			_, e3 := DecodeResponse(b[:i])
			if e1 == nil || e2 == nil || e3 == nil {
				t.Errorf("%x: decoded a prefix of %d bytes (%v, %v, %v)", b, i, e1, e2, e3)
			}
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func() ([]byte, error){
		"broadcast without data":     BroadcastMessage{UID: "a"}.Encode,
		"broadcast data not a list":  BroadcastMessage{UID: "a", Packet: Packet{Data: Value{0x01}}}.Encode,
		"fetch without request id":   Request{Type: RequestRemoteFetch}.Encode,
		"unknown request type":       Request{Type: 42}.Encode,
		"server-side emit no data":   Request{Type: RequestServerSideEmit}.Encode,
		"response without id":        Response{Type: ResponseBroadcastClientCount}.Encode,
		"response of a request type": Response{Type: RequestRemoteFetch, RequestID: "r"}.Encode,
		"ack of malformed msgpack":   Response{Type: ResponseBroadcastAck, RequestID: "r", Packet: Value{0xc1}}.Encode,
	} {
		if b, err := f(); err == nil {
			t.Errorf("%s: encoded %x", name, b)
		}
	}
}
