package shared

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Args are the arguments of an event or an ack as they came off the wire:
// JSON values, with binary attachments kept apart.
type Args struct {
	raw  []json.RawMessage
	bufs [][]byte
}

// NewArgs returns Args over raw JSON values and binary attachments.
func NewArgs(raw []json.RawMessage, bufs [][]byte) Args { return Args{raw: raw, bufs: bufs} }

// ParseArgs splits a JSON array payload into Args.
func ParseArgs(data json.RawMessage, bufs [][]byte) (Args, error) {
	raw, err := splitArray(data, nil)
	return Args{raw: raw, bufs: bufs}, err
}

// ParseEvent splits an EVENT payload into the event name and its arguments.
func ParseEvent(data json.RawMessage, bufs [][]byte) (string, Args, error) {
	raw, err := splitArray(data, make([]json.RawMessage, 0, 4))
	if err != nil {
		return "", Args{}, err
	}
	if len(raw) == 0 {
		return "", Args{}, parseErr("EVENT payload is an empty array")
	}
	name, err := decodeName(raw[0])
	if err != nil {
		return "", Args{}, err
	}
	return name, Args{raw: raw[1:], bufs: bufs}, nil
}

// Len is the number of arguments.
func (a Args) Len() int { return len(a.raw) }

// Raw returns argument i as JSON, placeholders included.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= len(a.raw) {
		return nil
	}
	return a.raw[i]
}

// Buffers returns the binary attachments.
func (a Args) Buffers() [][]byte { return a.bufs }

// DecodeError reports an argument that does not decode into the type a
// handler declared.
type DecodeError struct {
	Event string // event name, empty for acks
	Index int
	Err   error
}

func (e *DecodeError) Error() string {
	if e.Event == "" {
		return fmt.Sprintf("tsunagi: ack argument %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("tsunagi: event %q argument %d: %v", e.Event, e.Index, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decode stores argument i in v, a pointer. A binary attachment decodes into
// a []byte, at the top level or anywhere inside a struct, map or slice.
// A missing argument decodes as JSON null.
func (a Args) Decode(i int, v any) error {
	raw := a.Raw(i)
	if raw == nil {
		raw = json.RawMessage("null")
	}
	if len(a.bufs) == 0 || !bytes.Contains(raw, placeholderKey) {
		return json.Unmarshal(raw, v)
	}
	if bp, ok := v.(*[]byte); ok {
		if n, ok := placeholderNum(raw); ok && n < len(a.bufs) {
			*bp = a.bufs[n]
			return nil
		}
	}
	// Rewrite placeholders as base64 strings, which encoding/json decodes into []byte.
	tree, err := a.Value(i)
	if err != nil {
		return err
	}
	b, err := json.Marshal(tree) // []byte values marshal as base64
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Value returns argument i as a generic value: nil, bool, float64, string,
// []any, map[string]any, and []byte for binary attachments.
func (a Args) Value(i int) (any, error) {
	raw := a.Raw(i)
	if raw == nil {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if len(a.bufs) == 0 {
		return v, nil
	}
	return resolve(v, a.bufs)
}

// Values returns every argument as Value does.
func (a Args) Values() ([]any, error) {
	out := make([]any, len(a.raw))
	for i := range a.raw {
		v, err := a.Value(i)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

var placeholderKey = []byte(`"_placeholder"`)

func placeholderNum(raw []byte) (int, bool) {
	var ph struct {
		P   bool `json:"_placeholder"`
		Num *int `json:"num"`
	}
	if json.Unmarshal(raw, &ph) != nil || !ph.P || ph.Num == nil || *ph.Num < 0 {
		return 0, false
	}
	return *ph.Num, true
}

// resolve replaces placeholder objects in a decoded JSON tree by their buffers.
func resolve(v any, bufs [][]byte) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		if p, ok := t["_placeholder"].(bool); ok && p {
			n, ok := t["num"].(float64)
			if !ok || n != math.Trunc(n) || n < 0 || int(n) >= len(bufs) {
				return nil, parseErr("placeholder num %v out of range", t["num"])
			}
			return bufs[int(n)], nil
		}
		for k, e := range t {
			r, err := resolve(e, bufs)
			if err != nil {
				return nil, err
			}
			t[k] = r
		}
	case []any:
		for k, e := range t {
			r, err := resolve(e, bufs)
			if err != nil {
				return nil, err
			}
			t[k] = r
		}
	}
	return v, nil
}

// checkPlaceholders verifies that every placeholder in a binary packet's
// payload names an attachment in range.
func checkPlaceholders(data []byte, n int) error {
	if !bytes.Contains(data, placeholderKey) {
		return nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return parseErr("%v", err)
	}
	_, err := resolve(v, make([][]byte, n))
	return err
}

// Encoder appends arguments as JSON, turning []byte values into binary
// attachments with placeholders. The zero value is ready to use.
type Encoder struct {
	Buf     []byte
	Buffers [][]byte
}

// AppendArgs appends `[name,args…]` (or `[args…]` when name is empty) to e.Buf.
func (e *Encoder) AppendArgs(name string, args []any) error {
	e.Buf = append(e.Buf, '[')
	if name != "" {
		e.Buf = appendString(e.Buf, name)
	}
	for i, a := range args {
		if i > 0 || name != "" {
			e.Buf = append(e.Buf, ',')
		}
		if err := e.appendValue(a); err != nil {
			return err
		}
	}
	e.Buf = append(e.Buf, ']')
	return nil
}

func (e *Encoder) appendValue(v any) error {
	switch t := v.(type) {
	case nil:
		e.Buf = append(e.Buf, "null"...)
	case string:
		e.Buf = appendString(e.Buf, t)
	case bool:
		e.Buf = strconv.AppendBool(e.Buf, t)
	case int:
		e.Buf = strconv.AppendInt(e.Buf, int64(t), 10)
	case int64:
		e.Buf = strconv.AppendInt(e.Buf, t, 10)
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			e.Buf = append(e.Buf, "null"...)
		} else {
			e.Buf = strconv.AppendFloat(e.Buf, t, 'g', -1, 64)
		}
	case []byte:
		e.Buf = append(e.Buf, `{"_placeholder":true,"num":`...)
		e.Buf = strconv.AppendInt(e.Buf, int64(len(e.Buffers)), 10)
		e.Buf = append(e.Buf, '}')
		e.Buffers = append(e.Buffers, t)
	case json.RawMessage:
		if !json.Valid(t) {
			return fmt.Errorf("tsunagi: invalid json.RawMessage argument")
		}
		e.Buf = append(e.Buf, t...)
	case []any:
		e.Buf = append(e.Buf, '[')
		for i, x := range t {
			if i > 0 {
				e.Buf = append(e.Buf, ',')
			}
			if err := e.appendValue(x); err != nil {
				return err
			}
		}
		e.Buf = append(e.Buf, ']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.Buf = append(e.Buf, '{')
		for i, k := range keys {
			if i > 0 {
				e.Buf = append(e.Buf, ',')
			}
			e.Buf = appendString(e.Buf, k)
			e.Buf = append(e.Buf, ':')
			if err := e.appendValue(t[k]); err != nil {
				return err
			}
		}
		e.Buf = append(e.Buf, '}')
	default:
		if hasBytes(reflect.TypeOf(v)) {
			return e.appendReflect(reflect.ValueOf(v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("tsunagi: %w", err)
		}
		e.Buf = append(e.Buf, b...)
	}
	return nil
}

var bytesType = reflect.TypeFor[[]byte]()

// hasBytes reports whether values of t may hold a []byte that should travel
// as an attachment (a struct field, slice element or map value).
func hasBytes(t reflect.Type) bool { return hasBytesSeen(t, map[reflect.Type]bool{}) }

func hasBytesSeen(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == nil || seen[t] {
		return false
	}
	seen[t] = true
	if t == bytesType {
		return true
	}
	if t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) {
		return false
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return hasBytesSeen(t.Elem(), seen)
	case reflect.Map:
		return hasBytesSeen(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() && hasBytesSeen(f.Type, seen) {
				return true
			}
		}
	case reflect.Interface:
		return true
	}
	return false
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

// appendReflect encodes v through a generic tree in which []byte values stay
// []byte, so appendValue turns them into attachments.
func (e *Encoder) appendReflect(v reflect.Value) error {
	tree, err := toTree(v)
	if err != nil {
		return err
	}
	return e.appendValue(tree)
}

func toTree(v reflect.Value) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	if v.Type() == bytesType {
		if v.IsNil() {
			return nil, nil
		}
		return v.Bytes(), nil
	}
	if v.Type().Implements(jsonMarshaler) || v.Kind() == reflect.Struct && reflect.PointerTo(v.Type()).Implements(jsonMarshaler) {
		b, err := json.Marshal(v.Interface())
		return json.RawMessage(b), err
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return toTree(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, nil
		}
		out := make([]any, v.Len())
		for i := range out {
			x, err := toTree(v.Index(i))
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			break
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			x, err := toTree(it.Value())
			if err != nil {
				return nil, err
			}
			out[it.Key().String()] = x
		}
		return out, nil
	case reflect.Struct:
		return structTree(v)
	}
	b, err := json.Marshal(v.Interface())
	return json.RawMessage(b), err
}

// structTree follows encoding/json's field rules for names, "-" and omitempty.
func structTree(v reflect.Value) (any, error) {
	t := v.Type()
	out := make(map[string]any, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts := f.Name, ""
		if tag, ok := f.Tag.Lookup("json"); ok {
			if tag == "-" {
				continue
			}
			n, o, _ := cutComma(tag)
			if n != "" {
				name = n
			}
			opts = o
		}
		fv := v.Field(i)
		if containsOpt(opts, "omitempty") && fv.IsZero() {
			continue
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct && name == f.Name {
			sub, err := structTree(fv)
			if err != nil {
				return nil, err
			}
			for k, x := range sub.(map[string]any) {
				if _, dup := out[k]; !dup {
					out[k] = x
				}
			}
			continue
		}
		x, err := toTree(fv)
		if err != nil {
			return nil, err
		}
		out[name] = x
	}
	return out, nil
}

func cutComma(s string) (string, string, bool) {
	if i := bytes.IndexByte([]byte(s), ','); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func containsOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = cutComma(opts)
		if o == want {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
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
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
