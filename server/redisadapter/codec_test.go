package redisadapter

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEvent(t testing.TB, event string, args ...any) Value {
	t.Helper()
	v, err := EventData(event, args...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

// Golden bytes from ../shared/reference/redis-cluster.md section 1.3 and
// 1.4, each recorded from Node (redis-adapter 8.3.0, notepack.io 3.0.1).
const (
	goldenRoomBroadcast   = "93a675556535573883a47479706502a46461746193a568656c6c6fa5776f726c6401a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380"
	goldenBinaryBroadcast = "93a675556535573883a47479706502a46461746192a362696ec403010203a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380"
	goldenFlagsTimeout    = "a5666c61677381a774696d656f7574cd03e8"
	goldenBroadcastAckReq = "85a3756964a6755565355738a9726571756573744964a64e47304a5764a47479706507a67061636b657483a47479706502a46461746192a361636ba171a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd03e8"
	goldenBroadcastAckRes = "83a47479706509a9726571756573744964a3727132a67061636b657481a3676f742a"
)

func TestBroadcastGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		hex  string
		msg  BroadcastMessage
	}{
		{"room broadcast", goldenRoomBroadcast, BroadcastMessage{
			UID:    "uUe5W8",
			Packet: Packet{Data: mustEvent(t, "hello", "world", 1), Nsp: "/"},
			Opts:   BroadcastOptions{Rooms: []string{"room1"}},
		}},
		{"binary broadcast", goldenBinaryBroadcast, BroadcastMessage{
			UID:    "uUe5W8",
			Packet: Packet{Data: mustEvent(t, "bin", []byte{1, 2, 3}), Nsp: "/"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(t, tc.hex)
			got, err := tc.msg.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encode:\n got %x\nwant %x", got, want)
			}
			dec, err := DecodeBroadcastMessage(want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dec, tc.msg) {
				t.Errorf("decode:\n got %+v\nwant %+v", dec, tc.msg)
			}
		})
	}
}

func TestBroadcastFlagsTimeout(t *testing.T) {
	t.Parallel()
	m := BroadcastMessage{UID: "uUe5W8", Packet: Packet{Data: mustEvent(t, "e")},
		Opts: BroadcastOptions{Flags: Flags{Timeout: ptr(Milliseconds(1000))}}}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, mustHex(t, goldenFlagsTimeout)) {
		t.Errorf("flags: got %x, want it to end with %s", b, goldenFlagsTimeout)
	}
	dec, err := DecodeBroadcastMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	m.Packet.Nsp = "/"
	if !reflect.DeepEqual(dec, m) {
		t.Errorf("decode: got %+v, want %+v", dec, m)
	}
}

func TestRequestGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wire []byte
		req  Request
	}{
		{"REMOTE_JOIN", []byte(`{"uid":"uUe5W8","type":2,"opts":{"rooms":[],"except":[]},"rooms":["room2"]}`),
			Request{Type: RequestRemoteJoin, UID: "uUe5W8", Rooms: []string{"room2"}}},
		{"REMOTE_DISCONNECT", []byte(`{"uid":"uUe5W8","type":4,"opts":{"rooms":[],"except":[]},"close":true}`),
			Request{Type: RequestRemoteDisconnect, UID: "uUe5W8", Close: true}},
		{"REMOTE_FETCH", []byte(`{"uid":"uUe5W8","requestId":"L2G91w","type":5,"opts":{"rooms":[],"except":[]}}`),
			Request{Type: RequestRemoteFetch, UID: "uUe5W8", RequestID: "L2G91w"}},
		{"SERVER_SIDE_EMIT with ack", []byte(`{"uid":"uUe5W8","requestId":"ayO2hH","type":6,"data":["q"]}`),
			Request{Type: RequestServerSideEmit, UID: "uUe5W8", RequestID: "ayO2hH", Data: JSONValue(`["q"]`)}},
		{"BROADCAST with ack", mustHex(t, goldenBroadcastAckReq),
			Request{Type: RequestBroadcast, UID: "uUe5W8", RequestID: "NG0JWd",
				Packet: Packet{Data: mustEvent(t, "ack", "q"), Nsp: "/"},
				Opts:   BroadcastOptions{Flags: Flags{Timeout: ptr(Milliseconds(1000))}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.wire) {
				t.Errorf("encode:\n got %q\nwant %q", got, tc.wire)
			}
			dec, err := DecodeRequest(tc.wire)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dec, tc.req) {
				t.Errorf("decode:\n got %+v\nwant %+v", dec, tc.req)
			}
		})
	}
}

func TestResponseGolden(t *testing.T) {
	t.Parallel()
	want := mustHex(t, goldenBroadcastAckRes)
	ack, err := EncodeValue(map[string]any{"got": 42})
	if err != nil {
		t.Fatal(err)
	}
	r := Response{Type: ResponseBroadcastAck, RequestID: "rq2", Packet: ack}
	got, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encode:\n got %x\nwant %x", got, want)
	}
	dec, err := DecodeResponse(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dec, r) {
		t.Errorf("decode:\n got %+v\nwant %+v", dec, r)
	}
}
