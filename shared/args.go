package shared

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
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
		if ok, err := fastDecode(raw, v); ok {
			return err
		}
		return json.Unmarshal(raw, v)
	}
	if bp, ok := v.(*[]byte); ok {
		if n, ok := placeholderNum(raw); ok && n < len(a.bufs) {
			*bp = a.bufs[n]
			return nil
		}
	}
	// Rewrite placeholders as base64 strings, which encoding/json decodes into
	// []byte. Numbers stay json.Numbers, so integers keep their precision.
	tree, err := a.tree(i, true)
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
func (a Args) Value(i int) (any, error) { return a.tree(i, false) }

func (a Args) tree(i int, useNumber bool) (any, error) {
	raw := a.Raw(i)
	if raw == nil {
		return nil, nil
	}
	var v any
	if !useNumber || !json.Valid(raw) {
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
	} else {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
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
const maxDepth = 10000

var errTooDeep = fmt.Errorf("tsunagi: value nested more than %d levels deep (cyclic?)", maxDepth)

func (e *Encoder) appendValue(v any, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
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
			e.Buf = appendFloat(e.Buf, t)
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
			e.Buf = appendString(e.Buf, k)
			e.Buf = append(e.Buf, ':')
			if err := e.appendValue(t[k], depth+1); err != nil {
				return err
			}
		}
		e.Buf = append(e.Buf, '}')
	default:
		if hasBytes(reflect.TypeOf(v)) {
			return e.appendReflect(reflect.ValueOf(v), depth)
		}
		if err := e.appendJSON(v); err != nil {
			return fmt.Errorf("tsunagi: %w", err)
		}
	}
	return nil
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

// appendJSON appends json.Marshal(v) to e.Buf.
func (e *Encoder) appendJSON(v any) error {
	j := jsonAppenders.Get().(*jsonAppender)
	j.buf = e.Buf
	err := j.enc.Encode(v) // writes nothing on error
	if err == nil {
		e.Buf = j.buf[:len(j.buf)-1] // drop Encode's newline
	}
	j.buf = nil
	jsonAppenders.Put(j)
	return err
}

var bytesType = reflect.TypeFor[[]byte]()

// hasBytes reports whether values of t may hold a []byte that should travel
// as an attachment (a struct field, slice element or map value).
func hasBytes(t reflect.Type) bool {
	if t == nil {
		return false
	}
	if b, ok := hasBytesCache.Load(t); ok {
		return b.(bool)
	}
	b := hasBytesSeen(t, map[reflect.Type]bool{})
	hasBytesCache.Store(t, b)
	return b
}

var hasBytesCache sync.Map // reflect.Type → bool

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
			if f := t.Field(i); (f.IsExported() || f.Anonymous) && hasBytesSeen(f.Type, seen) {
				return true
			}
		}
	case reflect.Interface:
		return true
	}
	return false
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

// appendFloat formats f as encoding/json and JavaScript do: no exponent
// between 1e-6 and 1e21.
func appendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // e-09 → e-9
		dst = dst[:n-1]
	}
	return dst
}

// appendReflect encodes v through a generic tree in which []byte values stay
// []byte, so appendValue turns them into attachments.
func (e *Encoder) appendReflect(v reflect.Value, depth int) error {
	tree, err := toTree(v, depth)
	if err != nil {
		return err
	}
	return e.appendValue(tree, depth)
}

func toTree(v reflect.Value, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
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
		return marshalRaw(v.Interface())
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return toTree(v.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, nil
		}
		out := make([]any, v.Len())
		for i := range out {
			x, err := toTree(v.Index(i), depth+1)
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
		if v.IsNil() {
			return nil, nil
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			x, err := toTree(it.Value(), depth+1)
			if err != nil {
				return nil, err
			}
			out[it.Key().String()] = x
		}
		return out, nil
	case reflect.Struct:
		return structTree(v, depth)
	}
	return marshalRaw(v.Interface())
}

func marshalRaw(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("tsunagi: %w", err)
	}
	return json.RawMessage(b), nil
}

type isZeroer interface{ IsZero() bool }

var isZeroerType = reflect.TypeFor[isZeroer]()

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
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() {
			return true
		}
		return v.Interface().(isZeroer).IsZero()
	case reflect.PointerTo(t).Implements(isZeroerType) && v.CanAddr():
		return v.Addr().Interface().(isZeroer).IsZero()
	case reflect.PointerTo(t).Implements(isZeroerType):
		p := reflect.New(t)
		p.Elem().Set(v)
		return p.Interface().(isZeroer).IsZero()
	}
	return v.IsZero()
}

// structTree follows encoding/json's field rules: names, "-", omitempty,
// omitzero, string, and the promotion of embedded structs' fields.
func structTree(v reflect.Value, depth int) (any, error) {
	t := v.Type()
	out := make(map[string]any, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		ft := f.Type
		if f.Anonymous && ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if !f.IsExported() && !(f.Anonymous && ft.Kind() == reflect.Struct) {
			continue
		}
		name, opts, tagged := f.Name, "", false
		if tag, ok := f.Tag.Lookup("json"); ok {
			if tag == "-" {
				continue
			}
			n, o, _ := cutComma(tag)
			if n != "" {
				name, tagged = n, true
			}
			opts = o
		}
		fv := v.Field(i)
		if f.Anonymous && !tagged && ft.Kind() == reflect.Struct {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			sub, err := structTree(fv, depth+1)
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
		if !f.IsExported() {
			continue
		}
		if containsOpt(opts, "omitempty") && isEmpty(fv) || containsOpt(opts, "omitzero") && isZero(fv) {
			continue
		}
		x, err := toTree(fv, depth+1)
		if err != nil {
			return nil, err
		}
		if containsOpt(opts, "string") {
			x, err = quoteScalar(fv, x)
			if err != nil {
				return nil, err
			}
		}
		out[name] = x
	}
	return out, nil
}

// quoteScalar applies the "string" option: a scalar's JSON inside a string.
func quoteScalar(fv reflect.Value, x any) (any, error) {
	for fv.Kind() == reflect.Pointer && !fv.IsNil() {
		fv = fv.Elem()
	}
	switch fv.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		if raw, ok := x.(json.RawMessage); ok {
			return string(raw), nil
		}
	}
	return x, nil
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
