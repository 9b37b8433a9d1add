package shared

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// fastDecode is json.Unmarshal(raw, v) for the values events carry most: a
// pointer to a string, bool, integer or float, or to a struct whose fields
// are all of those kinds. It returns ok == false, having done nothing, for
// any other v and for invalid JSON; the caller then uses json.Unmarshal.
//
// What it does is what encoding/json does: the same field names (tags,
// then exact match before a case-insensitive one), null leaving a value
// unchanged, unknown keys skipped, strings unescaped with invalid UTF-8
// replaced, numbers parsed by strconv, and a type mismatch reported as the
// same *json.UnmarshalTypeError while the other fields are still decoded.
// FuzzFastDecode holds it to that.
func fastDecode(raw []byte, v any) (ok bool, err error) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return false, nil
	}
	plan := decodePlanFor(t)
	if plan == nil {
		return false, nil
	}
	rv := reflect.ValueOf(v)
	if rv.IsNil() || !json.Valid(raw) {
		return false, nil
	}
	d := fastDecoder{data: raw}
	i := d.space(0)
	if plan.fields != nil {
		if raw[i] == '{' {
			d.object(i, rv.Elem(), plan)
		} else {
			d.value(i, reflect.Value{}, plan.typ, reflect.Struct, nil)
		}
	} else {
		d.value(i, rv.Elem(), plan.typ, plan.typ.Kind(), nil)
	}
	return true, d.err
}

// A decodePlan describes how fastDecode fills a type; fields is nil for a
// scalar.
type decodePlan struct {
	typ    reflect.Type
	fields []fieldPlan
	byName map[string]*fieldPlan // exact names, for structs with many fields
}

type fieldPlan struct {
	name   string // as encoding/json computes it
	folded string // foldName(name)
	index  int
	typ    reflect.Type
	kind   reflect.Kind
	struc  string // name of the enclosing struct type, for errors
}

var decodePlans sync.Map // pointer type → *decodePlan, nil when unsupported

func decodePlanFor(pt reflect.Type) *decodePlan {
	if p, ok := decodePlans.Load(pt); ok {
		return p.(*decodePlan)
	}
	p := buildDecodePlan(pt.Elem())
	decodePlans.Store(pt, p)
	return p
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

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
	return t != numberType && !hasUnmarshaler(t)
}

func hasUnmarshaler(t reflect.Type) bool {
	pt := reflect.PointerTo(t) // its method set includes t's
	return pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType)
}

// buildDecodePlan returns nil for a type that fastDecode leaves to
// encoding/json: embedded fields, the string option, duplicate names, and
// fields of other kinds.
func buildDecodePlan(t reflect.Type) *decodePlan {
	if plainScalar(t) {
		return &decodePlan{typ: t}
	}
	if t.Kind() != reflect.Struct || hasUnmarshaler(t) {
		return nil
	}
	p := &decodePlan{typ: t, fields: []fieldPlan{}}
	seen := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			return nil
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if containsOpt(opts, "string") || !plainScalar(f.Type) {
			return nil
		}
		if !isValidTag(name) {
			name = f.Name
		}
		if seen[name] {
			return nil
		}
		seen[name] = true
		p.fields = append(p.fields, fieldPlan{
			name:   name,
			folded: string(appendFoldedName(nil, []byte(name))),
			index:  i,
			typ:    f.Type,
			kind:   f.Type.Kind(),
			struc:  t.Name(),
		})
	}
	if len(p.fields) > 8 {
		p.byName = make(map[string]*fieldPlan, len(p.fields))
		for i := range p.fields {
			p.byName[p.fields[i].name] = &p.fields[i]
		}
	}
	return p
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

// lookup finds the field for a key as encoding/json does: an exact match,
// else the first field whose name matches case-insensitively.
func (p *decodePlan) lookup(key []byte) *fieldPlan {
	if p.byName != nil {
		if f := p.byName[string(key)]; f != nil {
			return f
		}
	} else {
		for i := range p.fields {
			if p.fields[i].name == string(key) {
				return &p.fields[i]
			}
		}
	}
	var buf [64]byte
	folded := appendFoldedName(buf[:0], key)
	for i := range p.fields {
		if p.fields[i].folded == string(folded) {
			return &p.fields[i]
		}
	}
	return nil
}

// fastDecoder walks JSON that json.Valid accepted.
type fastDecoder struct {
	data []byte
	err  error // the first error, as encoding/json keeps it
}

func (d *fastDecoder) space(i int) int {
	for i < len(d.data) {
		switch d.data[i] {
		case ' ', '\t', '\r', '\n':
			i++
			continue
		}
		break
	}
	return i
}

func (d *fastDecoder) typeError(what string, t reflect.Type, offset int, f *fieldPlan) {
	if d.err != nil {
		return
	}
	e := &json.UnmarshalTypeError{Value: what, Type: t, Offset: int64(offset)}
	if f != nil {
		e.Struct, e.Field = f.struc, f.name
	}
	d.err = e
}

// stringEnd returns the index of the closing quote of the string opening at
// i, and whether its contents need unquoting (escapes or non-ASCII bytes).
func (d *fastDecoder) stringEnd(i int) (int, bool) {
	special := false
	for i++; d.data[i] != '"'; i++ {
		switch c := d.data[i]; {
		case c == '\\':
			special = true
			i++
		case c >= utf8.RuneSelf:
			special = true
		}
	}
	return i, special
}

// skip returns the index after the value starting at i.
func (d *fastDecoder) skip(i int) int {
	switch d.data[i] {
	case '"':
		end, _ := d.stringEnd(i)
		return end + 1
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch d.data[i] {
			case '"':
				i, _ = d.stringEnd(i)
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	case 't', 'n':
		return i + 4
	case 'f':
		return i + 5
	}
	return d.numberEnd(i)
}

func (d *fastDecoder) numberEnd(i int) int {
	for ; i < len(d.data); i++ {
		switch d.data[i] {
		case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '.', 'e', 'E', '+', '-':
			continue
		}
		break
	}
	return i
}

// object decodes the object at i into the struct rv and returns the index
// after it.
func (d *fastDecoder) object(i int, rv reflect.Value, p *decodePlan) int {
	i = d.space(i + 1)
	if d.data[i] == '}' {
		return i + 1
	}
	for {
		end, special := d.stringEnd(i)
		key := d.data[i+1 : end]
		var buf [64]byte
		if special {
			key = appendUnquoted(buf[:0], key)
		}
		f := p.lookup(key)
		i = d.space(d.space(end+1) + 1) // past ':'
		if f == nil {
			i = d.skip(i)
		} else {
			i = d.value(i, rv.Field(f.index), f.typ, f.kind, f)
		}
		i = d.space(i)
		if d.data[i] == '}' {
			return i + 1
		}
		i = d.space(i + 1) // past ','
	}
}

// value decodes the value at i into rv, of type t and kind k (a scalar,
// or a struct when the value is not an object), and returns the index
// after it. f is the field rv is, if any.
func (d *fastDecoder) value(i int, rv reflect.Value, t reflect.Type, k reflect.Kind, f *fieldPlan) int {
	switch c := d.data[i]; c {
	case '{', '[':
		what := "object"
		if c == '[' {
			what = "array"
		}
		d.typeError(what, t, i+1, f)
		return d.skip(i)
	case 'n':
		return i + 4
	case 't', 'f':
		end := i + 4
		if c == 'f' {
			end++
		}
		if k != reflect.Bool {
			d.typeError("bool", t, end, f)
		} else {
			rv.SetBool(c == 't')
		}
		return end
	case '"':
		end, special := d.stringEnd(i)
		if k != reflect.String {
			d.typeError("string", t, end+1, f)
			return end + 1
		}
		s := d.data[i+1 : end]
		if special && (bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s)) {
			var buf [128]byte
			rv.SetString(string(appendUnquoted(buf[:0], s)))
		} else {
			rv.SetString(string(s))
		}
		return end + 1
	}
	end := d.numberEnd(i)
	num := d.data[i:end]
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || rv.OverflowInt(n) {
			d.typeError("number "+string(num), t, end, f)
			break
		}
		rv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil || rv.OverflowUint(n) {
			d.typeError("number "+string(num), t, end, f)
			break
		}
		rv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(string(num), t.Bits())
		if err != nil || rv.OverflowFloat(n) {
			d.typeError("number "+string(num), t, end, f)
			break
		}
		rv.SetFloat(n)
	default:
		d.typeError("number", t, end, f)
	}
	return end
}

// appendUnquoted appends the contents of a valid JSON string, unescaped,
// with invalid UTF-8 replaced by U+FFFD, as encoding/json unquotes.
func appendUnquoted(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := getu4(s[r-1:])
				r += 5
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						dst = utf8.AppendRune(dst, dec)
						r += 6
						continue
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[r])
			}
			r++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			dst = utf8.AppendRune(dst, rr)
			r += size
		}
	}
	return dst
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
