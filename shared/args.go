package shared

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Args are the arguments of an event or an ack as they came off the wire:
// JSON values, with binary attachments kept apart.
type Args struct {
	// The arguments are inl[:n], or raw when it is not nil: most events
	// carry few arguments, and those then need no slice of their own.
	n    int
	inl  [argsInline]json.RawMessage
	raw  []json.RawMessage
	bufs [][]byte
}

// argsInline is the number of arguments Args holds without a slice.
const argsInline = 4

// NewArgs returns Args over raw JSON values and binary attachments.
func NewArgs(raw []json.RawMessage, bufs [][]byte) Args { return Args{raw: raw, bufs: bufs} }

// add appends an argument.
func (a *Args) add(elem json.RawMessage) {
	if a.raw == nil && a.n < len(a.inl) {
		a.inl[a.n] = elem
		a.n++
		return
	}
	if a.raw == nil {
		a.raw = make([]json.RawMessage, a.n, 2*len(a.inl))
		copy(a.raw, a.inl[:a.n])
		a.n = 0
		a.inl = [argsInline]json.RawMessage{}
	}
	a.raw = append(a.raw, elem)
}

// ParseArgs splits a JSON array payload into Args.
func ParseArgs(data json.RawMessage, bufs [][]byte) (Args, error) {
	a := Args{bufs: bufs}
	it := elemIter{data: data}
	for {
		elem, err := it.next()
		if err != nil || elem == nil {
			return a, err
		}
		a.add(elem)
	}
}

// ParseEvent splits an EVENT payload into the event name and its arguments.
func ParseEvent(data json.RawMessage, bufs [][]byte) (string, Args, error) {
	a := Args{bufs: bufs}
	it := elemIter{data: data}
	first, err := it.next()
	for elem := first; err == nil && elem != nil; {
		elem, err = it.next()
		if elem != nil {
			a.add(elem)
		}
	}
	if err != nil {
		return "", Args{}, err
	}
	if first == nil {
		return "", Args{}, parseErr("EVENT payload is an empty array")
	}
	name, err := decodeName(first)
	if err != nil {
		return "", Args{}, err
	}
	return name, a, nil
}

// Len is the number of arguments.
func (a Args) Len() int {
	if a.raw != nil {
		return len(a.raw)
	}
	return a.n
}

// Raw returns argument i as JSON, placeholders included.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= a.Len() {
		return nil
	}
	if a.raw != nil {
		return a.raw[i]
	}
	return a.inl[i]
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
		return Unmarshal(raw, v)
	}
	if bp, ok := v.(*[]byte); ok {
		if n, ok := placeholderNum(raw); ok && n < len(a.bufs) {
			*bp = a.bufs[n]
			return nil
		}
	}
	// Rewrite placeholders as base64 strings, which decode into []byte.
	// Numbers stay json.Numbers, so integers keep their precision.
	tree, err := a.tree(i, true)
	if err != nil {
		return err
	}
	b, err := Marshal(tree) // []byte values marshal as base64
	if err != nil {
		return err
	}
	return Unmarshal(b, v)
}

// Value returns argument i as a generic value: nil, bool, float64, string,
// []any, map[string]any, and []byte for binary attachments.
func (a Args) Value(i int) (any, error) { return a.tree(i, false) }

func (a Args) tree(i int, useNumber bool) (any, error) {
	raw := a.Raw(i)
	if raw == nil {
		return nil, nil
	}
	v, err := decodeAny(raw, useNumber)
	if err != nil {
		return nil, err
	}
	if len(a.bufs) == 0 {
		return v, nil
	}
	return resolve(v, a.bufs)
}

// Values returns every argument as Value does.
func (a Args) Values() ([]any, error) {
	out := make([]any, a.Len())
	for i := range out {
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
	if Unmarshal(raw, &ph) != nil || !ph.P || ph.Num == nil || *ph.Num < 0 {
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
	v, err := decodeAny(data, false)
	if err != nil {
		return parseErr("%v", err)
	}
	_, err = resolve(v, make([][]byte, n))
	return err
}
