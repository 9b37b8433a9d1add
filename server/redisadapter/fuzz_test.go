package redisadapter

import (
	"bytes"
	"reflect"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{goldenRoomBroadcast, goldenBinaryBroadcast, goldenBroadcastAckReq, goldenBroadcastAckRes} {
		f.Add(mustHex(f, s))
	}
	for _, s := range []string{
		`{"uid":"uUe5W8","type":2,"opts":{"rooms":[],"except":[]},"rooms":["room2"]}`,
		`{"uid":"uUe5W8","type":4,"opts":{"rooms":[],"except":[]},"close":true}`,
		`{"uid":"uUe5W8","requestId":"L2G91w","type":5,"opts":{"rooms":[],"except":[]}}`,
		`{"uid":"uUe5W8","requestId":"ayO2hH","type":6,"data":["q"]}`,
		`{"requestId":"r","sockets":[{"id":"s1","handshake":{},"rooms":["s1"],"data":{"a":1}}]}`,
		`{"type":8,"requestId":"r","clientCount":3}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzDecode feeds any bytes to the three decoders. None may panic, and
// whatever decodes must encode again and decode to the same value.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := DecodeBroadcastMessage(b); err == nil {
			enc, err := m.Encode()
			if err != nil {
				t.Fatalf("broadcast %x decoded but does not encode: %v", b, err)
			}
			m2, err := DecodeBroadcastMessage(enc)
			if err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("broadcast %x: re-encoded %x decodes to %+v, %v; want %+v", b, enc, m2, err, m)
			}
		}
		if r, err := DecodeRequest(b); err == nil {
			enc, err := r.Encode()
			if err != nil {
				t.Fatalf("request %q decoded but does not encode: %v", b, err)
			}
			r2, err := DecodeRequest(enc)
			if err != nil {
				t.Fatalf("request %q: re-encoded %q does not decode: %v", b, enc, err)
			}
			// A cross-format payload is converted once; after that it
			// must be stable.
			enc2, err := r2.Encode()
			if err != nil || !bytes.Equal(enc, enc2) {
				t.Fatalf("request %q: encodings differ: %q, %q (%v)", b, enc, enc2, err)
			}
		}
		if r, err := DecodeResponse(b); err == nil {
			enc, err := r.Encode()
			if err != nil {
				t.Fatalf("response %q decoded but does not encode: %v", b, err)
			}
			r2, err := DecodeResponse(enc)
			if err != nil {
				t.Fatalf("response %q: re-encoded %q does not decode: %v", b, enc, err)
			}
			enc2, err := r2.Encode()
			if err != nil || !bytes.Equal(enc, enc2) {
				t.Fatalf("response %q: encodings differ: %q, %q (%v)", b, enc, enc2, err)
			}
		}
	})
}
