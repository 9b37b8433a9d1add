package jsoncodec

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

// jsonTag is tag.Get("json"), without the strconv.Unquote that
// reflect.StructTag.Lookup links (5.6 KB of raw client.wasm, under 2 KB
// brotli): the scan is Lookup's, and unquoteTag is Unquote for the
// double-quoted strings it finds.
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
