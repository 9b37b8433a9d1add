package shared

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// This package has its own JSON codec, with encoding/json's behaviour for
// everything events carry, so that the js/wasm client does not link
// encoding/json (about 120 KB of brotli-compressed client.wasm, a tenth of
// its size). FuzzJSON holds it to encoding/json, byte for byte on encoding.
// It uses encoding/json's types (RawMessage, Number, Marshaler, the error
// types) but none of its code.

// Marshal returns the JSON encoding of v, as json.Marshal does.
func Marshal(v any) ([]byte, error) {
	e := Encoder{base64: true}
	if err := e.reflectValue(reflect.ValueOf(v), 0, false); err != nil {
		return nil, err
	}
	return e.Buf, nil
}

// Unmarshal stores the JSON value data in v, as json.Unmarshal does.
func Unmarshal(data []byte, v any) error { return unmarshal(data, v, false) }

var (
	marshalerType       = reflect.TypeFor[json.Marshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
	bytesType           = reflect.TypeFor[[]byte]()
	isZeroerType        = reflect.TypeFor[interface{ IsZero() bool }]()
)

// A jsonField is a struct field as encoding/json sees it.
type jsonField struct {
	name      string
	folded    string // appendFoldedName(name), for case-insensitive matching
	tagged    bool
	index     []int // through embedded structs
	typ       reflect.Type
	omitEmpty bool
	omitZero  bool
	quoted    bool // the "string" option, on a scalar
	plain     bool // a scalar decoded by its kind alone
}

var fieldCache sync.Map // reflect.Type → []jsonField

// structFields returns the fields of struct type t that encoding/json
// encodes and decodes, in its order, after its rules for embedded structs.
func structFields(t reflect.Type) []jsonField {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]jsonField)
	}
	f, _ := fieldCache.LoadOrStore(t, typeFields(t))
	return f.([]jsonField)
}

// typeFields is encoding/json's: a breadth-first walk of the embedded
// structs, where a shallower field hides a deeper one of the same name, a
// tagged one an untagged one at its depth, and two that tie hide each other.
func typeFields(t reflect.Type) []jsonField {
	type embedded struct {
		typ   reflect.Type
		index []int
	}
	var fields []jsonField
	next := []embedded{{typ: t}}
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count := map[reflect.Type]int{}
		for _, e := range current {
			count[e.typ]++
		}
		for _, e := range current {
			if visited[e.typ] {
				continue
			}
			visited[e.typ] = true
			for i := 0; i < e.typ.NumField(); i++ {
				sf := e.typ.Field(i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if sf.Anonymous {
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := jsonTag(sf.Tag)
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !isValidTag(name) {
					name = ""
				}
				index := append(e.index[:len(e.index):len(e.index)], i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, embedded{ft, index})
					continue
				}
				f := jsonField{name: name, tagged: name != "", index: index, typ: sf.Type,
					omitEmpty: containsOpt(opts, "omitempty"), omitZero: containsOpt(opts, "omitzero")}
				if f.name == "" {
					f.name = sf.Name
				}
				f.folded = string(appendFoldedName(nil, []byte(f.name)))
				f.plain = plainScalar(sf.Type)
				if containsOpt(opts, "string") {
					switch ft.Kind() {
					case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64, reflect.String:
						f.quoted = true
					}
				}
				fields = append(fields, f)
				if count[e.typ] > 1 { // the same struct twice at this depth: its names tie
					fields = append(fields, f)
				}
			}
		}
	}
	// Keep, for each name, the one field that dominates. (sort.Sort, not
	// slices.SortFunc: the js/wasm client has sort.Sort already.)
	sort.Sort(fieldOrder{fields, true})
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		if j-i == 1 || len(fields[i].index) != len(fields[i+1].index) || fields[i].tagged != fields[i+1].tagged {
			out = append(out, fields[i])
		}
		i = j
	}
	sort.Sort(fieldOrder{out, false})
	return out
}

// fieldOrder sorts fields by index sequence or, with byName, by name, then
// depth, then tag, then index sequence.
type fieldOrder struct {
	f      []jsonField
	byName bool
}

func (o fieldOrder) Len() int      { return len(o.f) }
func (o fieldOrder) Swap(i, j int) { o.f[i], o.f[j] = o.f[j], o.f[i] }
func (o fieldOrder) Less(i, j int) bool {
	a, b := &o.f[i], &o.f[j]
	if o.byName {
		if a.name != b.name {
			return a.name < b.name
		}
		if len(a.index) != len(b.index) {
			return len(a.index) < len(b.index)
		}
		if a.tagged != b.tagged {
			return a.tagged
		}
	}
	return slices.Compare(a.index, b.index) < 0
}

// plainScalar reports whether encoding/json decodes into t by its kind alone.
func plainScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
	default:
		return false
	}
	pt := reflect.PointerTo(t) // its method set includes t's
	return t != numberType && !pt.Implements(unmarshalerType) && !pt.Implements(textUnmarshalerType)
}

func containsOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// isValidTag is encoding/json's test for a usable tag name.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// appendFoldedName is encoding/json's case folding of names: two names
// match case-insensitively when their folded forms are equal.
func appendFoldedName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json writes it:
// invalid UTF-8 becomes U+FFFD, U+2028 and U+2029 are escaped, and so are
// <, > and & when html is set.
func appendString[S string | []byte](dst []byte, s S, html bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		n := min(len(s)-i, utf8.UTFMax)
		r, size := utf8.DecodeRuneInString(string(s[i : i+n]))
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			if size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// maxNesting is the depth of arrays and objects that encoding/json accepts.
const maxNesting = 10000

// validJSON reports whether b is one JSON value, as json.Valid does.
func validJSON(b []byte) bool {
	i := scanValue(b, skipSpace(b, 0), 0)
	return i >= 0 && skipSpace(b, i) == len(b)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanValue returns the index after the valid JSON value at b[i:], or -1.
func scanValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '{', '[':
		if depth >= maxNesting {
			return -1
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == end {
			return i + 1
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return -1
				}
				if i = scanString(b, i); i < 0 {
					return -1
				}
				if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
					return -1
				}
				i = skipSpace(b, i+1)
			}
			if i = scanValue(b, i, depth+1); i < 0 {
				return -1
			}
			if i = skipSpace(b, i); i >= len(b) {
				return -1
			}
			if b[i] == end {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipSpace(b, i+1)
		}
	case '"':
		return scanString(b, i)
	case 't':
		return scanWord(b, i, "true")
	case 'f':
		return scanWord(b, i, "false")
	case 'n':
		return scanWord(b, i, "null")
	}
	return scanNumber(b, i)
}

func scanWord(b []byte, i int, w string) int {
	if len(b)-i < len(w) || string(b[i:i+len(w)]) != w {
		return -1
	}
	return i + len(w)
}

// scanString returns the index after the JSON string opening at b[i], or -1.
func scanString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			if i++; i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// scanNumber returns the index after the JSON number at b[i:], or -1.
func scanNumber(b []byte, i int) int {
	digits := func(i int) int {
		j := i
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if i = digits(i); i < 0 {
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i = digits(i + 1); i < 0 {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		i = digits(i)
	}
	return i
}

// isValidNumber reports whether s is a JSON number.
func isValidNumber(s string) bool {
	return s != "" && scanNumber([]byte(s), 0) == len(s)
}

// appendCompact appends the valid JSON src without its insignificant
// spaces, escaping what appendString escapes with html set, as
// encoding/json does with a Marshaler's output.
func appendCompact(dst, src []byte) ([]byte, error) {
	if !validJSON(src) {
		return dst, errSyntax
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case ' ', '\t', '\n', '\r':
		case '"':
			end := scanString(src, i)
			s := src[i:end]
			for j := 0; j < len(s); j++ {
				switch {
				case s[j] == '<' || s[j] == '>' || s[j] == '&':
					dst = append(dst, '\\', 'u', '0', '0', hexDigits[s[j]>>4], hexDigits[s[j]&0xf])
				case s[j] == 0xe2 && j+2 < len(s) && s[j+1] == 0x80 && s[j+2]&^1 == 0xa8:
					dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[s[j+2]&0xf])
					j += 2
				default:
					dst = append(dst, s[j])
				}
			}
			i = end - 1
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

// jsonTag is tag.Get("json"), without the strconv.Unquote that
// reflect.StructTag.Lookup links (about 10 KB of client.wasm): the scan is
// Lookup's, and unquoteTag is Unquote for the double-quoted strings it finds.
func jsonTag(tag reflect.StructTag) string {
	for tag != "" {
		i := 0
		for i < len(tag) && tag[i] == ' ' {
			i++
		}
		tag = tag[i:]
		if tag == "" {
			break
		}
		i = 0
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == 0 || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			break
		}
		name := string(tag[:i])
		tag = tag[i+1:]
		i = 1
		for i < len(tag) && tag[i] != '"' {
			if tag[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(tag) {
			break
		}
		qvalue := string(tag[1:i])
		tag = tag[i+1:]
		if name == "json" {
			v, _ := unquoteTag(qvalue)
			return v
		}
	}
	return ""
}

// unquoteTag is strconv.Unquote(`"` + s + `"`) for an s with no unescaped
// quote; ok is false where Unquote fails.
func unquoteTag(s string) (string, bool) {
	if !strings.ContainsAny(s, "\\\n") && utf8.ValidString(s) {
		return s, true
	}
	var b []byte
	for len(s) > 0 {
		c := s[0]
		switch {
		case c == '\n':
			return "", false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s)
			b, s = utf8.AppendRune(b, r), s[n:]
			continue
		case c != '\\':
			b, s = append(b, c), s[1:]
			continue
		case len(s) < 2:
			return "", false
		}
		c, s = s[1], s[2:]
		if i := strings.IndexByte("abfnrtv\\\"", c); i >= 0 {
			b = append(b, "\a\b\f\n\r\t\v\\\""[i])
			continue
		}
		n, base := 0, 16
		switch c {
		case 'x':
			n = 2
		case 'u':
			n = 4
		case 'U':
			n = 8
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n, base, s = 3, 8, string(c)+s
		default:
			return "", false
		}
		if len(s) < n {
			return "", false
		}
		var v rune
		for _, d := range []byte(s[:n]) {
			x := rune(base)
			switch {
			case '0' <= d && d <= '9':
				x = rune(d - '0')
			case 'a' <= d && d <= 'f':
				x = rune(d-'a') + 10
			case 'A' <= d && d <= 'F':
				x = rune(d-'A') + 10
			}
			if x >= rune(base) {
				return "", false
			}
			v = v*rune(base) + x
		}
		s = s[n:]
		switch {
		case c == 'x' || base == 8 && v <= 255:
			b = append(b, byte(v))
		case base == 8 || !utf8.ValidRune(v):
			return "", false
		default:
			b = utf8.AppendRune(b, v)
		}
	}
	return string(b), true
}
