package jsoncodec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"
)

type (
	fdString string
	fdInt    int16
	fdFloat  float32
)

// fdWide has more than 8 fields, so lookups go through its name map, and
// names that test encoding/json's rules.
type fdWide struct {
	S      string  `json:"s"`
	B      bool    `json:"b,omitempty"`
	I      int     `json:"i"`
	I8     int8    `json:"i8"`
	I16    int16   // no tag: the Go name
	I32    int32   `json:",omitempty"` // empty name: the Go name
	I64    int64   `json:"-,"`         // the name "-"
	U      uint    `json:"u"`
	U8     uint8   `json:"U8"`
	U16    uint16  `json:"u16"`
	U32    uint32  `json:"u32"`
	U64    uint64  `json:"u64"`
	F32    float32 `json:"f32"`
	F64    float64 `json:"f64"`
	Skip   string  `json:"-"`
	hidden string
	Named  fdString `json:"named"`
	NInt   fdInt    `json:"nint"`
	NFloat fdFloat  `json:"nfloat"`
	BadTag string   `json:"a\"b"`  // invalid tag name: the Go name
	Punct  string   `json:"a-b.c"` // valid punctuation
	Fold1  string   `json:"aa"`
	Fold2  string   `json:"AA"` // exact beats folded; first folded wins
	Kelvin string   `json:"k"`  // folds with U+212A KELVIN SIGN
	Uni    string   `json:"ünï"`
	Long   string   `json:"a_rather_long_field_name_beyond_the_64_bytes_of_the_lookup_buffer_x"`
}

// fdNarrow has few fields, so lookups scan them.
type fdNarrow struct {
	Hello string `json:"hello"`
	Hi    string `json:"HELLO"`
	N     int    `json:"n"`
	Ok    bool
	X     float64 `json:"x"`
}

func fdTargets() []func() (any, any) {
	wide := func() any {
		return &fdWide{S: "s0", B: true, I: 1, I8: 2, I16: 3, I32: 4, I64: 5, U: 6, U8: 7, U16: 8, U32: 9, U64: 10,
			F32: 1.5, F64: 2.5, Skip: "skip", hidden: "h", Named: "n", NInt: 11, NFloat: 3.5, BadTag: "bt",
			Punct: "p", Fold1: "f1", Fold2: "f2", Kelvin: "kv", Uni: "u", Long: "l"}
	}
	narrow := func() any { return &fdNarrow{Hello: "h0", Hi: "hi0", N: 7, Ok: true, X: 0.5} }
	anon := func() any {
		return &struct {
			A string `json:"a"`
			N uint8  `json:"n"`
		}{A: "a0", N: 1}
	}
	empty := func() any { return &struct{}{} }
	pair := func(f func() any) func() (any, any) { return func() (any, any) { return f(), f() } }
	scalar := func(v any) func() (any, any) {
		return func() (any, any) {
			a, b := reflect.New(reflect.TypeOf(v)), reflect.New(reflect.TypeOf(v))
			a.Elem().Set(reflect.ValueOf(v))
			b.Elem().Set(reflect.ValueOf(v))
			return a.Interface(), b.Interface()
		}
	}
	flat := []func() (any, any){
		pair(wide), pair(narrow), pair(anon), pair(empty),
		scalar("prev"), scalar(true), scalar(int(-3)), scalar(int8(3)), scalar(int64(3)),
		scalar(uint(3)), scalar(uint8(3)), scalar(uint64(3)), scalar(float32(3)), scalar(float64(3)),
		scalar(fdString("prev")), scalar(fdInt(3)), scalar(fdFloat(3)),
	}
	return append(flat, jTargets()...)
}

// checkUnmarshal holds Unmarshal to json.Unmarshal on every target: the
// same values, and the same error (the same *json.UnmarshalTypeError);
// and Marshal to json.Marshal on what that decoded.
func checkUnmarshal(t *testing.T, data []byte) {
	t.Helper()
	for _, target := range fdTargets() {
		got, want := target()
		err := Unmarshal(data, got)
		wantErr := json.Unmarshal(data, want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Unmarshal(%q, %T):\ngot  %+v\nwant %+v", data, got, got, want)
		}
		sameError(t, fmt.Sprintf("Unmarshal(%q, %T)", data, got), err, wantErr)
		checkMarshal(t, want)
		checkMarshal(t, reflect.ValueOf(want).Elem().Interface()) // not addressable
	}
}

// sameError checks that err is what encoding/json returned: the same
// message and, for a type error, the same fields. A syntax error is
// errSyntax, since a *json.SyntaxError cannot be made outside encoding/json
// (with -tags tsunagi_stdjson, it is encoding/json's).
func sameError(t *testing.T, what string, err, want error) {
	t.Helper()
	var se *json.SyntaxError
	switch {
	case err == nil && want == nil:
	case err == nil || want == nil:
		t.Fatalf("%s: error %v, want %v", what, err, want)
	case errors.As(want, &se):
		if err != errSyntax && !errors.As(err, &se) {
			t.Fatalf("%s: error %v, want a syntax error", what, err)
		}
	case err.Error() != want.Error() || fmt.Sprintf("%T", err) != fmt.Sprintf("%T", want):
		t.Fatalf("%s: error %q (%T)\nwant %q (%T)", what, err, err, want, want)
	case !reflect.DeepEqual(err, want):
		t.Fatalf("%s: error %#v\nwant %#v", what, err, want)
	}
}

var fdSeeds = []string{
	`{"hello":"world"}`,
	` { "hello" : "world" , "n" : 42 } `,
	`{"HELLO":"exact","Hello":"fold to hello? no: exact HELLO exists","hello":"x"}`,
	`{"hElLo":"folded","n":-0,"ok":true,"x":1e3}`,
	`{"Ok":false,"OK":true,"oK":null}`,
	`{"hello":null,"n":null,"ok":null,"x":null}`,
	`{"hello":1,"n":"1","ok":"true","x":[1]}`,
	`{"n":1.5}`, `{"n":1e2}`, `{"n":9223372036854775807}`, `{"n":9223372036854775808}`, `{"n":-9223372036854775809}`,
	`{"x":1e400}`, `{"x":-1e-400}`, `{"x":0.1}`, `{"x":-0}`,
	`{"n":{"a":[1,{"b":"}"}]},"hello":"after"}`,
	`{"hello":[1,2,"]"],"n":2}`,
	`{"unknown":{"deep":[[[[]]]]},"hello":"x","more":"\"}"}`,
	`{"hello":"\u00e9\ud83d\ude00\ud800\udc00x\\\"\/\b\f\n\r\t"}`,
	`{"hello":"\ud800","n":1}`, `{"hello":"\ud800\u0041"}`, `{"hello":"\udc00\ud800"}`,
	"{\"hello\":\"bad \xff\xfe utf8 \xed\xa0\x80 \xf0\x9f\x98\"}",
	"{\"hel\xfflo\":\"k\"}",
	`{"h\u0065llo":"escaped key"}`,
	`{"\u212a":"kelvin","\u017f":"long s"}`,
	`{"K":"upper k","aA":"fold","AA":"exact","aa":"exact2"}`,
	`{"ünï":"1","ÜNÏ":"2"}`,
	`{"s":"a","b":true,"i":-1,"i8":-128,"I16":32767,"I32":1,"-":5,"u":0,"U8":255,"u16":65535,"u32":4294967295,"u64":18446744073709551615}`,
	`{"i8":128,"U8":256,"u":-1,"u16":65536,"I16":-32769}`,
	`{"f32":3.4e38,"f32":3.5e38}`, `{"f32":1e-46}`, `{"nfloat":1e39}`, `{"nint":40000}`, `{"named":"n"}`,
	`{"Skip":"no","hidden":"no","BadTag":"yes","a\"b":"no","a-b.c":"punct"}`,
	`{"a_rather_long_field_name_beyond_the_64_bytes_of_the_lookup_buffer_x":"l"}`,
	`{"A_RATHER_LONG_FIELD_NAME_BEYOND_THE_64_BYTES_OF_THE_LOOKUP_BUFFER_X":"L"}`,
	`{"s":"dup","s":"last wins"}`,
	`{}`, `[]`, `[1,2]`, `null`, `true`, `false`, `"str"`, `"\u00e9"`, `0`, `-1`, `255`, `256`, `1.5`, `1e2`, `-0.0`,
	`18446744073709551616`, `1e40`, ` "x" `, "\t\n{\r}", `{"a":"x","n":"1"}`,
	``, `{`, `{"hello":}`, `{"hello":"x",}`, `nul`, `"unterminated`, `{"a":1}x`, `[`,
}

func FuzzUnmarshal(f *testing.F) {
	for _, s := range fdSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkUnmarshal(t, data) })
}

// TestUnmarshalRandom sends random objects made of the targets' names,
// spelled in other cases, and values of every kind at the edges of the
// fields' ranges.
func TestUnmarshalRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	names := []string{"s", "b", "i", "i8", "I16", "I32", "-", "u", "U8", "u16", "u32", "u64", "f32", "f64",
		"Skip", "hidden", "named", "nint", "nfloat", "BadTag", "a-b.c", "aa", "AA", "k", "\u212a", "ünï", "ÜNÏ",
		"hello", "HELLO", "n", "Ok", "x", "a", "unknown", "a_rather_long_field_name_beyond_the_64_bytes_of_the_lookup_buffer_x"}
	numbers := []string{"0", "-0", "1", "-1", "127", "128", "-128", "-129", "255", "256", "32767", "32768", "-32769",
		"65535", "65536", "2147483647", "2147483648", "4294967295", "4294967296", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
		"18446744073709551616", "1.5", "-2.25", "1e3", "1E-3", "3.4e38", "3.5e38", "1.7976931348623157e308",
		"1e309", "4.9e-324", "1e-400", "0.1", "123456789012345678901234567890"}
	strs := []string{`""`, `"x"`, `"\u0041\n"`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `"é"`, `"\\\"\/"`}
	var value func(depth int) string
	value = func(depth int) string {
		switch n := rng.Intn(12); {
		case n < 4:
			return numbers[rng.Intn(len(numbers))]
		case n < 7:
			return strs[rng.Intn(len(strs))]
		case n == 7:
			return []string{"true", "false", "null"}[rng.Intn(3)]
		case n == 8 && depth < 3:
			return "[" + value(depth+1) + "," + value(depth+1) + "]"
		case n == 9 && depth < 3:
			return `{"k":` + value(depth+1) + "}"
		}
		return "null"
	}
	spell := func(name string) string {
		switch rng.Intn(4) {
		case 0:
			return strings.ToUpper(name)
		case 1:
			// \u-escape the first character, if ASCII.
			if name != "" && name[0] < 0x80 {
				return fmt.Sprintf(`\u%04x`, name[0]) + name[1:]
			}
		}
		return name
	}
	n := 20000
	if testing.Short() || raceEnabled {
		n = 3000
	}
	for range n {
		var b strings.Builder
		b.WriteString("{")
		for j := range rng.Intn(6) {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + spell(names[rng.Intn(len(names))]) + `":` + value(0))
		}
		b.WriteString("}")
		data := b.String()
		if rng.Intn(8) == 0 { // a top-level scalar now and then
			data = value(0)
		}
		checkUnmarshal(t, []byte(data))
	}
}

type withUnmarshaler string

func (w *withUnmarshaler) UnmarshalJSON(b []byte) error { *w = "custom"; return nil }

type textUnmarshaler int

func (w *textUnmarshaler) UnmarshalText(b []byte) error { *w = 1; return nil }
