package jsoncodec

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
)

// Encoder appends the arguments of an event or an ack as JSON, turning
// []byte values, anywhere in them, into binary attachments: the JSON holds
// a placeholder {"_placeholder":true,"num":n} where attachment n was. The
// zero value is ready to use.
type Encoder struct {
	Buf     []byte
	Buffers [][]byte

	base64 bool // []byte values as base64 strings, as encoding/json writes them
}

// AppendArgs appends `[name,args…]` (or `[args…]` when name is empty) to e.Buf.
func (e *Encoder) AppendArgs(name string, args []any) error {
	e.Buf = append(e.Buf, '[')
	if name != "" {
		e.Buf = appendString(e.Buf, name, false)
	}
	for i, a := range args {
		if i > 0 || name != "" {
			e.Buf = append(e.Buf, ',')
		}
		if err := e.appendValue(a, 0); err != nil {
			return err
		}
	}
	e.Buf = append(e.Buf, ']')
	return nil
}

// maxDepth bounds the nesting of encoded values, so that a cyclic value
// returns an error instead of exhausting the stack. It is the nesting that
// encoding/json accepts when decoding.
const maxDepth = maxNesting

var errTooDeep = errors.New("tsunagi: value nested more than 10000 levels deep (cyclic?)")

// appendValue writes the values that arguments carry most without
// reflection, and the others through appendOther; strings are not
// HTML-escaped here.
func (e *Encoder) appendValue(v any, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	switch t := v.(type) {
	case nil:
		e.Buf = append(e.Buf, "null"...)
	case string:
		e.Buf = appendString(e.Buf, t, false)
	case bool:
		e.Buf = strconv.AppendBool(e.Buf, t)
	case int:
		e.Buf = strconv.AppendInt(e.Buf, int64(t), 10)
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			e.Buf = append(e.Buf, "null"...)
		} else {
			e.Buf = appendFloat(e.Buf, t, 64)
		}
	case []byte:
		e.Buf = append(e.Buf, `{"_placeholder":true,"num":`...)
		e.Buf = strconv.AppendInt(e.Buf, int64(len(e.Buffers)), 10)
		e.Buf = append(e.Buf, '}')
		e.Buffers = append(e.Buffers, t)
	case json.RawMessage:
		if !Valid(t) {
			return errors.New("tsunagi: invalid json.RawMessage argument")
		}
		e.Buf = append(e.Buf, t...)
	case []any:
		e.Buf = append(e.Buf, '[')
		for i, x := range t {
			if i > 0 {
				e.Buf = append(e.Buf, ',')
			}
			if err := e.appendValue(x, depth+1); err != nil {
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
			e.Buf = appendString(e.Buf, k, false)
			e.Buf = append(e.Buf, ':')
			if err := e.appendValue(t[k], depth+1); err != nil {
				return err
			}
		}
		e.Buf = append(e.Buf, '}')
	default:
		if err := e.appendOther(v, depth); err != nil {
			if err != errTooDeep {
				err = fmt.Errorf("tsunagi: %w", err)
			}
			return err
		}
	}
	return nil
}

// reflectValue writes v as json.Marshal does, except that a []byte becomes
// an attachment unless e.base64 is set. quoted is the "string" option.
func (e *Encoder) reflectValue(v reflect.Value, depth int, quoted bool) error {
	if depth > maxDepth {
		return errTooDeep
	}
	if !v.IsValid() {
		e.Buf = append(e.Buf, "null"...)
		return nil
	}
	t := v.Type()
	k := t.Kind()
	if t == bytesType && !e.base64 {
		if v.IsNil() {
			e.Buf = append(e.Buf, "null"...)
			return nil
		}
		return e.appendValue(v.Bytes(), depth)
	}
	// Marshalers, in encoding/json's order; pointer methods when v is addressable.
	if k != reflect.Pointer && v.CanAddr() && reflect.PointerTo(t).Implements(marshalerType) {
		return e.marshaler(v.Addr(), t)
	}
	if t.Implements(marshalerType) {
		return e.marshaler(v, t)
	}
	if k != reflect.Pointer && v.CanAddr() && reflect.PointerTo(t).Implements(textMarshalerType) {
		return e.textMarshaler(v.Addr(), t)
	}
	if t.Implements(textMarshalerType) {
		return e.textMarshaler(v, t)
	}
	quoteScalar := quoted && k != reflect.String && k != reflect.Pointer
	if quoteScalar {
		e.Buf = append(e.Buf, '"')
	}
	switch k {
	case reflect.Bool:
		e.Buf = strconv.AppendBool(e.Buf, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.Buf = strconv.AppendInt(e.Buf, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.Buf = strconv.AppendUint(e.Buf, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return &json.UnsupportedValueError{Value: v, Str: strconv.FormatFloat(f, 'g', -1, t.Bits())}
		}
		e.Buf = appendFloat(e.Buf, f, t.Bits())
	case reflect.String:
		switch {
		case t == numberType:
			n := v.String()
			if n == "" {
				n = "0"
			}
			if !isValidNumber(n) {
				return errors.New("json: invalid number literal " + strconv.Quote(n))
			}
			if quoted {
				n = `"` + n + `"`
			}
			e.Buf = append(e.Buf, n...)
		case quoted:
			e.Buf = appendString(e.Buf, string(appendString(nil, v.String(), true)), false)
		default:
			e.Buf = appendString(e.Buf, v.String(), true)
		}
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			e.Buf = append(e.Buf, "null"...)
			return nil
		}
		return e.reflectValue(v.Elem(), depth+1, quoted && k == reflect.Pointer)
	case reflect.Struct:
		return e.structValue(v, depth)
	case reflect.Map:
		return e.mapValue(v, depth)
	case reflect.Slice:
		if v.IsNil() {
			e.Buf = append(e.Buf, "null"...)
			return nil
		}
		if p := reflect.PointerTo(t.Elem()); t.Elem().Kind() == reflect.Uint8 && !p.Implements(marshalerType) && !p.Implements(textMarshalerType) {
			e.Buf = append(e.Buf, '"')
			e.Buf = base64.StdEncoding.AppendEncode(e.Buf, v.Bytes())
			e.Buf = append(e.Buf, '"')
			return nil
		}
		fallthrough
	case reflect.Array:
		e.Buf = append(e.Buf, '[')
		for i := range v.Len() {
			if i > 0 {
				e.Buf = append(e.Buf, ',')
			}
			if err := e.reflectValue(v.Index(i), depth+1, false); err != nil {
				return err
			}
		}
		e.Buf = append(e.Buf, ']')
	default:
		return &json.UnsupportedTypeError{Type: t}
	}
	if quoteScalar {
		e.Buf = append(e.Buf, '"')
	}
	return nil
}

func (e *Encoder) marshaler(v reflect.Value, t reflect.Type) error {
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
		e.Buf = append(e.Buf, "null"...)
		return nil
	}
	b, err := v.Interface().(json.Marshaler).MarshalJSON()
	if err == nil {
		e.Buf, err = appendCompact(e.Buf, b)
	}
	if err != nil {
		return &json.MarshalerError{Type: t, Err: err}
	}
	return nil
}

func (e *Encoder) textMarshaler(v reflect.Value, t reflect.Type) error {
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
		e.Buf = append(e.Buf, "null"...)
		return nil
	}
	b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
	if err != nil {
		return &json.MarshalerError{Type: t, Err: err}
	}
	e.Buf = appendString(e.Buf, string(b), true) // a copy: a []byte instance of appendString is 4 KB of raw client.wasm
	return nil
}

func (e *Encoder) structValue(v reflect.Value, depth int) error {
	e.Buf = append(e.Buf, '{')
	first := true
	fields := structFields(v.Type())
next:
	for i := range fields {
		f := &fields[i]
		fv := v
		for _, j := range f.index {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue next
				}
				fv = fv.Elem()
			}
			fv = fv.Field(j)
		}
		if f.omitEmpty && isEmpty(fv) || f.omitZero && isZero(fv) {
			continue
		}
		if !first {
			e.Buf = append(e.Buf, ',')
		}
		first = false
		e.Buf = appendString(e.Buf, f.name, true)
		e.Buf = append(e.Buf, ':')
		if err := e.reflectValue(fv, depth+1, f.quoted); err != nil {
			return err
		}
	}
	e.Buf = append(e.Buf, '}')
	return nil
}

func (e *Encoder) mapValue(v reflect.Value, depth int) error {
	kt := v.Type().Key()
	switch kt.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
	default:
		if !kt.Implements(textMarshalerType) {
			return &json.UnsupportedTypeError{Type: v.Type()}
		}
	}
	if v.IsNil() {
		e.Buf = append(e.Buf, "null"...)
		return nil
	}
	entries := make(mapEntries, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		k := it.Key()
		var key string
		switch {
		case k.Kind() == reflect.String:
			key = k.String()
		case kt.Implements(textMarshalerType):
			if k.Kind() != reflect.Pointer || !k.IsNil() {
				b, err := k.Interface().(encoding.TextMarshaler).MarshalText()
				if err != nil {
					return errors.New("json: encoding error for type " + strconv.Quote(v.Type().String()) + ": " + strconv.Quote(err.Error()))
				}
				key = string(b)
			}
		case k.CanInt():
			key = strconv.FormatInt(k.Int(), 10)
		default:
			key = strconv.FormatUint(k.Uint(), 10)
		}
		entries = append(entries, mapEntry{key, it.Value()})
	}
	sort.Sort(entries) // not slices.SortFunc: the js/wasm client has sort.Sort already
	e.Buf = append(e.Buf, '{')
	for i, en := range entries {
		if i > 0 {
			e.Buf = append(e.Buf, ',')
		}
		e.Buf = appendString(e.Buf, en.key, true)
		e.Buf = append(e.Buf, ':')
		if err := e.reflectValue(en.val, depth+1, false); err != nil {
			return err
		}
	}
	e.Buf = append(e.Buf, '}')
	return nil
}

type mapEntry struct {
	key string
	val reflect.Value
}

type mapEntries []mapEntry

func (m mapEntries) Len() int           { return len(m) }
func (m mapEntries) Swap(i, j int)      { m[i], m[j] = m[j], m[i] }
func (m mapEntries) Less(i, j int) bool { return m[i].key < m[j].key }

// appendFloat formats f as encoding/json and JavaScript do: no exponent
// between 1e-6 and 1e21.
func appendFloat(dst []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // e-09 → e-9
		dst = dst[:n-1]
	}
	return dst
}

// isEmpty is encoding/json's test for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZero is encoding/json's test for omitzero: the IsZero method if there
// is one, else the zero value.
func isZero(v reflect.Value) bool {
	t := v.Type()
	switch {
	case t.Implements(isZeroerType):
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() ||
			t.Kind() == reflect.Interface && v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil() {
			return true
		}
		return v.Interface().(interface{ IsZero() bool }).IsZero()
	case reflect.PointerTo(t).Implements(isZeroerType):
		if !v.CanAddr() {
			p := reflect.New(t)
			p.Elem().Set(v)
			v = p.Elem()
		}
		return v.Addr().Interface().(interface{ IsZero() bool }).IsZero()
	}
	return v.IsZero()
}
