package jsoncodec_test

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// encodeArgs runs Encoder.AppendArgs on a fresh Encoder.
func encodeArgs(t *testing.T, name string, args ...any) (string, [][]byte) {
	t.Helper()
	var e jsoncodec.Encoder
	if err := e.AppendArgs(name, args); err != nil {
		t.Fatalf("AppendArgs(%q, %#v): %v", name, args, err)
	}
	if !json.Valid(e.Buf) {
		t.Fatalf("AppendArgs wrote invalid JSON: %s", e.Buf)
	}
	return string(e.Buf), e.Buffers
}

func TestEncoderStrings(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", `""`},
		{"hello", `"hello"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"a\nb\rc\td", `"a\nb\rc\td"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"\b\f", `"\b\f"`},
		{"<script>&</script>", `"<script>&</script>"`},
		{"héllo wörld ✓ 😀", `"héllo wörld ✓ 😀"`},
		{"line\u2028sep\u2029par", `"line\u2028sep\u2029par"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
		{"\xc3\x28", `"\ufffd("`},                // invalid 2-byte sequence
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // UTF-16 surrogate encoded in UTF-8
		{"\xf0\x9f\x98", `"\ufffd\ufffd\ufffd"`}, // truncated 4-byte sequence
		{"\U0010FFFF", "\"\U0010FFFF\""},
	} {
		got, bufs := encodeArgs(t, "", tc.in)
		if got != "["+tc.want+"]" || bufs != nil {
			t.Errorf("AppendArgs(%q) = %s, want [%s]", tc.in, got, tc.want)
		}
		// It decodes back to the string, invalid bytes as U+FFFD.
		var back []string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back[0] != string([]rune(tc.in)) {
			t.Errorf("%q decodes back as %q (%v)", tc.in, back, err)
		}
		// The event name is escaped the same way.
		if tc.in != "" {
			got, _ = encodeArgs(t, tc.in)
			if got != "["+tc.want+"]" {
				t.Errorf("AppendArgs(name %q) = %s", tc.in, got)
			}
		}
	}
}

func TestEncoderValues(t *testing.T) {
	type plain struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
	}
	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, `null`},
		{true, `true`},
		{false, `false`},
		{0, `0`},
		{-42, `-42`},
		{math.MaxInt64, `9223372036854775807`},
		{int64(math.MinInt64), `-9223372036854775808`},
		{int8(-8), `-8`},
		{uint64(math.MaxUint64), `18446744073709551615`},
		{1.5, `1.5`},
		{-0.25, `-0.25`},
		{1e21, `1e+21`},
		{1e-7, `1e-7`},
		{1e6, `1000000`},
		{123456789.125, `123456789.125`},
		{1e20, `100000000000000000000`},
		{-1.5e-300, `-1.5e-300`},
		{float64(1 << 53), `9007199254740992`},
		{float32(0.1), `0.1`},
		{math.NaN(), `null`},
		{math.Inf(1), `null`},
		{math.Inf(-1), `null`},
		{"s", `"s"`},
		{[]any{}, `[]`},
		{[]any{1, "a", nil, []any{true}}, `[1,"a",null,[true]]`},
		{map[string]any{}, `{}`},
		{map[string]any{"b": 1, "a": "x", "c": map[string]any{"\"q": nil}}, `{"a":"x","b":1,"c":{"\"q":null}}`},
		{[]int{1, 2}, `[1,2]`},
		{[]string(nil), `null`},
		{map[string]int{"z": 1, "y": 2}, `{"y":2,"z":1}`},
		{plain{A: 1}, `{"a":1}`},
		{&plain{A: 1, B: "b"}, `{"a":1,"b":"b"}`},
		{(*plain)(nil), `null`},
		{json.RawMessage(`{"raw": [1, 2]}`), `{"raw": [1, 2]}`},
		{json.RawMessage(`null`), `null`},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), `"2024-01-02T03:04:05Z"`},
		{json.Number("12.50"), `12.50`},
	} {
		got, bufs := encodeArgs(t, "", tc.in)
		if got != "["+tc.want+"]" || len(bufs) != 0 {
			t.Errorf("AppendArgs(%#v) = %s %d buffers, want [%s]", tc.in, got, len(bufs), tc.want)
		}
	}
	got, _ := encodeArgs(t, "ev", 1, "two", nil, []any{3})
	if got != `["ev",1,"two",null,[3]]` {
		t.Errorf("several args: %s", got)
	}
	got, _ = encodeArgs(t, "ev")
	if got != `["ev"]` {
		t.Errorf("no args: %s", got)
	}
	got, _ = encodeArgs(t, "")
	if got != `[]` {
		t.Errorf("no name, no args: %s", got)
	}
}

// The Encoder appends: to Buf, and to Buffers with placeholder numbers that
// continue where they were.
func TestEncoderAppends(t *testing.T) {
	e := jsoncodec.Encoder{Buf: []byte("prefix:")}
	if err := e.AppendArgs("a", []any{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := e.AppendArgs("", []any{[]byte("y")}); err != nil {
		t.Fatal(err)
	}
	want := `prefix:["a",{"_placeholder":true,"num":0}][{"_placeholder":true,"num":1}]`
	if string(e.Buf) != want || len(e.Buffers) != 2 || string(e.Buffers[1]) != "y" {
		t.Fatalf("%s %q", e.Buf, e.Buffers)
	}
}

func TestEncoderBinaryNested(t *testing.T) {
	got, bufs := encodeArgs(t, "up",
		[]byte("a"),
		map[string]any{"z": []byte("c"), "b": []byte("b"), "n": 1},
		[]any{"s", []any{[]byte("d")}},
		[]byte{},
	)
	want := `["up",{"_placeholder":true,"num":0},` +
		`{"b":{"_placeholder":true,"num":1},"n":1,"z":{"_placeholder":true,"num":2}},` +
		`["s",[{"_placeholder":true,"num":3}]],` +
		`{"_placeholder":true,"num":4}]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	wantBufs := []string{"a", "b", "c", "d", ""}
	if len(bufs) != len(wantBufs) {
		t.Fatalf("%d buffers, want %d", len(bufs), len(wantBufs))
	}
	for i, w := range wantBufs {
		if string(bufs[i]) != w {
			t.Errorf("buffer %d = %q, want %q", i, bufs[i], w)
		}
	}
	// It is a valid BINARY_EVENT.
	p := wire.Packet{Type: wire.BinaryEvent, ID: wire.NoID, Data: []byte(got), Buffers: bufs}
	var d wire.Decoder
	if _, complete, err := d.Text(p.AppendEncode(nil)); err != nil || complete {
		t.Fatal(complete, err)
	}
	var dp wire.Packet
	for _, b := range bufs {
		var err error
		if dp, _, err = d.Binary(b); err != nil {
			t.Fatal(err)
		}
	}
	name, args, err := shared.ParseEvent(dp.Data, dp.Buffers)
	if err != nil || name != "up" || args.Len() != 4 {
		t.Fatal(name, args.Len(), err)
	}
	vals, err := args.Values()
	if err != nil {
		t.Fatal(err)
	}
	wantVals := []any{
		[]byte("a"),
		map[string]any{"b": []byte("b"), "n": 1.0, "z": []byte("c")},
		[]any{"s", []any{[]byte("d")}},
		[]byte{},
	}
	if !reflect.DeepEqual(vals, wantVals) {
		t.Fatalf("Values = %#v\nwant %#v", vals, wantVals)
	}
}

type fileMsg struct {
	Name    string            `json:"name"`
	Data    []byte            `json:"data"`
	Thumb   []byte            `json:"thumb,omitempty"`
	Skipped []byte            `json:"-"`
	Secret  string            `json:"-"`
	Dash    int               `json:"-,"`
	Size    int               `json:",omitempty"`
	Parts   [][]byte          `json:"parts,omitempty"`
	Meta    map[string][]byte `json:"meta,omitempty"`
	Next    *fileMsg          `json:"next,omitempty"`
	private []byte
}

func TestEncoderStructWithBytes(t *testing.T) {
	f := fileMsg{
		Name:    "a.txt",
		Data:    []byte("hello"),
		Skipped: []byte("never"),
		Secret:  "never",
		Dash:    7,
		private: []byte("never"),
		Next:    &fileMsg{Name: "b", Data: []byte("next")},
	}
	got, bufs := encodeArgs(t, "file", f)
	want := `["file",{"name":"a.txt","data":{"_placeholder":true,"num":0},"-":7,` +
		`"next":{"name":"b","data":{"_placeholder":true,"num":1},"-":0}}]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if len(bufs) != 2 || string(bufs[0]) != "hello" || string(bufs[1]) != "next" {
		t.Fatalf("buffers %q", bufs)
	}
	// The omitempty fields, set.
	f.Thumb = []byte("t")
	f.Size = 5
	f.Parts = [][]byte{[]byte("p0"), nil}
	f.Meta = map[string][]byte{"k": []byte("m")}
	f.Next = nil
	got, bufs = encodeArgs(t, "file", &f)
	want = `["file",{"name":"a.txt","data":{"_placeholder":true,"num":0},"thumb":{"_placeholder":true,"num":1},` +
		`"-":7,"Size":5,"parts":[{"_placeholder":true,"num":2},null],"meta":{"k":{"_placeholder":true,"num":3}}}]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if len(bufs) != 4 || string(bufs[0]) != "hello" || string(bufs[1]) != "t" || string(bufs[2]) != "p0" || string(bufs[3]) != "m" {
		t.Fatalf("buffers %q", bufs)
	}
	// A nil []byte field is null, like encoding/json, not an attachment.
	got, bufs = encodeArgs(t, "", fileMsg{Name: "n"})
	if got != `[{"name":"n","data":null,"-":0}]` || len(bufs) != 0 {
		t.Fatalf("nil data: %s %q", got, bufs)
	}
}

// bytesAsBase64 turns the []byte values of a Value tree into the base64
// strings that encoding/json would have written in their place.
func bytesAsBase64(v any) any {
	switch t := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(t)
	case []any:
		for i := range t {
			t[i] = bytesAsBase64(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = bytesAsBase64(t[k])
		}
	}
	return v
}

type Embedded struct {
	E    string `json:"e"`
	Blob []byte `json:"blob,omitempty"`
}

type embeddedPtr struct {
	P string `json:"p"`
}

type hidden struct {
	H  string `json:"h"`
	HB []byte `json:"hb"`
}

type withMarshaler struct{ B []byte }

func (w withMarshaler) MarshalJSON() ([]byte, error) { return json.Marshal("custom:" + string(w.B)) }

type textKey int

func (k textKey) MarshalText() ([]byte, error) { return []byte{'k', byte('0' + k)}, nil }

type zeroer struct{ N int }

func (z zeroer) IsZero() bool { return z.N < 0 }

type tagged struct {
	Embedded
	*embeddedPtr
	hidden
	Named     Embedded          `json:"named"`
	Empty     []byte            `json:"empty,omitempty"`
	EmptyArr  []int             `json:"emptyArr,omitempty"`
	EmptyMap  map[string][]byte `json:"emptyMap,omitempty"`
	ZeroStr   struct{ A int }   `json:"zeroStruct,omitempty"`
	ZeroTime  time.Time         `json:"zeroTime,omitzero"`
	ZeroInt   int               `json:"zeroInt,omitzero"`
	ZeroBytes []byte            `json:"zeroBytes,omitzero"`
	Custom    zeroer            `json:"custom,omitzero"`
	FalseB    bool              `json:"f,omitempty"`
	NilPtr    *int              `json:"nilPtr,omitempty"`
	NilIface  any               `json:"nilIface,omitempty"`
	Iface     any               `json:"iface"`
	Marsh     withMarshaler     `json:"marsh"`
	Keys      map[textKey][]byte
	Arr       [2][]byte `json:"arr"`
	Quoted    int       `json:"quoted,string"`
}

// Struct fields holding []byte go through the Encoder's own reflection; it
// must write the same object as encoding/json, attachments aside.
func TestEncoderStructMatchesEncodingJSON(t *testing.T) {
	values := []any{
		fileMsg{Name: "x", Data: []byte{1, 2, 3}},
		fileMsg{Name: "x", Data: []byte{}, Thumb: []byte{}, Parts: [][]byte{}, Meta: map[string][]byte{}},
		tagged{},
		tagged{
			Embedded:    Embedded{E: "e", Blob: []byte("blob")},
			embeddedPtr: &embeddedPtr{P: "p"},
			hidden:      hidden{H: "h", HB: []byte("hb")},
			Named:       Embedded{E: "n"},
			Empty:       []byte{},
			EmptyArr:    []int{},
			EmptyMap:    map[string][]byte{},
			ZeroTime:    time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
			ZeroInt:     3,
			ZeroBytes:   []byte{},
			Custom:      zeroer{N: 0},
			FalseB:      true,
			NilIface:    []byte("x"),
			Iface:       map[string]any{"b": []byte("y")},
			Marsh:       withMarshaler{B: []byte("m")},
			Keys:        map[textKey][]byte{1: []byte("k")},
			Arr:         [2][]byte{[]byte("a0")},
			Quoted:      12,
		},
		tagged{Custom: zeroer{N: -1}, Iface: []byte("z")},
		[]tagged{{}, {Named: Embedded{Blob: []byte{0}}}},
		map[string]Embedded{"a": {Blob: []byte("b")}},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var wantTree any
		if err := json.Unmarshal(want, &wantTree); err != nil {
			t.Fatal(err)
		}
		got, bufs := encodeArgs(t, "", v)
		args, err := shared.ParseArgs(json.RawMessage(got), bufs)
		if err != nil {
			t.Fatal(err)
		}
		gotTree, err := args.Value(0)
		if err != nil {
			t.Fatal(err)
		}
		if gotTree = bytesAsBase64(gotTree); !reflect.DeepEqual(gotTree, wantTree) {
			t.Errorf("%T:\nEncoder       %s (%d buffers)\nencoding/json %s", v, got, len(bufs), want)
		}
	}
}

func TestEncoderErrors(t *testing.T) {
	type withChan struct {
		B []byte
		C chan int
	}
	type node struct {
		B    []byte
		Next *node
	}
	cyclic := &node{}
	cyclic.Next = cyclic
	list := []any{nil}
	list[0] = list
	m := map[string]any{}
	m["m"] = m
	for _, v := range []any{
		make(chan int),
		func() {},
		complex(1, 2),
		json.RawMessage(`{bad`),
		json.RawMessage(``),
		[]any{1, make(chan int)},
		map[string]any{"f": func() {}},
		withChan{B: []byte("x")},
		cyclic,
		list,
		m,
	} {
		var e jsoncodec.Encoder
		err := e.AppendArgs("ev", []any{v})
		if err == nil {
			t.Errorf("AppendArgs(%T) succeeded: %s", v, e.Buf)
		} else if !strings.HasPrefix(err.Error(), "tsunagi: ") {
			t.Errorf("AppendArgs(%T): %v", v, err)
		}
	}
}
