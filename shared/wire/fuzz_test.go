package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// The fuzzers run over their seeds in every `go test`; fuzz one with e.g.
//
//	go test -run '^$' -fuzz '^FuzzDecodePacket$' -fuzztime 30s ./shared/wire/

func addPacketSeeds(f *testing.F, withEIO bool) {
	prefix := ""
	if withEIO {
		prefix = "4"
	}
	for _, sp := range specPackets {
		f.Add([]byte(prefix + sp.wire))
	}
	for _, pe := range packetErrors {
		f.Add([]byte(prefix + pe.wire))
	}
	for _, s := range []string{
		`2["a",{"b":[1,2,{"c":"\"]"}]},"\u2028"]`,
		`2 [ "spaced" , 1 ]`,
		`2["\ud83d\ude00",1]`,
		`52-["a",{"_placeholder":true,"num":1},[{"_placeholder":true,"num":0}]]`,
		`51-["a",{"_placeholder":true,"num":1e20}]`,
		`51-["a",{"_placeholder":true,"num":"0"}]`,
		`51-["a",{"\u005fplaceholder":true,"num":7}]`,
		`61-9007199254740992[{"_placeholder":true,"num":0}]`,
		`3/admin,1[null,{"message":"x"}]`,
		`0/admin,1 2`,
		`1/`,
		`2/,["a"]`,
		`0/a{"b":1}`,
		`2["\`,
		`2["]`,
		`2["a"]x`,
	} {
		f.Add([]byte(prefix + s))
	}
}

// upload is a struct with a []byte field, as events carry files.
type upload struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// checkArgs exercises the Args API on a decoded packet; it must not panic.
func checkArgs(t *testing.T, args shared.Args) {
	for i := range args.Len() + 1 {
		var v any
		_ = args.Decode(i, &v)
		var b []byte
		_ = args.Decode(i, &b)
		var u upload
		_ = args.Decode(i, &u)
		var s string
		_ = args.Decode(i, &s)
		_, _ = args.Value(i)
	}
	_, _ = args.Values()
}

func FuzzDecodePacket(f *testing.F) {
	addPacketSeeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Unvalidated payloads: no panic.
		if _, args, err := shared.ParseEvent(data, nil); err == nil {
			checkArgs(t, args)
		}
		if args, err := shared.ParseArgs(data, nil); err == nil {
			checkArgs(t, args)
		}

		p, err := wire.DecodePacket(data, wire.Limits{})
		if err != nil {
			var pe *wire.ParseError
			if !errors.As(err, &pe) || pe.Reason == "" {
				t.Fatalf("DecodePacket(%q): error %v (%T), want a *ParseError", data, err, err)
			}
			return
		}
		if p.Type > wire.BinaryAck || p.ID < wire.NoID || p.ID > wire.MaxAckID || !strings.HasPrefix(p.Namespace, "/") {
			t.Fatalf("DecodePacket(%q) = %+v", data, p)
		}
		if p.Type.IsBinary() != (p.Attachments > 0) || p.Attachments > wire.DefaultMaxAttachments {
			t.Fatalf("DecodePacket(%q): %d attachments for %v", data, p.Attachments, p.Type)
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("DecodePacket(%q) accepted invalid JSON", data)
		}

		// decode(encode(p)) == p.
		enc := p
		enc.Buffers = make([][]byte, p.Attachments)
		msg := enc.AppendEncode(nil)
		again, err := wire.DecodePacket(msg, wire.Limits{})
		if err != nil || !samePacket(again, p) {
			t.Fatalf("DecodePacket(%q) = %+v; re-encoded as %q, which decodes as %+v, %v", data, p, msg, again, err)
		}

		bufs := make([][]byte, p.Attachments)
		for i := range bufs {
			bufs[i] = []byte{byte(i)}
		}
		switch p.Type {
		case wire.EventPacket, wire.BinaryEvent:
			name, args, err := shared.ParseEvent(p.Data, bufs)
			if err != nil || wire.IsReserved(name) {
				t.Fatalf("ParseEvent of a valid packet %q: %q, %v", data, name, err)
			}
			if !p.Type.IsBinary() {
				if _, err := args.Values(); err != nil {
					t.Fatalf("Values of %q: %v", data, err)
				}
			}
			checkArgs(t, args)
		case wire.Ack, wire.BinaryAck:
			args, err := shared.ParseArgs(p.Data, bufs)
			if err != nil {
				t.Fatalf("ParseArgs of a valid packet %q: %v", data, err)
			}
			checkArgs(t, args)
		}
	})
}

func FuzzDecodeEIO(f *testing.F) {
	for _, s := range []string{
		`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}`,
		`0{"sid":"x","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":-1}`,
		`0{}`, `0`, `0[`, `1`, `2`, `3`, `2probe`, `3probe`, `4hello`, `42["foo"]`, `5`, `6`, `7`, `a`, ``, "\xff",
	} {
		f.Add([]byte(s))
	}
	addPacketSeeds(f, true)
	f.Fuzz(func(t *testing.T, msg []byte) {
		typ, data, err := wire.DecodeEIO(msg)
		if err != nil {
			if len(msg) > 0 && msg[0] >= '0' && msg[0] <= '6' {
				t.Fatalf("DecodeEIO(%q) rejected a known type: %v", msg, err)
			}
			return
		}
		if len(msg) == 0 || byte(typ) != msg[0] || !bytes.Equal(data, msg[1:]) || typ < wire.EIOOpen || typ > wire.EIONoop {
			t.Fatalf("DecodeEIO(%q) = %v %q", msg, typ, data)
		}
		_ = typ.String()
		switch typ {
		case wire.EIOOpen:
			if o, err := wire.DecodeOpen(data); err == nil {
				if o.SID == "" || o.PingInterval <= 0 || o.PingTimeout <= 0 {
					t.Fatalf("DecodeOpen(%q) accepted %+v", data, o)
				}
				typ2, data2, err := wire.DecodeEIO(o.Encode())
				if err != nil || typ2 != wire.EIOOpen {
					t.Fatal(err)
				}
				if o2, err := wire.DecodeOpen(data2); err != nil || o2.SID != o.SID || o2.PingInterval != o.PingInterval || o2.MaxPayload != o.MaxPayload {
					t.Fatalf("open round trip: %+v → %+v, %v", o, o2, err)
				}
			}
		case wire.EIOMessage:
			var d wire.Decoder
			_, _, _ = d.Text(data)
		}
	})
}

// FuzzDecoder feeds a Decoder one text message, then the chunks of binary
// data cut into n binary messages.
func FuzzDecoder(f *testing.F) {
	for _, sp := range specPackets {
		f.Add([]byte(sp.wire), []byte(strings.Join(sp.bufs, "")), uint8(len(sp.bufs)))
	}
	f.Add([]byte(`51-["a",{"_placeholder":true,"num":0}]`), []byte("xy"), uint8(2))
	f.Add([]byte(`52-["a",{"_placeholder":true,"num":0}]`), []byte("x"), uint8(1))
	f.Add([]byte(`2["a"]`), []byte("stray"), uint8(1))
	f.Add([]byte(`53-["a",{"x":[{"_placeholder":true,"num":2}]},{"_placeholder":true,"num":0}]`), []byte("abcdef"), uint8(3))
	f.Add([]byte(`61-7[{"_placeholder":true,"num":0}]`), []byte{}, uint8(1))
	f.Fuzz(func(t *testing.T, text, chunks []byte, n uint8) {
		n %= 16
		var d wire.Decoder
		p, complete, err := d.Text(text)
		pending := err == nil && !complete
		if err != nil && d.Waiting() != 0 {
			t.Fatalf("Waiting = %d after an error", d.Waiting())
		}
		if pending && d.Waiting() != p.Attachments {
			t.Fatalf("Waiting = %d, want %d", d.Waiting(), p.Attachments)
		}
		if complete {
			checkPacket(t, p)
		}
		for i := range int(n) {
			// Chunk i of n: chunks cut into n nearly equal parts.
			chunk := chunks[len(chunks)*i/int(n) : len(chunks)*(i+1)/int(n)]
			waiting := d.Waiting()
			p, complete, err = d.Binary(chunk)
			switch {
			case waiting == 0:
				if !errors.Is(err, wire.ErrUnexpectedBinary) || complete {
					t.Fatalf("binary with nothing pending: %v %v", complete, err)
				}
			case err != nil:
				t.Fatalf("Binary: %v", err)
			case complete != (waiting == 1):
				t.Fatalf("complete = %v with %d waiting", complete, waiting)
			case complete:
				if len(p.Buffers) != p.Attachments || !bytes.Equal(p.Buffers[len(p.Buffers)-1], chunk) {
					t.Fatalf("%d buffers for %d attachments", len(p.Buffers), p.Attachments)
				}
				checkPacket(t, p)
			default:
				if d.Waiting() != waiting-1 {
					t.Fatalf("Waiting = %d, was %d", d.Waiting(), waiting)
				}
			}
		}
		// A text message now either decodes afresh or reports the packet
		// that was cut short; the decoder is usable afterwards.
		waiting := d.Waiting()
		_, _, err = d.Text([]byte(`2["next"]`))
		if (waiting > 0) != (err != nil) {
			t.Fatalf("Text with %d waiting: %v", waiting, err)
		}
		if _, complete, err := d.Text([]byte(`2["next"]`)); err != nil || !complete {
			t.Fatalf("decoder unusable: %v %v", complete, err)
		}
	})
}

func checkPacket(t *testing.T, p wire.Packet) {
	switch p.Type {
	case wire.EventPacket, wire.BinaryEvent:
		name, args, err := shared.ParseEvent(p.Data, p.Buffers)
		if err != nil || wire.IsReserved(name) {
			t.Fatalf("ParseEvent of a complete packet: %q %v", name, err)
		}
		if _, err := args.Values(); err != nil && !bytes.Contains(p.Data, []byte(`\u`)) {
			// The Decoder checked every placeholder; only one whose key is
			// spelled with escapes can still be out of range.
			t.Fatalf("Values of a complete packet %s: %v", p.Data, err)
		}
		checkArgs(t, args)
	case wire.Ack, wire.BinaryAck:
		args, err := shared.ParseArgs(p.Data, p.Buffers)
		if err != nil {
			t.Fatalf("ParseArgs of a complete packet: %v", err)
		}
		checkArgs(t, args)
	}
}

// FuzzEncodeDecode encodes an event carrying a fuzzed string and bytes, sends
// it through the decoder, and checks that the same values come out.
func FuzzEncodeDecode(f *testing.F) {
	f.Add("hello", []byte("world"))
	f.Add("", []byte(nil))
	f.Add("news", []byte{})
	f.Add("connect", []byte{0})
	f.Add(`"quoted" \back\ `, []byte{0xff, 0, 1})
	f.Add("ctl\x00\x01\x1f\n\r\t", []byte("\x00"))
	f.Add("bad\xffutf8\xc3(", []byte("b"))
	f.Add("\u2028\u2029 <&> 😀", bytes.Repeat([]byte("x"), 1000))
	f.Add(`{"_placeholder":true,"num":0}`, []byte("fake"))
	f.Add(`["\u0000"]`, []byte("x"))
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		want := string([]rune(s)) // invalid UTF-8 travels as U+FFFD
		name := want
		if name == "" || wire.IsReserved(name) {
			name = "ev"
		}
		var enc jsoncodec.Encoder
		args := []any{s, b, map[string]any{"s": s, "b": b}, upload{Name: s, Data: b}, []any{b, s}}
		if err := enc.AppendArgs(name, args); err != nil {
			t.Fatalf("AppendArgs: %v", err)
		}
		p := wire.Packet{Type: wire.EventPacket, Namespace: "/", ID: 1, Data: enc.Buf, Buffers: enc.Buffers}
		if len(p.Buffers) > 0 {
			p.Type = wire.BinaryEvent
		}
		// A nil []byte struct field is null, as with encoding/json; elsewhere
		// a []byte is always an attachment.
		wantBufs := 4
		if b == nil {
			wantBufs = 3
		}
		if len(p.Buffers) != wantBufs {
			t.Fatalf("%d attachments, want %d", len(p.Buffers), wantBufs)
		}
		msg := p.Message()
		if !utf8.Valid(msg) {
			t.Fatalf("text message is not valid UTF-8: %q", msg)
		}

		var d wire.Decoder
		typ, data, err := wire.DecodeEIO(msg)
		if err != nil || typ != wire.EIOMessage {
			t.Fatal(typ, err)
		}
		got, complete, err := d.Text(data)
		for _, buf := range p.Buffers {
			if err != nil {
				break
			}
			got, complete, err = d.Binary(buf)
		}
		if err != nil || !complete {
			t.Fatalf("decoding %q: %v %v", msg, complete, err)
		}
		gotName, a, err := shared.ParseEvent(got.Data, got.Buffers)
		if err != nil || gotName != name || a.Len() != len(args) {
			t.Fatalf("ParseEvent(%q) = %q, %d args, %v", got.Data, gotName, a.Len(), err)
		}
		var gs string
		if err := a.Decode(0, &gs); err != nil || gs != want {
			t.Fatalf("string: %q, %v; want %q", gs, err, want)
		}
		var gb []byte
		if err := a.Decode(1, &gb); err != nil || !bytes.Equal(gb, b) {
			t.Fatalf("bytes: %q, %v; want %q", gb, err, b)
		}
		var m struct {
			S string `json:"s"`
			B []byte `json:"b"`
		}
		if err := a.Decode(2, &m); err != nil || m.S != want || !bytes.Equal(m.B, b) {
			t.Fatalf("map: %+v, %v", m, err)
		}
		var u upload
		if err := a.Decode(3, &u); err != nil || u.Name != want || !bytes.Equal(u.Data, b) {
			t.Fatalf("struct: %+v, %v", u, err)
		}
		v, err := a.Value(4)
		if err != nil {
			t.Fatal(err)
		}
		if l, ok := v.([]any); !ok || len(l) != 2 || !bytes.Equal(l[0].([]byte), b) || l[1] != want {
			t.Fatalf("Value: %#v", v)
		}
	})
}
