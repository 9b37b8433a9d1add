package wire

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
)

// The payloads of EVENT and ACK packets: JSON arrays, split into their
// elements without decoding them, and the placeholders of binary packets.

// SplitEvent splits an EVENT payload: it calls arg with each argument, in
// order, and returns the event name, the first element. The name of an
// event the program declared or handles (see Intern) is returned without
// allocating.
func SplitEvent(data json.RawMessage, arg func(json.RawMessage)) (string, error) {
	it := elemIter{data: data}
	first, err := it.next()
	for elem := first; err == nil && elem != nil; {
		if elem, err = it.next(); elem != nil {
			arg(elem)
		}
	}
	if err != nil {
		return "", err
	}
	if first == nil {
		return "", parseErr("EVENT payload is an empty array")
	}
	return decodeName(first)
}

// SplitArgs calls arg with each element of the JSON array data, an ACK's
// payload, in order.
func SplitArgs(data json.RawMessage, arg func(json.RawMessage)) error {
	it := elemIter{data: data}
	for {
		elem, err := it.next()
		if err != nil || elem == nil {
			return err
		}
		arg(elem)
	}
}

// splitArray returns the top-level elements of a valid JSON array, appended
// to dst; it stops after limit elements when limit > 0. Whitespace around
// elements is trimmed. On invalid JSON it returns an error or garbage, never
// panics.
func splitArray(data []byte, dst []json.RawMessage, limit int) ([]json.RawMessage, error) {
	it := elemIter{data: data}
	for len(dst) != limit || limit <= 0 {
		elem, err := it.next()
		if err != nil || elem == nil {
			return dst, err
		}
		dst = append(dst, elem)
	}
	return dst, nil
}

// elemIter yields the top-level elements of a JSON array one by one, as
// splitArray returns them.
type elemIter struct {
	data  []byte
	i     int
	state uint8
	err   error // what the next call returns, once done
}

const (
	iterStart uint8 = iota
	iterIn
	iterDone
)

func (it *elemIter) skip() {
	for it.i < len(it.data) && (it.data[it.i] == ' ' || it.data[it.i] == '\t' || it.data[it.i] == '\r' || it.data[it.i] == '\n') {
		it.i++
	}
}

func (it *elemIter) fail(err error) (json.RawMessage, error) {
	it.state, it.err = iterDone, err
	return nil, err
}

// next returns the next element, nil after the last one, or an error.
func (it *elemIter) next() (json.RawMessage, error) {
	data := it.data
	switch it.state {
	case iterDone:
		return nil, it.err
	case iterStart:
		it.skip()
		if it.i >= len(data) || data[it.i] != '[' {
			return it.fail(parseErr("payload must be a JSON array"))
		}
		it.i++
		it.skip()
		it.state = iterIn
		if it.i < len(data) && data[it.i] == ']' {
			return it.fail(nil)
		}
	}
	if it.i >= len(data) {
		return it.fail(parseErr("unterminated JSON array"))
	}
	it.skip()
	i := it.i
	start := i
	depth := 0
elem:
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				break elem
			}
			depth--
		case ',':
			if depth == 0 {
				break elem
			}
		}
	}
	if i > len(data) { // an unterminated string ending in a backslash
		i = len(data)
	}
	end := i
	for end > start && (data[end-1] == ' ' || data[end-1] == '\t' || data[end-1] == '\r' || data[end-1] == '\n') {
		end--
	}
	if end == start {
		return it.fail(parseErr("empty array element"))
	}
	switch {
	case i >= len(data):
		// The element is returned; the error comes with the next call, so
		// that a limited split does not see it, as before.
		it.state, it.err = iterDone, parseErr("unterminated JSON array")
	case data[i] == ']':
		it.state = iterDone
	default:
		i++ // ','
	}
	it.i = i
	return json.RawMessage(data[start:end:end]), nil
}

var placeholderKey = []byte(`"_placeholder"`)

// ResolvePlaceholders replaces the placeholder objects
// {"_placeholder":true,"num":n} in v, a payload decoded into an any, by
// bufs[n]. A placeholder whose num is not an index of bufs is a
// *ParseError.
func ResolvePlaceholders(v any, bufs [][]byte) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		if p, ok := t["_placeholder"].(bool); ok && p {
			n, ok := t["num"].(float64)
			if num, isNum := t["num"].(json.Number); isNum {
				f, err := num.Float64()
				n, ok = f, err == nil
			}
			if !ok || n != math.Trunc(n) || n < 0 || n >= float64(len(bufs)) {
				return nil, parseErr("placeholder num %v out of range", t["num"])
			}
			return bufs[int(n)], nil
		}
		for k, e := range t {
			r, err := ResolvePlaceholders(e, bufs)
			if err != nil {
				return nil, err
			}
			t[k] = r
		}
	case []any:
		for k, e := range t {
			r, err := ResolvePlaceholders(e, bufs)
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
	v, err := jsoncodec.DecodeAny(data, false)
	if err != nil {
		return parseErr("%v", err)
	}
	_, err = ResolvePlaceholders(v, make([][]byte, n))
	return err
}
