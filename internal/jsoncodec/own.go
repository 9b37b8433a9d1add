//go:build !tsunagi_stdjson

package jsoncodec

import "reflect"

// The codec's own code, held to encoding/json by FuzzJSON. Build with
// -tags tsunagi_stdjson for encoding/json behind the same functions
// (std.go).

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

// DecodeAny returns the JSON value data as json.Unmarshal decodes it into
// an any: nil, bool, float64, string, []any and map[string]any; with
// useNumber, numbers are json.Numbers, as a json.Decoder with UseNumber
// returns them.
func DecodeAny(data []byte, useNumber bool) (any, error) { return decodeAny(data, useNumber) }

// Valid reports whether data is one JSON value, as json.Valid does.
func Valid(data []byte) bool { return validJSON(data) }

// appendOther writes what appendValue has no case of its own for.
func (e *Encoder) appendOther(v any, depth int) error {
	return e.reflectValue(reflect.ValueOf(v), depth, false)
}
