package jsoncodec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Types that exercise every rule of the codec; each test compares it with
// encoding/json.

type jBase struct {
	ID   int    `json:"id"`
	Name string `json:"name,omitempty"`
	Dup  string // ties with jOther.Dup: neither is encoded
	Deep string `json:"deep"`
}

type jOther struct {
	Dup  string
	Deep string // hidden by the tagged jBase.Deep at the same depth
}

type jInner struct {
	X    int     `json:"x"`
	Ptr  *jInner `json:"ptr,omitempty"`
	List []int   `json:"list"`
}

type jRaw string // records what UnmarshalJSON gets; fails on arrays

func (r *jRaw) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		return errors.New("jRaw: no arrays")
	}
	*r = jRaw(b)
	return nil
}

type jText struct{ S string } // a TextUnmarshaler and TextMarshaler, also as map key

func (t *jText) UnmarshalText(b []byte) error {
	if string(b) == "bad" {
		return errors.New("jText: bad")
	}
	t.S = "<" + string(b) + ">"
	return nil
}

func (t jText) MarshalText() ([]byte, error) { return []byte("t:" + t.S), nil }

type jMarsh struct{ N int } // MarshalJSON on the value

func (m jMarsh) MarshalJSON() ([]byte, error) {
	if m.N < 0 {
		return nil, errors.New("jMarsh: negative")
	}
	if m.N == 7 {
		return []byte(`{"bad"`), nil
	}
	return []byte(fmt.Sprintf(` { "n" : %d, "html": "<&>\u2028" } `, m.N)), nil
}

type jPtrMarsh struct{ N int } // MarshalJSON on the pointer: only when addressable

func (m *jPtrMarsh) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprint(m.N * 10)), nil }

type jZero struct{ N int }

func (z jZero) IsZero() bool { return z.N == 42 }

type jBlob []byte

type jRich struct {
	jBase
	jOther
	*jInner
	Quoted    int               `json:"q,string"`
	QFloat    float64           `json:"qf,string"`
	QBool     bool              `json:"qb,string"`
	QStr      string            `json:"qs,string"`
	QPtr      *int              `json:"qp,string"`
	Bytes     []byte            `json:"bytes"`
	Blob      jBlob             `json:"blob,omitempty"`
	Arr       [2]int            `json:"arr"`
	Slice     []jInner          `json:"slice"`
	Map       map[string]int    `json:"map"`
	IntMap    map[int]string    `json:"intMap"`
	UintMap   map[uint8]bool    `json:"uintMap"`
	TextMap   map[jText]int     `json:"textMap"`
	Any       any               `json:"any"`
	AnyPtr    any               `json:"anyPtr"`
	Stringer  fmt.Stringer      `json:"stringer"`
	Num       json.Number       `json:"num"`
	RawMsg    json.RawMessage   `json:"raw"`
	Custom    jRaw              `json:"custom"`
	CustomPtr *jRaw             `json:"customPtr"`
	Text      jText             `json:"text"`
	TextPtr   *jText            `json:"textPtr"`
	Time      time.Time         `json:"time"`
	Marsh     jMarsh            `json:"marsh"`
	PtrMarsh  jPtrMarsh         `json:"ptrMarsh"`
	Zero      jZero             `json:"zero,omitzero"`
	ZeroTime  time.Time         `json:"zeroTime,omitzero"`
	Empty     map[string]string `json:"empty,omitempty"`
	F32       float32           `json:"f32"`
	Untagged  string
	Skip      int `json:"-"`
	Dash      int `json:"-,"`
	private   int
}

// jTargets are decoding targets beyond the flat ones of fdTargets.
func jTargets() []func() (any, any) {
	pair := func(f func() any) func() (any, any) { return func() (any, any) { return f(), f() } }
	return []func() (any, any){
		pair(func() any { return &jRich{AnyPtr: new(int), Map: map[string]int{"kept": 1}} }),
		pair(func() any { return new(any) }),
		pair(func() any { return new([]any) }),
		pair(func() any { return new(map[string]any) }),
		pair(func() any { return &[]int{9, 9, 9, 9} }),
		pair(func() any { return new([3]string) }),
		pair(func() any { return new([]byte) }),
		pair(func() any { return new(json.Number) }),
		pair(func() any { return new(json.RawMessage) }),
		pair(func() any { return new(*int) }),
		pair(func() any { return new(map[string]*jInner) }),
		pair(func() any { return new([]jInner) }),
		pair(func() any { return new(jRaw) }),
		pair(func() any { return new(jText) }),
		pair(func() any { return new(map[jText]string) }),
		pair(func() any { return new(map[int8]int) }),
		pair(func() any { return new(map[bool]int) }),
		pair(func() any { return new(fmt.Stringer) }),
	}
}

var jSeeds = []string{
	`{"id":1,"name":"n","dup":"d","deep":"e","Deep":"f","x":3,"ptr":{"x":4,"list":[1]},"list":[1,2]}`,
	`{"q":"12","qf":"1.5","qb":"true","qs":"\"s\"","qp":"7"}`,
	`{"q":12}`, `{"q":"x"}`, `{"q":""}`, `{"qf":1e400}`, `{"qf":"1e400"}`, `{"qb":"nope"}`, `{"qs":"s"}`,
	`{"qs":"\"a\\'b\""}`, `{"qp":null}`, `{"qp":"null"}`, `{"q":null}`, `{"q":[1]}`, `{"q":{}}`, `{"qb":true}`,
	`{"bytes":"aGVsbG8=","blob":"AA=="}`, `{"bytes":"!!"}`, `{"bytes":null}`, `{"bytes":[1,2]}`,
	`{"arr":[1,2,3]}`, `{"arr":[1]}`, `{"slice":[{"x":1},{"x":"no"},{"x":3}]}`,
	`{"map":{"a":1,"b":"x"},"intMap":{"1":"a","-2":"b","x":"c"},"uintMap":{"255":true,"256":false}}`,
	`{"textMap":{"k":1,"bad":2}}`, `{"any":{"a":[1,"b",null,true]},"anyPtr":5}`, `{"anyPtr":null}`,
	`{"stringer":"s"}`, `{"stringer":null}`, `{"num":12.5}`, `{"num":"12"}`, `{"num":"x"}`, `{"num":true}`,
	`{"raw":{"a": [1, 2]}}`, `{"custom":{"a":1},"customPtr":"x"}`, `{"custom":[1]}`, `{"customPtr":null}`,
	`{"text":"hi","textPtr":"ho"}`, `{"text":1}`, `{"text":null}`, `{"text":"bad"}`, `{"text":{}}`,
	`{"time":"2024-01-02T03:04:05Z"}`, `{"time":"yesterday"}`, `{"f32":3.4e38}`, `{"f32":1e39}`,
	`{"untagged":"u","UNTAGGED":"v","skip":1,"-":2,"private":3}`, `{"ID":"x","NAME":1}`,
	`[1,"a",null,true,{"b":[]}]`, `[1e400,2]`, `{"k":{"x":1,"list":[]}}`, `{"k":null}`, `[{"x":1},{"list":null}]`,
	`"aGk="`, `"s"`, `12`, `1e400`, `-0`, `null`, `true`, `{"hello":"\u00e9\ud83d\ude00"}`, `[[[[]]]]`,
	`{"1":1,"-129":2,"x":3}`, `{"true":1}`, ` { "a" : [ ] } `, `{"a":1,"a":2}`, "[\"\xff\"]",
}

func FuzzJSON(f *testing.F) {
	for _, s := range append(jSeeds, fdSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkJSON(t, data) })
}

func TestJSONSeeds(t *testing.T) {
	for _, s := range jSeeds {
		checkJSON(t, []byte(s))
	}
}

// checkJSON compares the codec with encoding/json on data: validity,
// decoding into any (with and without UseNumber) and into every target
// (checkUnmarshal), and encoding, byte for byte, what encoding/json decoded.
func checkJSON(t *testing.T, data []byte) {
	t.Helper()
	if Valid(data) != json.Valid(data) {
		t.Fatalf("Valid(%q) = %v", data, Valid(data))
	}
	for _, useNumber := range []bool{false, true} {
		got, err := DecodeAny(data, useNumber)
		var want any
		var wantErr error
		if useNumber {
			d := json.NewDecoder(bytes.NewReader(data))
			d.UseNumber()
			if wantErr = d.Decode(&want); wantErr == nil && d.More() || !json.Valid(data) {
				want, wantErr = nil, json.Unmarshal(data, new(any)) // trailing data
			}
		} else {
			wantErr = json.Unmarshal(data, &want)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeAny(%q, %v) = %#v, want %#v", data, useNumber, got, want)
		}
		sameError(t, fmt.Sprintf("DecodeAny(%q, %v)", data, useNumber), err, wantErr)
		checkMarshal(t, want)
	}
	checkUnmarshal(t, data)
}

// checkMarshal compares Marshal(v) with json.Marshal(v), byte for byte.
func checkMarshal(t *testing.T, v any) {
	t.Helper()
	got, err := Marshal(v)
	want, wantErr := json.Marshal(v)
	if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
		t.Fatalf("Marshal(%#v) = %s, %v\nwant %s, %v", v, got, err, want, wantErr)
	}
}

func TestMarshalMatchesEncodingJSON(t *testing.T) {
	n := 3
	cyclic := &jInner{}
	cyclic.Ptr = cyclic
	for _, v := range []any{
		nil, true, 0, int8(-8), uint64(math.MaxUint64), uintptr(7), 1.5, float32(0.1), float32(1e21), 1e21, 1e-7, -0.0,
		math.NaN(), math.Inf(1), float32(math.Inf(-1)), "<a href=\"x\">&amp;</a>\u2028\u2029\b\f\x00\x1f\x7f\xff",
		[]byte("bytes"), jBlob{1, 2}, []byte(nil), [2]byte{1, 2}, []any{1, "a", nil, []byte("b")},
		map[string]any{"b": 1, "a": map[string]any{"<": nil}}, map[int]int{-1: 1, 10: 2, 9: 3},
		map[uint8]string{1: "a"}, map[jText]int{{"b"}: 1, {"a"}: 2}, map[bool]int{true: 1}, map[string]int(nil),
		map[[2]int]int{}, json.Number("12.50"), json.Number(""), json.Number("x"), json.RawMessage(` {"a" : 1} `),
		json.RawMessage(`{bad`), json.RawMessage(nil), jMarsh{1}, jMarsh{-1}, jMarsh{7}, &jMarsh{2}, (*jMarsh)(nil),
		jPtrMarsh{1}, &jPtrMarsh{2}, []jPtrMarsh{{3}}, &[]jPtrMarsh{{4}}, jText{"x"}, &jText{"y"},
		time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), time.Time{}, &n, (*int)(nil), make(chan int), func() {},
		complex(1, 2), cyclic, struct{ C chan int }{}, struct {
			A int         `json:"a,string"`
			B *int        `json:"b,string"`
			C *int        `json:"c,string"`
			D json.Number `json:"d,string"`
			E string      `json:"e,string"`
			F []int       `json:"f,string"`
			G jMarsh      `json:"g,string"`
		}{A: 1, B: &n, D: "5", E: "<x>", F: []int{1}, G: jMarsh{2}},
		jRich{
			jBase: jBase{ID: 1, Name: "n", Dup: "d", Deep: "e"}, jOther: jOther{Dup: "o", Deep: "f"},
			jInner: &jInner{X: 2, List: []int{}}, Quoted: 3, QFloat: 1e-9, QBool: true, QStr: `"q"`, QPtr: &n,
			Bytes: []byte{0, 1, 2}, Blob: jBlob("b"), Arr: [2]int{4, 5}, Slice: []jInner{{X: 6}},
			Map: map[string]int{"z": 1, "a": 2}, IntMap: map[int]string{3: "c"}, TextMap: map[jText]int{{"k"}: 1},
			Any: []any{map[string]any{}}, Stringer: time.Second, Num: "7", RawMsg: json.RawMessage(`[1, 2]`),
			Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Marsh: jMarsh{8}, PtrMarsh: jPtrMarsh{9},
			Zero: jZero{42}, Empty: map[string]string{}, F32: 1.25, Untagged: "u", Skip: 1, Dash: 2, private: 3,
		},
		jRich{Zero: jZero{1}, ZeroTime: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		checkMarshal(t, v)
		checkMarshal(t, &v) // through a pointer to an interface
		checkMarshal(t, []any{v})
	}
	// What encoding/json rejects, Marshal rejects with the same error.
	_, err := Marshal(make(chan int))
	var ute *json.UnsupportedTypeError
	if !errors.As(err, &ute) || !strings.Contains(err.Error(), "chan int") {
		t.Errorf("Marshal(chan) = %v", err)
	}
}

// jsonTag reads struct tags as reflect.StructTag.Get("json") does.
func FuzzJSONTag(f *testing.F) {
	for _, tag := range []string{
		``, `json:"a"`, `json:"a,omitempty"`, `xml:"x" json:"b"`, `  json:"c"  `, `json:"-"`, `json:"-,"`,
		`json:""`, `json:`, `json:"unterminated`, `json"a"`, `js on:"a"`, `x:"1"json:"d"`, `jsonx:"e"`,
		`json:"\x41\102\u00e9\U0001F600"`, `json:"a\"b\\c"`, `json:"\a\b\f\n\r\t\v"`, `json:"\'"`, `json:"\q"`,
		`json:"\x4"`, `json:"\x4g"`, `json:"\400"`, `json:"\377"`, `json:"\378"`, `json:"\uD800"`, `json:"\U00110000"`,
		`json:"\u00"`, "json:\"a\nb\"", "json:\"\xff\xfe\"", "json:\"\xffz\\n\"", `json:"ü,string"`, `json:"a\`,
		`x:"\q" json:"f"`, `json:"\xC3\xA9"`, `json:"\uFFFD\UFFFFFFFF"`,
	} {
		f.Add(tag)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag := reflect.StructTag(s)
		if got, want := jsonTag(tag), tag.Get("json"); got != want {
			t.Errorf("jsonTag(%q) = %q; reflect: %q", tag, got, want)
		}
	})
}
