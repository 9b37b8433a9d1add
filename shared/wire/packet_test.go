package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// specPacket is one example of the socket.io-protocol v5 README ("Packet
// encoding" and "Sample session"), with the packet it encodes.
type specPacket struct {
	name string
	wire string   // text form, without the Engine.IO "4"
	bufs []string // binary attachments that follow
	p    wire.Packet
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

var specPackets = []specPacket{
	{"CONNECT main", `0`, nil, wire.Packet{Type: wire.Connect, Namespace: "/", ID: wire.NoID}},
	{"CONNECT admin", `0/admin,`, nil, wire.Packet{Type: wire.Connect, Namespace: "/admin", ID: wire.NoID}},
	{"CONNECT with auth", `0{"token":"123"}`, nil, wire.Packet{Type: wire.Connect, Namespace: "/", ID: wire.NoID, Data: raw(`{"token":"123"}`)}},
	{"CONNECT admin with auth", `0/admin,{"token":"123"}`, nil, wire.Packet{Type: wire.Connect, Namespace: "/admin", ID: wire.NoID, Data: raw(`{"token":"123"}`)}},
	{"CONNECT reply", `0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, nil, wire.Packet{Type: wire.Connect, Namespace: "/admin", ID: wire.NoID, Data: raw(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)}},
	{"DISCONNECT main", `1`, nil, wire.Packet{Type: wire.Disconnect, Namespace: "/", ID: wire.NoID}},
	{"DISCONNECT admin", `1/admin,`, nil, wire.Packet{Type: wire.Disconnect, Namespace: "/admin", ID: wire.NoID}},
	{"EVENT", `2["foo"]`, nil, wire.Packet{Type: wire.EventPacket, Namespace: "/", ID: wire.NoID, Data: raw(`["foo"]`)}},
	{"EVENT two args", `2["foo","bar"]`, nil, wire.Packet{Type: wire.EventPacket, Namespace: "/", ID: wire.NoID, Data: raw(`["foo","bar"]`)}},
	{"EVENT admin", `2/admin,["bar"]`, nil, wire.Packet{Type: wire.EventPacket, Namespace: "/admin", ID: wire.NoID, Data: raw(`["bar"]`)}},
	{"EVENT with id", `212["foo"]`, nil, wire.Packet{Type: wire.EventPacket, Namespace: "/", ID: 12, Data: raw(`["foo"]`)}},
	{"EVENT admin with id", `2/admin,456["project:delete",123]`, nil, wire.Packet{Type: wire.EventPacket, Namespace: "/admin", ID: 456, Data: raw(`["project:delete",123]`)}},
	{"EVENT sample session", `2/admin,1["tellme"]`, nil, wire.Packet{Type: wire.EventPacket, Namespace: "/admin", ID: 1, Data: raw(`["tellme"]`)}},
	{"EVENT hey Jude", `2["hey","Jude"]`, nil, wire.Packet{Type: wire.EventPacket, Namespace: "/", ID: wire.NoID, Data: raw(`["hey","Jude"]`)}},
	{"ACK empty", `3/admin,456[]`, nil, wire.Packet{Type: wire.Ack, Namespace: "/admin", ID: 456, Data: raw(`[]`)}},
	{"ACK admin", `3/admin,13["bar"]`, nil, wire.Packet{Type: wire.Ack, Namespace: "/admin", ID: 13, Data: raw(`["bar"]`)}},
	{"ACK main", `312[]`, nil, wire.Packet{Type: wire.Ack, Namespace: "/", ID: 12, Data: raw(`[]`)}},
	{"CONNECT_ERROR", `4{"message":"Not authorized"}`, nil, wire.Packet{Type: wire.ConnectError, Namespace: "/", ID: wire.NoID, Data: raw(`{"message":"Not authorized"}`)}},
	{"CONNECT_ERROR admin", `4/admin,{"message":"not authorized"}`, nil, wire.Packet{Type: wire.ConnectError, Namespace: "/admin", ID: wire.NoID, Data: raw(`{"message":"not authorized"}`)}},
	{"BINARY_EVENT", `51-["baz",{"_placeholder":true,"num":0}]`, []string{"\x01\x02\x03\x04"},
		wire.Packet{Type: wire.BinaryEvent, Namespace: "/", ID: wire.NoID, Data: raw(`["baz",{"_placeholder":true,"num":0}]`), Attachments: 1}},
	{"BINARY_EVENT two attachments", `52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, []string{"\x01\x02", "\x03\x04"},
		wire.Packet{Type: wire.BinaryEvent, Namespace: "/admin", ID: wire.NoID, Data: raw(`["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Attachments: 2}},
	{"BINARY_EVENT admin with id", `51-/admin,456["project:delete",{"_placeholder":true,"num":0}]`, []string{"\x00"},
		wire.Packet{Type: wire.BinaryEvent, Namespace: "/admin", ID: 456, Data: raw(`["project:delete",{"_placeholder":true,"num":0}]`), Attachments: 1}},
	{"BINARY_ACK", `61-15["bar",{"_placeholder":true,"num":0}]`, []string{"\x01\x02\x03\x04"},
		wire.Packet{Type: wire.BinaryAck, Namespace: "/", ID: 15, Data: raw(`["bar",{"_placeholder":true,"num":0}]`), Attachments: 1}},
	{"BINARY_ACK admin", `61-/admin,456[{"_placeholder":true,"num":0}]`, []string{"bin"},
		wire.Packet{Type: wire.BinaryAck, Namespace: "/admin", ID: 456, Data: raw(`[{"_placeholder":true,"num":0}]`), Attachments: 1}},
	{"BINARY_ACK sample session", `61-/admin,1[{"_placeholder":true,"num":0}]`, []string{""},
		wire.Packet{Type: wire.BinaryAck, Namespace: "/admin", ID: 1, Data: raw(`[{"_placeholder":true,"num":0}]`), Attachments: 1}},
}

func (sp specPacket) buffers() [][]byte {
	if sp.bufs == nil {
		return nil
	}
	out := make([][]byte, len(sp.bufs))
	for i, b := range sp.bufs {
		out[i] = []byte(b)
	}
	return out
}

func samePacket(a, b wire.Packet) bool {
	if a.Type != b.Type || a.Namespace != b.Namespace || a.ID != b.ID || a.Attachments != b.Attachments {
		return false
	}
	if (a.Data == nil) != (b.Data == nil) || !bytes.Equal(a.Data, b.Data) {
		return false
	}
	if len(a.Buffers) != len(b.Buffers) {
		return false
	}
	for i := range a.Buffers {
		if !bytes.Equal(a.Buffers[i], b.Buffers[i]) {
			return false
		}
	}
	return true
}

func TestPacketEncodeSpec(t *testing.T) {
	for _, tc := range specPackets {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Buffers = tc.buffers()
			if got := string(p.AppendEncode(nil)); got != tc.wire {
				t.Errorf("AppendEncode = %s, want %s", got, tc.wire)
			}
			if got := string(p.AppendEncode([]byte("x"))); got != "x"+tc.wire {
				t.Errorf("AppendEncode does not append: %s", got)
			}
			if got := string(p.Message()); got != "4"+tc.wire {
				t.Errorf("Message = %s, want 4%s", got, tc.wire)
			}
		})
	}
}

func TestPacketDecodeSpec(t *testing.T) {
	for _, tc := range specPackets {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wire.DecodePacket([]byte(tc.wire), wire.Limits{})
			if err != nil {
				t.Fatalf("DecodePacket(%s): %v", tc.wire, err)
			}
			if !samePacket(got, tc.p) {
				t.Fatalf("DecodePacket(%s) = %+v, want %+v", tc.wire, got, tc.p)
			}

			// The same through a Decoder, from the Engine.IO message.
			typ, data, err := wire.DecodeEIO([]byte("4" + tc.wire))
			if err != nil || typ != wire.EIOMessage {
				t.Fatalf("DecodeEIO: %v %v", typ, err)
			}
			var d wire.Decoder
			p, complete, err := d.Text(data)
			if err != nil {
				t.Fatal(err)
			}
			if complete != (len(tc.bufs) == 0) {
				t.Fatalf("complete = %v with %d attachments", complete, len(tc.bufs))
			}
			for i, b := range tc.bufs {
				if w := d.Waiting(); w != len(tc.bufs)-i {
					t.Fatalf("Waiting = %d, want %d", w, len(tc.bufs)-i)
				}
				p, complete, err = d.Binary([]byte(b))
				if err != nil {
					t.Fatal(err)
				}
				if complete != (i == len(tc.bufs)-1) {
					t.Fatalf("complete = %v after attachment %d", complete, i)
				}
			}
			if d.Waiting() != 0 {
				t.Fatalf("Waiting = %d after the last attachment", d.Waiting())
			}
			want := tc.p
			want.Buffers = tc.buffers()
			if !samePacket(p, want) {
				t.Fatalf("Decoder = %+v, want %+v", p, want)
			}
		})
	}
}

func TestPacketRoundTrip(t *testing.T) {
	packets := []wire.Packet{}
	for _, tc := range specPackets {
		p := tc.p
		p.Buffers = tc.buffers()
		packets = append(packets, p)
	}
	packets = append(packets,
		wire.Packet{Type: wire.EventPacket, Namespace: "/", ID: 0, Data: raw(`["zero id"]`)},
		wire.Packet{Type: wire.EventPacket, Namespace: "/", ID: wire.MaxAckID, Data: raw(`["max id"]`)},
		wire.Packet{Type: wire.Ack, Namespace: "/a/b", ID: 7, Data: raw(`[null,{"message":"x"}]`)},
		wire.Packet{Type: wire.ConnectError, Namespace: "/", ID: wire.NoID, Data: raw(`"a string reason"`)},
		wire.Packet{Type: wire.EventPacket, Namespace: "/ünï", ID: wire.NoID, Data: raw(`["ünïcode \u2028",1.5e3,true,null,{"a":[]}]`)},
		wire.Packet{Type: wire.BinaryEvent, Namespace: "/", ID: 3, Data: raw(`["ten",` + placeholders(10) + `]`), Attachments: 10, Buffers: make([][]byte, 10)},
	)
	for _, p := range packets {
		msg := p.Message()
		var d wire.Decoder
		typ, data, err := wire.DecodeEIO(msg)
		if err != nil || typ != wire.EIOMessage {
			t.Fatalf("%s: DecodeEIO: %v %v", msg, typ, err)
		}
		got, complete, err := d.Text(data)
		for _, b := range p.Buffers {
			if err != nil || complete {
				break
			}
			got, complete, err = d.Binary(b)
		}
		if err != nil || !complete {
			t.Fatalf("%s: complete=%v err=%v", msg, complete, err)
		}
		if !samePacket(got, p) {
			t.Errorf("%s: round trip = %+v, want %+v", msg, got, p)
		}
		if again := got.Message(); !bytes.Equal(again, msg) {
			t.Errorf("re-encoded %s, want %s", again, msg)
		}
	}
}

func placeholders(n int) string {
	var s []string
	for i := range n {
		s = append(s, `{"_placeholder":true,"num":`+strconv.Itoa(i)+`}`)
	}
	return strings.Join(s, ",")
}

func TestPacketNamespaceOmitted(t *testing.T) {
	for _, ns := range []string{"", "/"} {
		p := wire.Packet{Type: wire.EventPacket, Namespace: ns, ID: wire.NoID, Data: raw(`["a"]`)}
		if got := string(p.AppendEncode(nil)); got != `2["a"]` {
			t.Errorf("namespace %q encodes as %s", ns, got)
		}
	}
}

func TestPacketTypeString(t *testing.T) {
	want := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK", "PacketType(7)"}
	for i, w := range want {
		if got := wire.PacketType(i).String(); got != w {
			t.Errorf("PacketType(%d) = %s, want %s", i, got, w)
		}
		if got := wire.PacketType(i).IsBinary(); got != (i == 5 || i == 6) {
			t.Errorf("PacketType(%d).IsBinary() = %v", i, got)
		}
	}
}

// wantParseError checks that err is a *ParseError whose reason contains want.
func wantParseError(t *testing.T, what string, err error, want string) {
	t.Helper()
	var pe *wire.ParseError
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %v (%T), want a *ParseError", what, err, err)
		return
	}
	if !strings.Contains(pe.Reason, want) {
		t.Errorf("%s: error %q, want it to mention %q", what, pe.Reason, want)
	}
	if !strings.HasPrefix(err.Error(), "tsunagi: invalid packet: ") {
		t.Errorf("%s: Error() = %q", what, err.Error())
	}
}

var packetErrors = []struct {
	name, wire, want string
}{
	{"empty", ``, "empty packet"},
	{"type 7", `7["a"]`, "unknown packet type '7'"},
	{"type a", `a["a"]`, "unknown packet type 'a'"},
	{"type minus", `-1`, "unknown packet type '-'"},
	{"EVENT object", `2{}`, "EVENT payload must be an array"},
	{"EVENT string", `2"foo"`, "EVENT payload must be an array"},
	{"EVENT without payload", `2`, "EVENT payload must be an array"},
	{"EVENT admin without payload", `2/admin,`, "EVENT payload must be an array"},
	{"EVENT garbage before array", `2abc["foo"]`, "not valid JSON"},
	{"EVENT invalid JSON", `2["foo",]`, "not valid JSON"},
	{"EVENT unterminated", `2["foo"`, "not valid JSON"},
	{"EVENT trailing data", `2["foo"]x`, "not valid JSON"},
	{"EVENT two values", `2["foo"]["bar"]`, "not valid JSON"},
	{"EVENT single quotes", `2['foo']`, "not valid JSON"},
	{"EVENT empty array", `2[]`, "EVENT payload is an empty array"},
	{"EVENT empty array with spaces", `2[ ]`, "EVENT payload is an empty array"},
	{"EVENT name object", `2[{"a":1},"x"]`, "event name must be a string"},
	{"EVENT name null", `2[null]`, "event name must be a string"},
	{"EVENT name bool", `2[true,1]`, "event name must be a string"},
	{"EVENT name number", `2[42]`, "event name must be a string"},
	{"EVENT name array", `2[["a"]]`, "event name must be a string"},
	{"EVENT reserved connect", `2["connect"]`, `event name "connect" is reserved`},
	{"EVENT reserved connect_error", `2["connect_error",{}]`, `"connect_error" is reserved`},
	{"EVENT reserved disconnect", `2["disconnect"]`, `"disconnect" is reserved`},
	{"EVENT reserved disconnecting", `2/admin,3["disconnecting"]`, `"disconnecting" is reserved`},
	{"EVENT reserved newListener", `2["newListener"]`, `"newListener" is reserved`},
	{"EVENT reserved removeListener", `2["removeListener","x"]`, `"removeListener" is reserved`},
	{"EVENT reserved escaped", `2["\u0063onnect"]`, `"connect" is reserved`},
	{"BINARY_EVENT reserved", `51-["disconnect",{"_placeholder":true,"num":0}]`, `"disconnect" is reserved`},
	{"EVENT ack id non-numeric", `2abc["a"]`, "not valid JSON"},
	{"EVENT ack id negative", `2-1["a"]`, "not valid JSON"},
	{"ACK ack id negative", `3-5[]`, "not valid JSON"},
	{"ACK ack id non-numeric", `3/admin,x1[]`, "not valid JSON"},
	{"EVENT ack id 2^53+1", `29007199254740993["a"]`, "ack id 9007199254740993 above 2^53"},
	{"EVENT ack id 2^54", `218014398509481984["a"]`, "ack id too long"},
	{"EVENT ack id 2^63", `29223372036854775808["a"]`, "ack id too long"},
	{"EVENT ack id 30 digits", `2` + strings.Repeat("9", 30) + `["a"]`, "ack id too long"},
	{"ACK ack id above 2^53", `3/admin,9999999999999999[]`, "above 2^53"},
	{"ACK without id", `3[]`, "ACK without an id"},
	{"ACK admin without id", `3/admin,["bar"]`, "ACK without an id"},
	{"ACK object", `31{}`, "ACK payload must be an array"},
	{"ACK without payload", `31`, "ACK payload must be an array"},
	{"BINARY_ACK without id", `61-[{"_placeholder":true,"num":0}]`, "ACK without an id"},
	{"CONNECT array", `0["a"]`, "CONNECT payload must be an object"},
	{"CONNECT string", `0"token"`, "CONNECT payload must be an object"},
	{"CONNECT bool", `0/admin,true`, "CONNECT payload must be an object"},
	{"CONNECT number after id", `0/admin,1 2`, "CONNECT payload must be an object"},
	{"CONNECT null", `0null`, "CONNECT payload must be an object"},
	{"CONNECT invalid JSON", `0{token:1}`, "not valid JSON"},
	{"DISCONNECT with payload", `1{}`, "DISCONNECT carries no payload"},
	{"DISCONNECT admin with payload", `1/admin,["x"]`, "DISCONNECT carries no payload"},
	{"CONNECT_ERROR without payload", `4`, "CONNECT_ERROR payload must be an object or a string"},
	{"CONNECT_ERROR array", `4["x"]`, "CONNECT_ERROR payload must be an object or a string"},
	{"CONNECT_ERROR abc", `4abc`, "not valid JSON"},
	{"BINARY_EVENT 0 attachments", `50-["a"]`, "0 attachments (allowed: 1 to 10)"},
	{"BINARY_EVENT 11 attachments", `511-["a",` + placeholders(11) + `]`, "11 attachments (allowed: 1 to 10)"},
	{"BINARY_EVENT huge count", `5123456789-["a"]`, "attachment count"},
	{"BINARY_EVENT non-numeric count", `5x-["a",{"_placeholder":true,"num":0}]`, "attachment count"},
	{"BINARY_EVENT missing dash", `51["a",{"_placeholder":true,"num":0}]`, "attachment count"},
	{"BINARY_EVENT only count", `51`, "attachment count"},
	{"BINARY_EVENT dash only", `5-["a"]`, "attachment count"},
	{"BINARY_EVENT negative count", `5-1-["a"]`, "attachment count"},
	{"BINARY_ACK missing count", `6/admin,1[]`, "attachment count"},
	{"BINARY_EVENT object", `51-{"_placeholder":true,"num":0}`, "EVENT payload must be an array"},
}

func TestDecodePacketErrors(t *testing.T) {
	for _, tc := range packetErrors {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wire.DecodePacket([]byte(tc.wire), wire.Limits{})
			wantParseError(t, tc.wire, err, tc.want)
		})
	}
}

func TestDecodePacketAckIDLimits(t *testing.T) {
	for _, tc := range []struct {
		wire string
		id   int64
	}{
		{`20["a"]`, 0},
		{`2007["a"]`, 7},
		{`29007199254740991["a"]`, wire.MaxAckID - 1},
		{`29007199254740992["a"]`, wire.MaxAckID},
		{`3/admin,9007199254740992[]`, wire.MaxAckID},
	} {
		p, err := wire.DecodePacket([]byte(tc.wire), wire.Limits{})
		if err != nil || p.ID != tc.id {
			t.Errorf("%s: id %d, err %v; want %d", tc.wire, p.ID, err, tc.id)
		}
	}
}

func TestDecodePacketLimits(t *testing.T) {
	msg := []byte(`53-["a",` + placeholders(3) + `]`)
	if _, err := wire.DecodePacket(msg, wire.Limits{MaxAttachments: 2}); err == nil {
		t.Error("3 attachments accepted with MaxAttachments 2")
	} else {
		wantParseError(t, string(msg), err, "3 attachments (allowed: 1 to 2)")
	}
	if p, err := wire.DecodePacket(msg, wire.Limits{MaxAttachments: 3}); err != nil || p.Attachments != 3 {
		t.Errorf("MaxAttachments 3: %+v %v", p, err)
	}
	msg = []byte(`520-["a",` + placeholders(20) + `]`)
	if p, err := wire.DecodePacket(msg, wire.Limits{MaxAttachments: 50}); err != nil || p.Attachments != 20 {
		t.Errorf("MaxAttachments 50: %+v %v", p, err)
	}
	if _, err := wire.DecodePacket(msg, wire.Limits{}); err == nil {
		t.Error("20 attachments accepted by default")
	}
}

func TestDecodePacketWhitespace(t *testing.T) {
	// JSON allows whitespace; the JS parser accepts it too.
	p, err := wire.DecodePacket([]byte("2 [ \"foo\" , 1 ]"), wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	name, args, err := shared.ParseEvent(p.Data, nil)
	if err != nil || name != "foo" || args.Len() != 1 || string(args.Raw(0)) != "1" {
		t.Fatalf("ParseEvent = %q %v %v", name, args.Raw(0), err)
	}
}

// Deeply nested JSON must be rejected, not crash the decoder (stack
// exhaustion is fatal in Go, recover cannot catch it).
func TestDecodePacketDeepNesting(t *testing.T) {
	const depth = 100_000
	deep := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	deepObj := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	for _, msg := range []string{
		`2["a",` + deep + `]`,
		`2` + deep,
		`3/admin,1[` + deepObj + `]`,
		`0` + deepObj,
		`4` + deepObj,
		`51-["a",` + strings.Repeat("[", depth) + `{"_placeholder":true,"num":0}` + strings.Repeat("]", depth) + `]`,
	} {
		_, err := wire.DecodePacket([]byte(msg), wire.Limits{})
		wantParseError(t, msg[:12]+"…", err, "not valid JSON")
		var d wire.Decoder
		_, _, err = d.Text([]byte(msg))
		wantParseError(t, "Decoder "+msg[:12]+"…", err, "not valid JSON")
	}
	// ParseEvent and ParseArgs work on unvalidated data too.
	for _, data := range []string{`["a",` + deep + `]`, deep, `[` + strings.Repeat(`"\"[`, depth)} {
		_, args, err := shared.ParseEvent(raw(data), nil)
		if err == nil {
			if _, err := args.Values(); err == nil {
				t.Errorf("ParseEvent(%.12s…).Values() accepted %d levels", data, depth)
			}
		}
		args, err = shared.ParseArgs(raw(data), nil)
		if err == nil {
			var v any
			if err := args.Decode(args.Len()-1, &v); err == nil {
				t.Errorf("ParseArgs(%.12s…).Decode accepted %d levels", data, depth)
			}
		}
	}
	// Moderate nesting is fine.
	ok := `2["a",` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `]`
	if _, err := wire.DecodePacket([]byte(ok), wire.Limits{}); err != nil {
		t.Errorf("500 levels: %v", err)
	}
}

func TestDecoderErrors(t *testing.T) {
	t.Run("placeholder num out of range", func(t *testing.T) {
		for _, msg := range []string{
			`51-["a",{"_placeholder":true,"num":1}]`,
			`51-["a",{"_placeholder":true,"num":-1}]`,
			`52-["a",{"_placeholder":true,"num":0},{"b":[{"_placeholder":true,"num":2}]}]`,
			`61-/admin,1[{"_placeholder":true,"num":10}]`,
			`51-["a",{"_placeholder":true,"num":0.5}]`,
			// Huge numbers once converted to a negative int and panicked.
			`51-["a",{"_placeholder":true,"num":1e20}]`,
			`51-["a",{"_placeholder":true,"num":9223372036854775808}]`,
			`51-["a",{"_placeholder":true,"num":1e300}]`,
			`51-["a",{"_placeholder":true,"num":-0.0000001}]`,
		} {
			var d wire.Decoder
			_, _, err := d.Text([]byte(msg))
			wantParseError(t, msg, err, "placeholder num")
			if d.Waiting() != 0 {
				t.Errorf("%s: Waiting = %d after an error", msg, d.Waiting())
			}
		}
	})
	t.Run("placeholder num a string", func(t *testing.T) {
		for _, msg := range []string{
			`51-["a",{"_placeholder":true,"num":"0"}]`,
			`51-["a",{"_placeholder":true}]`,
			`51-["a",{"_placeholder":true,"num":null}]`,
		} {
			var d wire.Decoder
			_, _, err := d.Text([]byte(msg))
			wantParseError(t, msg, err, "placeholder num")
		}
	})
	t.Run("text while binary expected", func(t *testing.T) {
		var d wire.Decoder
		if _, complete, err := d.Text([]byte(`52-["a",` + placeholders(2) + `]`)); err != nil || complete {
			t.Fatal(complete, err)
		}
		if _, complete, err := d.Binary([]byte{1}); err != nil || complete {
			t.Fatal(complete, err)
		}
		_, _, err := d.Text([]byte(`2["b"]`))
		wantParseError(t, "text during binary", err, "text message while 1 binary attachments were expected")
		// The decoder starts afresh: the next text packet decodes, and a
		// stray binary message is unexpected.
		if d.Waiting() != 0 {
			t.Fatalf("Waiting = %d", d.Waiting())
		}
		if _, _, err := d.Binary([]byte{2}); !errors.Is(err, wire.ErrUnexpectedBinary) {
			t.Fatalf("Binary after reset: %v", err)
		}
		p, complete, err := d.Text([]byte(`2["b"]`))
		if err != nil || !complete || string(p.Data) != `["b"]` {
			t.Fatalf("after reset: %+v %v %v", p, complete, err)
		}
	})
	t.Run("unexpected binary", func(t *testing.T) {
		var d wire.Decoder
		_, _, err := d.Binary([]byte("x"))
		if !errors.Is(err, wire.ErrUnexpectedBinary) {
			t.Fatalf("Binary with nothing pending: %v", err)
		}
		if _, complete, err := d.Text([]byte(`2["a"]`)); err != nil || !complete {
			t.Fatal(complete, err)
		}
		if _, _, err := d.Binary([]byte("x")); !errors.Is(err, wire.ErrUnexpectedBinary) {
			t.Fatalf("Binary after a complete text packet: %v", err)
		}
	})
	t.Run("invalid packets", func(t *testing.T) {
		for _, tc := range packetErrors {
			var d wire.Decoder
			_, complete, err := d.Text([]byte(tc.wire))
			if complete {
				t.Errorf("%s: complete", tc.wire)
			}
			wantParseError(t, tc.wire, err, tc.want)
			if d.Waiting() != 0 {
				t.Errorf("%s: Waiting = %d", tc.wire, d.Waiting())
			}
		}
	})
	t.Run("limits", func(t *testing.T) {
		d := wire.Decoder{Limits: wire.Limits{MaxAttachments: 1}}
		_, _, err := d.Text([]byte(`52-["a",` + placeholders(2) + `]`))
		wantParseError(t, "limits", err, "2 attachments (allowed: 1 to 1)")
	})
}

// The decoder keeps a binary packet's payload even when the caller reuses the
// buffer of the text message.
func TestDecoderCopiesPendingText(t *testing.T) {
	var d wire.Decoder
	buf := []byte(`51-["up",{"_placeholder":true,"num":0}]`)
	if _, _, err := d.Text(buf); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'x'
	}
	p, complete, err := d.Binary([]byte("data"))
	if err != nil || !complete {
		t.Fatal(complete, err)
	}
	name, args, err := shared.ParseEvent(p.Data, p.Buffers)
	if err != nil || name != "up" {
		t.Fatal(name, err)
	}
	var b []byte
	if err := args.Decode(0, &b); err != nil || string(b) != "data" {
		t.Fatalf("%q %v", b, err)
	}
}

func TestEIOSpec(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		typ  wire.EIOType
		data string
		name string
	}{
		{`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}`, wire.EIOOpen,
			`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}`, "open"},
		{`1`, wire.EIOClose, ``, "close"},
		{`2`, wire.EIOPing, ``, "ping"},
		{`3`, wire.EIOPong, ``, "pong"},
		{`2probe`, wire.EIOPing, `probe`, "ping"},
		{`3probe`, wire.EIOPong, `probe`, "pong"},
		{`4hello`, wire.EIOMessage, `hello`, "message"},
		{`4€`, wire.EIOMessage, `€`, "message"},
		{`42["foo"]`, wire.EIOMessage, `2["foo"]`, "message"},
		{`5`, wire.EIOUpgrade, ``, "upgrade"},
		{`6`, wire.EIONoop, ``, "noop"},
	} {
		typ, data, err := wire.DecodeEIO([]byte(tc.msg))
		if err != nil || typ != tc.typ || string(data) != tc.data {
			t.Errorf("DecodeEIO(%s) = %v %q %v", tc.msg, typ, data, err)
		}
		if typ.String() != tc.name {
			t.Errorf("%v.String() = %s, want %s", typ, typ.String(), tc.name)
		}
		// Encoding an Engine.IO packet is its type byte, then the data.
		if enc := append([]byte{byte(tc.typ)}, tc.data...); string(enc) != tc.msg {
			t.Errorf("encode = %s, want %s", enc, tc.msg)
		}
	}
	if s := wire.EIOType('9').String(); s != `EIOType('9')` {
		t.Errorf("String of unknown type: %s", s)
	}
}

func TestDecodeEIOErrors(t *testing.T) {
	if _, _, err := wire.DecodeEIO(nil); !errors.Is(err, wire.ErrEmptyMessage) {
		t.Errorf("empty: %v", err)
	}
	if _, _, err := wire.DecodeEIO([]byte{}); !errors.Is(err, wire.ErrEmptyMessage) {
		t.Errorf("empty: %v", err)
	}
	for _, msg := range []string{"7", "9", "a", "/", " 4", "\x00", "b4AQID"} {
		_, _, err := wire.DecodeEIO([]byte(msg))
		if err == nil || !strings.Contains(err.Error(), "unknown Engine.IO packet type") || !strings.Contains(err.Error(), strconv.QuoteRune(rune(msg[0]))) {
			t.Errorf("DecodeEIO(%q): %v", msg, err)
		}
	}
}

func TestOpenPacket(t *testing.T) {
	o := wire.OpenPacket{SID: "lv_VI97HAXpY6yYWAAAC", PingInterval: 25000, PingTimeout: 20000, MaxPayload: wire.DefaultMaxPayload}
	want := `0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if got := string(o.Encode()); got != want {
		t.Fatalf("Encode = %s, want %s", got, want)
	}
	typ, data, err := wire.DecodeEIO(o.Encode())
	if err != nil || typ != wire.EIOOpen {
		t.Fatal(typ, err)
	}
	got, err := wire.DecodeOpen(data)
	if err != nil {
		t.Fatal(err)
	}
	o.Upgrades = []string{}
	if !reflect.DeepEqual(got, o) {
		t.Fatalf("round trip = %+v, want %+v", got, o)
	}
	// The spec's example.
	got, err = wire.DecodeOpen([]byte(`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}`))
	if err != nil || got.SID != "lv_VI97HAXpY6yYWAAAC" || got.PingTimeout != 5000 || !reflect.DeepEqual(got.Upgrades, []string{"websocket"}) {
		t.Fatalf("spec open packet: %+v %v", got, err)
	}
	if wire.DefaultPingInterval.Milliseconds() != 25000 || wire.DefaultPingTimeout.Milliseconds() != 20000 || wire.DefaultMaxAttachments != 10 {
		t.Error("defaults differ from Socket.IO's")
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"sid":""}`, `{"sid":"x","pingInterval":0,"pingTimeout":1}`, `{"sid":"x","pingInterval":1,"pingTimeout":-1}`, `{"sid":1}`} {
		if _, err := wire.DecodeOpen([]byte(bad)); err == nil || !strings.Contains(err.Error(), "invalid open packet") {
			t.Errorf("DecodeOpen(%s): %v", bad, err)
		}
	}
}

func TestIsReserved(t *testing.T) {
	for _, n := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		if !wire.IsReserved(n) {
			t.Errorf("%s not reserved", n)
		}
	}
	for _, n := range []string{"", "Connect", "message", "news", "connected", "error"} {
		if wire.IsReserved(n) {
			t.Errorf("%q reserved", n)
		}
	}
}
