package shared

import (
	"testing"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
	"github.com/tsunagi/tsunagi/shared/wire"
)

type benchNews struct {
	Hello string `json:"hello"`
}

var benchNewsEvent = NewEvent[benchNews]("news")

// benchEmitter encodes like both ends do: Encoder.AppendArgs into a reused
// buffer, then Packet.AppendEncode into a reused message buffer.
type benchEmitter struct {
	enc jsoncodec.Encoder
	msg []byte
}

func (b *benchEmitter) Emit(event string, args ...any) error {
	b.enc.Buf = b.enc.Buf[:0]
	b.enc.Buffers = b.enc.Buffers[:0]
	if err := b.enc.AppendArgs(event, args); err != nil {
		return err
	}
	p := wire.Packet{Type: wire.EventPacket, Namespace: "/", ID: wire.NoID, Data: b.enc.Buf, Buffers: b.enc.Buffers}
	if len(p.Buffers) > 0 {
		p.Type = wire.BinaryEvent
	}
	b.msg = p.AppendEncode(append(b.msg[:0], byte(wire.EIOMessage)))
	return nil
}

var benchMsg = []byte(`42["news",{"hello":"world"}]`)

func benchDecode(b *testing.B, msg []byte) benchNews {
	t, data, err := wire.DecodeEIO(msg)
	if err != nil || t != wire.EIOMessage {
		b.Fatal(t, err)
	}
	p, err := wire.DecodePacket(data, wire.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	name, args, err := ParseEvent(p.Data, p.Buffers)
	if err != nil || name != "news" {
		b.Fatal(name, err)
	}
	var v benchNews
	if err := args.Decode(0, &v); err != nil {
		b.Fatal(err)
	}
	return v
}

func BenchmarkEncodeEvent(b *testing.B) {
	var e benchEmitter
	n := benchNews{Hello: "world"}
	b.ReportAllocs()
	for b.Loop() {
		if err := benchNewsEvent.Emit(&e, n); err != nil {
			b.Fatal(err)
		}
	}
	if string(e.msg) != string(benchMsg) {
		b.Fatalf("encoded %s", e.msg)
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if v := benchDecode(b, benchMsg); v.Hello != "world" {
			b.Fatal(v)
		}
	}
}

func BenchmarkEncodeDecodeEvent(b *testing.B) {
	var e benchEmitter
	n := benchNews{Hello: "world"}
	b.ReportAllocs()
	for b.Loop() {
		if err := benchNewsEvent.Emit(&e, n); err != nil {
			b.Fatal(err)
		}
		if v := benchDecode(b, e.msg); v != n {
			b.Fatal(v)
		}
	}
}
