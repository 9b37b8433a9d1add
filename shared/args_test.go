package shared

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tsunagi/tsunagi/shared/wire"
)

func TestArgsDecodePlaceholders(t *testing.T) {
	data := json.RawMessage(`["up",{"_placeholder":true,"num":1},` +
		`{"name":"f","data":{"_placeholder":true,"num":0},"parts":[{"_placeholder":true,"num":1}],"size":9007199254740993},` +
		`"plain",{"_placeholder":true,"num":5}]`)
	bufs := [][]byte{[]byte("zero"), []byte("one")}
	name, args, err := ParseEvent(data, bufs)
	if err != nil || name != "up" || args.Len() != 4 {
		t.Fatal(name, args.Len(), err)
	}
	// Top level.
	var b []byte
	if err := args.Decode(0, &b); err != nil || string(b) != "one" {
		t.Fatalf("Decode(0) = %q %v", b, err)
	}
	// Nested into a struct's []byte fields; other fields keep their precision.
	type file struct {
		Name  string   `json:"name"`
		Data  []byte   `json:"data"`
		Parts [][]byte `json:"parts"`
		Size  int64    `json:"size"`
	}
	var f file
	if err := args.Decode(1, &f); err != nil {
		t.Fatal(err)
	}
	if f.Name != "f" || string(f.Data) != "zero" || len(f.Parts) != 1 || string(f.Parts[0]) != "one" || f.Size != 9007199254740993 {
		t.Fatalf("Decode(1) = %+v", f)
	}
	var fp *file
	if err := args.Decode(1, &fp); err != nil || fp == nil || string(fp.Data) != "zero" {
		t.Fatalf("Decode(1) into a pointer = %+v %v", fp, err)
	}
	// Into a generic map: []byte via Value, base64 through Decode.
	v, err := args.Value(1)
	if err != nil {
		t.Fatal(err)
	}
	if m := v.(map[string]any); !bytes.Equal(m["data"].([]byte), []byte("zero")) || !bytes.Equal(m["parts"].([]any)[0].([]byte), []byte("one")) {
		t.Fatalf("Value(1) = %#v", v)
	}
	// A plain argument is untouched.
	var s string
	if err := args.Decode(2, &s); err != nil || s != "plain" {
		t.Fatal(s, err)
	}
	// A placeholder out of range does not decode.
	if err := args.Decode(3, &b); err == nil {
		t.Fatalf("placeholder 5 of 2 decoded as %q", b)
	}
	if _, err := args.Value(3); err == nil {
		t.Fatal("Value of placeholder 5 of 2 succeeded")
	}
	if _, err := args.Values(); err == nil {
		t.Fatal("Values with a placeholder out of range succeeded")
	}
	// A missing argument decodes as null.
	f = file{Name: "kept"}
	if err := args.Decode(4, &f); err != nil || f.Name != "kept" {
		t.Fatalf("missing argument: %+v %v", f, err)
	}
	if v, err := args.Value(9); v != nil || err != nil {
		t.Fatalf("Value of a missing argument: %v %v", v, err)
	}
	if args.Raw(-1) != nil || args.Raw(4) != nil || string(args.Raw(2)) != `"plain"` {
		t.Fatal("Raw")
	}
	if len(args.Buffers()) != 2 {
		t.Fatal("Buffers")
	}
}

func TestArgsValue(t *testing.T) {
	args := newArgs([]json.RawMessage{
		json.RawMessage(`{"_placeholder":true,"num":0}`),
		json.RawMessage(`[1,"a",null,true,{"x":{"_placeholder":true,"num":1}}]`),
		json.RawMessage(`{"_placeholder":false,"num":0}`),
		json.RawMessage(`{"_placeholder":true,"num":"0"}`),
	}, [][]byte{{0xde, 0xad}, {0xbe, 0xef}})
	v0, err := args.Value(0)
	if err != nil || !bytes.Equal(v0.([]byte), []byte{0xde, 0xad}) {
		t.Fatalf("Value(0) = %#v %v", v0, err)
	}
	v1, err := args.Value(1)
	want := []any{1.0, "a", nil, true, map[string]any{"x": []byte{0xbe, 0xef}}}
	if err != nil || !reflect.DeepEqual(v1, want) {
		t.Fatalf("Value(1) = %#v %v", v1, err)
	}
	v2, err := args.Value(2)
	if err != nil || !reflect.DeepEqual(v2, map[string]any{"_placeholder": false, "num": 0.0}) {
		t.Fatalf("Value(2) = %#v %v", v2, err)
	}
	var pe *wire.ParseError
	if _, err := args.Value(3); !errors.As(err, &pe) || !strings.Contains(pe.Reason, "placeholder num") {
		t.Fatalf("a string num: %v, want a *wire.ParseError", err)
	}
	// Without buffers, placeholders stay objects.
	plain := newArgs([]json.RawMessage{json.RawMessage(`{"_placeholder":true,"num":0}`)}, nil)
	if v, err := plain.Value(0); err != nil || !reflect.DeepEqual(v, map[string]any{"_placeholder": true, "num": 0.0}) {
		t.Fatalf("no buffers: %#v %v", v, err)
	}
}

func TestArgsDecodeErrors(t *testing.T) {
	type news struct {
		Hello string `json:"hello"`
	}
	args, err := ParseArgs(json.RawMessage(`[{"hello":1},"str",[1,2],{"hello":"ok"},{"_placeholder":true,"num":0}]`), [][]byte{[]byte("b")})
	if err != nil {
		t.Fatal(err)
	}
	var n news
	var typeErr *json.UnmarshalTypeError
	if err := args.Decode(0, &n); !errors.As(err, &typeErr) {
		t.Errorf("number into string field: %v", err)
	}
	var i int
	if err := args.Decode(1, &i); !errors.As(err, &typeErr) {
		t.Errorf("string into int: %v", err)
	}
	if err := args.Decode(2, &n); !errors.As(err, &typeErr) {
		t.Errorf("array into struct: %v", err)
	}
	if err := args.Decode(3, &n); err != nil || n.Hello != "ok" {
		t.Errorf("valid: %+v %v", n, err)
	}
	if err := args.Decode(4, &n); !errors.As(err, &typeErr) {
		t.Errorf("placeholder into a struct without []byte: %v", err)
	}
	if err := args.Decode(3, n); err == nil {
		t.Error("decoding into a non-pointer succeeded")
	}
	// Invalid JSON in unvalidated Args.
	bad := newArgs([]json.RawMessage{json.RawMessage(`{"hello":`)}, nil)
	if err := bad.Decode(0, &n); err == nil {
		t.Error("invalid JSON decoded")
	}
	if _, err := bad.Value(0); err == nil {
		t.Error("invalid JSON has a Value")
	}

	de := &DecodeError{Event: "news", Index: 1, Err: typeErr}
	if !strings.Contains(de.Error(), `event "news" argument 1`) || !strings.Contains(de.Error(), "cannot unmarshal") {
		t.Errorf("DecodeError = %q", de.Error())
	}
	if !errors.Is(de, typeErr) || errors.Unwrap(de) != typeErr {
		t.Error("DecodeError does not unwrap")
	}
	ack := &DecodeError{Index: 0, Err: errors.New("boom")}
	if ack.Error() != "tsunagi: ack argument 0: boom" {
		t.Errorf("ack DecodeError = %q", ack.Error())
	}
}

func TestParseEventAndArgs(t *testing.T) {
	for _, tc := range []struct {
		data string
		name string
		args []string
	}{
		{`["foo"]`, "foo", nil},
		{`["foo","bar"]`, "foo", []string{`"bar"`}},
		{` [ "a b" , {"x": [1, "]"]} , "\"" ] `, "a b", []string{`{"x": [1, "]"]}`, `"\""`}},
		{`["say \"hi\""]`, `say "hi"`, nil},
		{`["\u00e9t\u00e9"]`, "été", nil},
		{`["back\\slash",1]`, `back\slash`, []string{"1"}},
		{`["ünï",[],{}]`, "ünï", []string{"[]", "{}"}},
		{`["",1]`, "", []string{"1"}},
	} {
		name, args, err := ParseEvent(json.RawMessage(tc.data), nil)
		if err != nil || name != tc.name || args.Len() != len(tc.args) {
			t.Errorf("ParseEvent(%s) = %q, %d args, %v", tc.data, name, args.Len(), err)
			continue
		}
		for i, w := range tc.args {
			if string(args.Raw(i)) != w {
				t.Errorf("ParseEvent(%s) arg %d = %s, want %s", tc.data, i, args.Raw(i), w)
			}
		}
	}
	for _, bad := range []string{``, `{}`, `"foo"`, `[]`, `[1]`, `[null]`, `[{"a":1}]`, `["a",`, `["a"`, `[`,
		`["\`, `["]`, `["\"]`, `["a\`, `[,]`, `["a",,1]`, `["a" 1`, `["\ud800\"`} {
		if name, _, err := ParseEvent(json.RawMessage(bad), nil); err == nil && !json.Valid([]byte(bad)) {
			// Unvalidated input may split oddly but must not panic; a name
			// still has to be a string.
			t.Logf("ParseEvent(%s) = %q", bad, name)
		} else if err == nil {
			t.Errorf("ParseEvent(%s) succeeded", bad)
		}
	}
	for _, tc := range []struct {
		data string
		n    int
	}{{`[]`, 0}, {`[null]`, 1}, {`[1,"a",[2,3],{"b":[4]}]`, 4}, {"[\n1 ,\t2\r]", 2}} {
		args, err := ParseArgs(json.RawMessage(tc.data), nil)
		if err != nil || args.Len() != tc.n {
			t.Errorf("ParseArgs(%s) = %d args, %v", tc.data, args.Len(), err)
		}
	}
	for _, bad := range []string{``, `{}`, `1`, `[1,`, `["\`, `[1 `} {
		var pe *wire.ParseError
		if _, err := ParseArgs(json.RawMessage(bad), nil); !errors.As(err, &pe) {
			t.Errorf("ParseArgs(%s): %v, want a *wire.ParseError", bad, err)
		}
	}
}
