//go:build tsunagi_stdjson

package jsoncodec

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
)

// encoding/json behind the codec's functions, for comparing the two (see
// the package documentation). The Encoder keeps its own walk for values
// that may hold a []byte: encoding/json has no hook to turn one into an
// attachment.

// Marshal is json.Marshal.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal is json.Unmarshal.
func Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// DecodeAny is json.Unmarshal into an any or, with useNumber, a
// json.Decoder with UseNumber on data that must be one JSON value.
func DecodeAny(data []byte, useNumber bool) (any, error) {
	var v any
	if !useNumber || !json.Valid(data) {
		err := json.Unmarshal(data, &v)
		return v, err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	err := d.Decode(&v)
	return v, err
}

// Valid is json.Valid.
func Valid(data []byte) bool { return json.Valid(data) }

// appendOther writes v with encoding/json, unless its type may hold a
// []byte.
func (e *Encoder) appendOther(v any, depth int) error {
	if hasBytes(reflect.TypeOf(v)) {
		return e.reflectValue(reflect.ValueOf(v), depth, false)
	}
	j := jsonAppenders.Get().(*jsonAppender)
	j.buf = e.Buf
	err := j.enc.Encode(v) // writes nothing on error
	if err == nil {
		e.Buf = j.buf[:len(j.buf)-1] // without Encode's newline
	}
	j.buf = nil
	jsonAppenders.Put(j)
	return err
}

// jsonAppender is a json.Encoder writing at the end of a byte slice; pooled
// so that encoding a value appends to Encoder.Buf without allocating.
type jsonAppender struct {
	buf []byte
	enc *json.Encoder
}

func (j *jsonAppender) Write(p []byte) (int, error) {
	j.buf = append(j.buf, p...)
	return len(p), nil
}

var jsonAppenders = sync.Pool{New: func() any {
	j := &jsonAppender{}
	j.enc = json.NewEncoder(j) // HTML escaping on, as json.Marshal does
	return j
}}

var hasBytesCache sync.Map // reflect.Type → bool

// hasBytes reports whether values of t may hold a []byte that travels as an
// attachment: as a struct field, an element or a map value, or behind an
// interface.
func hasBytes(t reflect.Type) bool {
	if b, ok := hasBytesCache.Load(t); ok {
		return b.(bool)
	}
	b := hasBytesSeen(t, map[reflect.Type]bool{})
	hasBytesCache.Store(t, b)
	return b
}

func hasBytesSeen(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	if t == bytesType {
		return true
	}
	if t.Implements(marshalerType) || t.Implements(textMarshalerType) {
		return false // encoded by its method, whatever it holds
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return hasBytesSeen(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); (f.IsExported() || f.Anonymous) && hasBytesSeen(f.Type, seen) {
				return true
			}
		}
	case reflect.Interface:
		return true
	}
	return false
}
