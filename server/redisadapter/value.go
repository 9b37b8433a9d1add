package redisadapter

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxDepth is how deeply arrays and maps may nest in a message that is
// decoded. Node sets no limit; the bound keeps a hostile message of nested
// one-element arrays from exhausting the stack.
const MaxDepth = 256

// ErrMalformed is wrapped by every decoding error: the bytes are not a
// message of the classic protocol. A receiver drops such a message (and
// counts it); it never comes from a well-behaved Node or tsunagi peer.
var ErrMalformed = errors.New("redisadapter: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// mpItem describes one msgpack value header at the start of a byte slice.
type mpItem struct {
	kind    byte // 'n' nil, 'b' bool, 'i' int, 'u' uint, 'f' float, 's' str, 'B' bin, 'a' array, 'm' map, 'x' ext
	hdr     int  // header length in bytes
	n       int  // payload bytes (str, bin, ext, scalars) or element count (array, map)
	extType int8
	boolVal bool
}

// mpHeader reads the header of the msgpack value at the start of b. It
// checks that the payload of a scalar, str, bin or ext fits in b, and that an
// array or map cannot claim more elements than there are bytes left.
func mpHeader(b []byte) (mpItem, error) {
	if len(b) == 0 {
		return mpItem{}, malformed("unexpected end of msgpack data")
	}
	c := b[0]
	be := func(k int) (uint64, error) {
		if len(b) < 1+k {
			return 0, malformed("unexpected end of msgpack data")
		}
		switch k {
		case 1:
			return uint64(b[1]), nil
		case 2:
			return uint64(binary.BigEndian.Uint16(b[1:])), nil
		case 4:
			return uint64(binary.BigEndian.Uint32(b[1:])), nil
		}
		return binary.BigEndian.Uint64(b[1:]), nil
	}
	var it mpItem
	var err error
	var l uint64
	sized := func(kind byte, k int) {
		l, err = be(k)
		it = mpItem{kind: kind, hdr: 1 + k}
	}
	switch {
	case c <= 0x7f || c >= 0xe0:
		return mpItem{kind: 'i', hdr: 1}, nil
	case c >= 0x80 && c <= 0x8f:
		it, l = mpItem{kind: 'm', hdr: 1}, uint64(c&0x0f)
	case c >= 0x90 && c <= 0x9f:
		it, l = mpItem{kind: 'a', hdr: 1}, uint64(c&0x0f)
	case c >= 0xa0 && c <= 0xbf:
		it, l = mpItem{kind: 's', hdr: 1}, uint64(c&0x1f)
	case c == 0xc0:
		return mpItem{kind: 'n', hdr: 1}, nil
	case c == 0xc2 || c == 0xc3:
		return mpItem{kind: 'b', hdr: 1, boolVal: c == 0xc3}, nil
	case c == 0xc4, c == 0xc5, c == 0xc6:
		sized('B', 1<<(c-0xc4))
	case c == 0xc7, c == 0xc8, c == 0xc9:
		sized('x', 1<<(c-0xc7))
		if err == nil {
			if len(b) < it.hdr+1 {
				return mpItem{}, malformed("unexpected end of msgpack data")
			}
			it.extType = int8(b[it.hdr])
			it.hdr++
		}
	case c == 0xca:
		it, l = mpItem{kind: 'f', hdr: 1}, 4
	case c == 0xcb:
		it, l = mpItem{kind: 'f', hdr: 1}, 8
	case c >= 0xcc && c <= 0xcf:
		it, l = mpItem{kind: 'u', hdr: 1}, 1<<(c-0xcc)
	case c >= 0xd0 && c <= 0xd3:
		it, l = mpItem{kind: 'i', hdr: 1}, 1<<(c-0xd0)
	case c >= 0xd4 && c <= 0xd8:
		if len(b) < 2 {
			return mpItem{}, malformed("unexpected end of msgpack data")
		}
		it, l = mpItem{kind: 'x', hdr: 2, extType: int8(b[1])}, 1<<(c-0xd4)
	case c == 0xd9, c == 0xda, c == 0xdb:
		sized('s', 1<<(c-0xd9))
	case c == 0xdc, c == 0xdd:
		sized('a', 2<<(c-0xdc))
	case c == 0xde, c == 0xdf:
		sized('m', 2<<(c-0xde))
	default: // 0xc1
		return mpItem{}, malformed("invalid msgpack byte 0x%02x", c)
	}
	if err != nil {
		return mpItem{}, err
	}
	rest := uint64(len(b) - it.hdr)
	switch it.kind {
	case 'a':
		if l > rest {
			return mpItem{}, malformed("array of %d elements in %d bytes", l, rest)
		}
	case 'm':
		if l > rest/2 {
			return mpItem{}, malformed("map of %d entries in %d bytes", l, rest)
		}
	default:
		if l > rest {
			return mpItem{}, malformed("value of %d bytes in %d bytes", l, rest)
		}
	}
	it.n = int(l)
	return it, nil
}

// size is the number of bytes the header and a scalar's payload take.
func (it mpItem) size() int {
	if it.kind == 'a' || it.kind == 'm' {
		return it.hdr
	}
	return it.hdr + it.n
}

// checkMsgpack checks, without recursion, that b holds exactly one
// well-formed msgpack value nested at most MaxDepth deep, with UTF-8 strings
// and no ext type other than the timestamp (-1), which notepack.io also
// decodes. Every decoder in this package runs it before anything else reads
// the bytes.
func checkMsgpack(b []byte) error {
	// pending[i] is how many values are still due at depth i.
	pending := make([]int, 1, 16)
	pending[0] = 1
	off := 0
	for len(pending) > 0 {
		if pending[len(pending)-1] == 0 {
			pending = pending[:len(pending)-1]
			continue
		}
		pending[len(pending)-1]--
		it, err := mpHeader(b[off:])
		if err != nil {
			return err
		}
		switch it.kind {
		case 's':
			if !utf8.Valid(b[off+it.hdr : off+it.hdr+it.n]) {
				return malformed("string is not UTF-8")
			}
		case 'x':
			if it.extType != -1 || (it.n != 4 && it.n != 8 && it.n != 12) {
				return malformed("msgpack ext type %d of %d bytes is not supported (notepack.io 3 sends only timestamps, ext -1)", it.extType, it.n)
			}
		case 'a', 'm':
			if len(pending) >= MaxDepth {
				return malformed("nested deeper than %d", MaxDepth)
			}
			n := it.n
			if it.kind == 'm' {
				n *= 2
			}
			pending = append(pending, n)
		}
		off += it.size()
	}
	if off != len(b) {
		return malformed("%d trailing bytes", len(b)-off)
	}
	return nil
}

// msgpackToJSON writes the msgpack value at the start of b (checked by
// checkMsgpack) as JSON, the way Node's JSON.stringify would write the value
// notepack.io decodes: bin as {"type":"Buffer","data":[...]}, a timestamp as
// the Date.toJSON string, NaN and ±Infinity as null. Map keys that are not
// strings are written as their JSON text, as JavaScript turns them into
// property names. It returns the bytes consumed.
func msgpackToJSON(buf *bytes.Buffer, b []byte) (int, error) { return mpToJSON(buf, b, nil) }

// mpToJSON is msgpackToJSON for a Socket.IO payload: with bufs not nil, each
// bin becomes a placeholder {"_placeholder":true,"num":n} and its bytes are
// appended to *bufs, as socket.io-parser deconstructs a packet.
func mpToJSON(buf *bytes.Buffer, b []byte, bufs *[][]byte) (int, error) {
	it, err := mpHeader(b)
	if err != nil {
		return 0, err
	}
	p := b[it.hdr:]
	switch it.kind {
	case 'n':
		buf.WriteString("null")
	case 'b':
		buf.WriteString(strconv.FormatBool(it.boolVal))
	case 'i', 'u':
		if it.n == 0 { // fixint
			buf.WriteString(strconv.Itoa(int(int8(b[0]))))
			return 1, nil
		}
		var u uint64
		for _, x := range p[:it.n] {
			u = u<<8 | uint64(x)
		}
		if it.kind == 'u' {
			buf.WriteString(strconv.FormatUint(u, 10))
		} else {
			shift := 64 - 8*it.n
			buf.WriteString(strconv.FormatInt(int64(u<<shift)>>shift, 10))
		}
	case 'f':
		var f float64
		if it.n == 4 {
			f = float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
		} else {
			f = math.Float64frombits(binary.BigEndian.Uint64(p))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			buf.WriteString("null")
		} else {
			// encoding/json formats floats as JavaScript does.
			s, _ := json.Marshal(f)
			buf.Write(s)
		}
	case 's':
		writeJSONString(buf, string(p[:it.n]))
	case 'B':
		if bufs != nil {
			buf.WriteString(`{"_placeholder":true,"num":`)
			buf.WriteString(strconv.Itoa(len(*bufs)))
			buf.WriteByte('}')
			*bufs = append(*bufs, bytes.Clone(p[:it.n]))
			break
		}
		buf.WriteString(`{"type":"Buffer","data":[`)
		for i, x := range p[:it.n] {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Itoa(int(x)))
		}
		buf.WriteString("]}")
	case 'x':
		var t time.Time
		if err := msgpack.Unmarshal(b[:it.hdr+it.n], &t); err != nil {
			return 0, malformed("timestamp: %v", err)
		}
		writeJSONString(buf, t.UTC().Format("2006-01-02T15:04:05.000Z"))
	case 'a', 'm':
		open, close := byte('['), byte(']')
		if it.kind == 'm' {
			open, close = '{', '}'
		}
		buf.WriteByte(open)
		off := it.hdr
		for i := 0; i < it.n; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			if it.kind == 'm' {
				k, err := mpHeader(b[off:])
				if err != nil {
					return 0, err
				}
				if k.kind == 's' {
					n, err := mpToJSON(buf, b[off:], bufs)
					if err != nil {
						return 0, err
					}
					off += n
				} else {
					var kb bytes.Buffer
					n, err := mpToJSON(&kb, b[off:], nil)
					if err != nil {
						return 0, err
					}
					writeJSONString(buf, kb.String())
					off += n
				}
				buf.WriteByte(':')
			}
			n, err := mpToJSON(buf, b[off:], bufs)
			if err != nil {
				return 0, err
			}
			off += n
		}
		buf.WriteByte(close)
		return off, nil
	}
	return it.size(), nil
}

// jsonToMsgpack writes the single JSON value in data as msgpack, as
// notepack.io would encode what JSON.parse returns: integral numbers as the
// smallest int, others as float64, key order kept. msgpack needs each
// array's and object's element count before its elements, so a first pass
// counts them; both passes are iterative and linear.
func jsonToMsgpack(enc *msgpack.Encoder, data []byte) error { return jsonToMsgpackBin(enc, data, nil) }

// jsonToMsgpackBin is jsonToMsgpack for a Socket.IO payload whose binary
// attachments are bufs: an object {"_placeholder":true,"num":n} (those two
// keys, in either order) becomes bufs[n] as msgpack bin. With bufs nil
// there are no placeholders.
func jsonToMsgpackBin(enc *msgpack.Encoder, data []byte, bufs [][]byte) error {
	counts, err := jsonCounts(data)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var queue []json.Token // tokens read ahead, to be handled first
	token := func() (json.Token, error) {
		if len(queue) > 0 {
			t := queue[0]
			queue = queue[1:]
			return t, nil
		}
		return dec.Token()
	}
	next := 0
	for {
		tok, err := token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return malformed("JSON: %v", err)
		}
		if tok == json.Delim('{') && bufs != nil && counts[next] == 2 {
			ahead, n, err := readPlaceholder(token, len(bufs))
			if err != nil {
				return err
			}
			if n >= 0 {
				next++ // the placeholder's count
				if err := enc.EncodeBytes(bufs[n]); err != nil {
					return err
				}
				continue
			}
			queue = append(ahead, queue...)
		}
		switch v := tok.(type) {
		case nil:
			err = enc.EncodeNil()
		case bool:
			err = enc.EncodeBool(v)
		case string:
			err = enc.EncodeString(v)
		case json.Number:
			err = encodeJSONNumber(enc, v)
		case json.Delim:
			switch v {
			case '[':
				err = enc.EncodeArrayLen(counts[next])
				next++
			case '{':
				err = enc.EncodeMapLen(counts[next])
				next++
			}
		}
		if err != nil {
			return err
		}
	}
}

// readPlaceholder reads the four tokens of a two-key object that was just
// opened, stopping early at a nested array or object. When they are
// "_placeholder": true and "num": n with 0 ≤ n < nbufs (in either order), it
// also reads the closing brace and returns n; otherwise it returns the
// tokens read, to be handled as usual, and -1.
func readPlaceholder(token func() (json.Token, error), nbufs int) ([]json.Token, int, error) {
	var ahead []json.Token
	for len(ahead) < 4 {
		t, err := token()
		if err != nil {
			return nil, -1, malformed("JSON: %v", err)
		}
		ahead = append(ahead, t)
		if _, delim := t.(json.Delim); delim {
			return ahead, -1, nil
		}
	}
	flag, num := false, -1
	for i := 0; i < 4; i += 2 {
		switch ahead[i] {
		case "_placeholder":
			flag = ahead[i+1] == true
		case "num":
			if v, ok := ahead[i+1].(json.Number); ok {
				if n, err := strconv.Atoi(v.String()); err == nil && n >= 0 && n < nbufs {
					num = n
				}
			}
		}
	}
	if !flag || num < 0 {
		return ahead, -1, nil
	}
	if t, err := token(); err != nil || t != json.Delim('}') {
		return nil, -1, malformed("JSON: placeholder not closed")
	}
	return nil, num, nil
}

// jsonCounts returns the element count of every array and object in data,
// in the order they open. It checks that data is one JSON value nested at
// most MaxDepth deep.
func jsonCounts(data []byte) ([]int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var counts []int
	type level struct {
		index int  // into counts
		obj   bool // an object: keys and values alternate
		key   bool // the next token of the object is a key
	}
	var stack []level
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformed("JSON: %v", err)
		}
		if d, ok := tok.(json.Delim); ok && (d == ']' || d == '}') {
			stack = stack[:len(stack)-1]
			continue
		}
		if len(stack) == 0 {
			values++
			if values > 1 {
				return nil, malformed("JSON: more than one value")
			}
		} else {
			top := &stack[len(stack)-1]
			if top.obj {
				if top.key {
					counts[top.index]++
					top.key = false
					continue
				}
				top.key = true
			} else {
				counts[top.index]++
			}
		}
		if d, ok := tok.(json.Delim); ok {
			if len(stack) >= MaxDepth {
				return nil, malformed("nested deeper than %d", MaxDepth)
			}
			stack = append(stack, level{index: len(counts), obj: d == '{', key: true})
			counts = append(counts, 0)
		}
	}
	if values != 1 {
		return nil, malformed("JSON: no value")
	}
	if len(stack) > 0 {
		return nil, malformed("JSON: unexpected end")
	}
	return counts, nil
}

func encodeJSONNumber(enc *msgpack.Encoder, v json.Number) error {
	if i, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
		return enc.EncodeInt(i)
	}
	if u, err := strconv.ParseUint(v.String(), 10, 64); err == nil {
		return enc.EncodeUint(u)
	}
	f, err := strconv.ParseFloat(v.String(), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return malformed("JSON number %s: %v", v, err)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return enc.EncodeInt(int64(f))
	}
	return enc.EncodeFloat64(f)
}

// newEncoder returns an encoder that writes what notepack.io writes for the
// same values: the smallest integer forms.
func newEncoder(w *bytes.Buffer) *msgpack.Encoder {
	enc := msgpack.NewEncoder(w)
	enc.UseCompactInts(true)
	return enc
}

// Value is one msgpack-encoded value of a packet: the event name and
// arguments of a broadcast, or an acknowledgement's argument. It holds the
// bytes as they crossed the wire, so that a relayed value keeps its exact
// form, binary (msgpack bin, a Node Buffer) included. Build one with
// EncodeValue; nil means the value is absent (JavaScript undefined).
//
// In a message sent as JSON a Value is converted: from msgpack as
// JSON.stringify would write it (a Buffer becomes {"type":"Buffer",...}),
// and to msgpack as notepack.io would encode what JSON.parse returns.
type Value []byte

// EncodeValue encodes v as notepack.io would encode the same JavaScript
// value: []byte as bin, integers in their smallest form, structs by their
// msgpack tags. Map keys are sorted, so that the bytes are deterministic.
func EncodeValue(v any) (Value, error) {
	var buf bytes.Buffer
	enc := newEncoder(&buf)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("redisadapter: encode value: %w", err)
	}
	return Value(buf.Bytes()), nil
}

// EventData encodes the data of an EVENT packet, [event, ...args], with
// EncodeValue.
func EventData(event string, args ...any) (Value, error) {
	return EncodeValue(append([]any{event}, args...))
}

// Decode decodes the value into v (see msgpack.Unmarshal).
func (v Value) Decode(into any) error {
	if v == nil {
		return errors.New("redisadapter: the value is absent")
	}
	return msgpack.Unmarshal(v, into)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (v Value) EncodeMsgpack(enc *msgpack.Encoder) error {
	if v == nil {
		return enc.EncodeNil()
	}
	_, err := enc.Writer().Write(v)
	return err
}

// DecodeMsgpack implements msgpack.CustomDecoder. The message it is part of
// has been checked by checkMsgpack.
func (v *Value) DecodeMsgpack(dec *msgpack.Decoder) error {
	raw, err := dec.DecodeRaw()
	if err != nil {
		return err
	}
	*v = Value(raw)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	if err := checkMsgpack(v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := msgpackToJSON(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	var buf bytes.Buffer
	if err := jsonToMsgpack(newEncoder(&buf), b); err != nil {
		return err
	}
	*v = Value(buf.Bytes())
	return nil
}

// JSONValue is one JSON-encoded value of a request or response that Node
// sends as JSON (serverSideEmit arguments and replies, socket data and
// handshakes). It is converted the other way round from Value when it is
// part of a msgpack message. nil means absent.
type JSONValue []byte

// MarshalJSON implements json.Marshaler.
func (v JSONValue) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	if !json.Valid(v) {
		return nil, errors.New("redisadapter: JSONValue is not valid JSON")
	}
	return v, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *JSONValue) UnmarshalJSON(b []byte) error {
	*v = append(JSONValue(nil), b...)
	return nil
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (v JSONValue) EncodeMsgpack(enc *msgpack.Encoder) error {
	if v == nil {
		return enc.EncodeNil()
	}
	return jsonToMsgpack(enc, v)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (v *JSONValue) DecodeMsgpack(dec *msgpack.Decoder) error {
	raw, err := dec.DecodeRaw()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := msgpackToJSON(&buf, raw); err != nil {
		return err
	}
	*v = JSONValue(buf.Bytes())
	return nil
}

// marshalJSON is json.Marshal without the HTML escaping of '<', '>' and '&',
// which JSON.stringify does not do. (encoding/json still escapes U+2028 and
// U+2029; the value is the same.)
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := marshalJSON(s)
	buf.Write(b)
}
