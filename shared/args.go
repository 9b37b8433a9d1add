package shared

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
	"github.com/tsunagi/tsunagi/shared/wire"
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

// ParseArgs splits a JSON array payload, an ACK's, into Args; bufs are
// the packet's binary attachments.
func ParseArgs(data json.RawMessage, bufs [][]byte) (Args, error) {
	a := Args{bufs: bufs}
	err := wire.SplitArgs(data, a.add)
	return a, err
}

// ParseEvent splits an EVENT payload into the event name and its arguments;
// bufs are the packet's binary attachments. Errors are *wire.ParseError.
func ParseEvent(data json.RawMessage, bufs [][]byte) (string, Args, error) {
	a := Args{bufs: bufs}
	name, err := wire.SplitEvent(data, a.add)
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
		return jsoncodec.Unmarshal(raw, v)
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
	b, err := jsoncodec.Marshal(tree) // []byte values marshal as base64
	if err != nil {
		return err
	}
	return jsoncodec.Unmarshal(b, v)
}

// Value returns argument i as a generic value: nil, bool, float64, string,
// []any, map[string]any, and []byte for binary attachments.
func (a Args) Value(i int) (any, error) { return a.tree(i, false) }

func (a Args) tree(i int, useNumber bool) (any, error) {
	raw := a.Raw(i)
	if raw == nil {
		return nil, nil
	}
	v, err := jsoncodec.DecodeAny(raw, useNumber)
	if err != nil {
		return nil, err
	}
	if len(a.bufs) == 0 {
		return v, nil
	}
	return wire.ResolvePlaceholders(v, a.bufs)
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
	if jsoncodec.Unmarshal(raw, &ph) != nil || !ph.P || ph.Num == nil || *ph.Num < 0 {
		return 0, false
	}
	return *ph.Num, true
}
