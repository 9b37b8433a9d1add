package shared

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// PacketType is the type of a Socket.IO v5 packet.
type PacketType byte

// Socket.IO v5 packet types.
const (
	Connect PacketType = iota
	Disconnect
	EventPacket
	Ack
	ConnectError
	BinaryEvent
	BinaryAck
)

var packetTypeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// IsBinary reports whether packets of this type carry binary attachments.
func (t PacketType) IsBinary() bool { return t == BinaryEvent || t == BinaryAck }

// NoID is the ID of a packet that carries no ack id.
const NoID int64 = -1

// Packet is one Socket.IO packet.
type Packet struct {
	Type PacketType
	// Namespace is "/" for the main namespace (omitted on the wire).
	Namespace string
	// ID is the ack id, or NoID.
	ID int64
	// Data is the JSON payload as it travels, placeholders included; nil when absent.
	Data json.RawMessage
	// Attachments is the number of binary messages that follow a binary packet.
	Attachments int
	// Buffers holds the binary attachments, in order.
	Buffers [][]byte
}

// AppendEncode appends the text form of p to dst:
// <type>[<attachments>-][<nsp>,][<id>][JSON]. The attachment count written
// is len(p.Buffers) for binary types.
func (p *Packet) AppendEncode(dst []byte) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type.IsBinary() {
		dst = strconv.AppendInt(dst, int64(len(p.Buffers)), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.ID >= 0 {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// Message returns p as a text WebSocket message ("4" + the packet) followed
// by its binary attachments.
func (p *Packet) Message() []byte {
	return p.AppendEncode(append(make([]byte, 0, 16+len(p.Namespace)+len(p.Data)), byte(EIOMessage)))
}

// ParseError describes a packet that does not follow the protocol.
type ParseError struct {
	Reason string
}

func (e *ParseError) Error() string { return "tsunagi: invalid packet: " + e.Reason }

func parseErr(format string, args ...any) error {
	return &ParseError{Reason: fmt.Sprintf(format, args...)}
}

// Limits bound what a decoder accepts. The zero value means the defaults.
type Limits struct {
	// MaxAttachments per binary packet. Defaults to DefaultMaxAttachments.
	MaxAttachments int
}

func (l Limits) maxAttachments() int {
	if l.MaxAttachments > 0 {
		return l.MaxAttachments
	}
	return DefaultMaxAttachments
}

// DecodePacket parses the text form of a Socket.IO packet (without the
// Engine.IO "4") and checks that its payload fits its type. For binary types
// the caller collects p.Attachments binary messages into p.Buffers; Decoder
// does that.
func DecodePacket(s []byte, lim Limits) (Packet, error) {
	p := Packet{Namespace: "/", ID: NoID}
	if len(s) == 0 {
		return p, parseErr("empty packet")
	}
	if s[0] < '0' || s[0] > '6' {
		return p, parseErr("unknown packet type %q", s[0])
	}
	p.Type = PacketType(s[0] - '0')
	i := 1
	if p.Type.IsBinary() {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' && j-i < 4 {
			j++
		}
		if j == i || j >= len(s) || s[j] != '-' {
			return p, parseErr("binary packet without a valid attachment count")
		}
		n, _ := strconv.Atoi(string(s[i:j]))
		if n < 1 || n > lim.maxAttachments() {
			return p, parseErr("%d attachments (allowed: 1 to %d)", n, lim.maxAttachments())
		}
		p.Attachments = n
		i = j + 1
	}
	if i < len(s) && s[i] == '/' {
		j := bytes.IndexByte(s[i:], ',')
		if j < 0 {
			p.Namespace = string(s[i:])
			i = len(s)
		} else {
			p.Namespace = string(s[i : i+j])
			i += j + 1
		}
	}
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i > 16 {
			return p, parseErr("ack id too long")
		}
		id, _ := strconv.ParseInt(string(s[i:j]), 10, 64)
		if id > MaxAckID {
			return p, parseErr("ack id %d above 2^53", id)
		}
		p.ID = id
		i = j
	}
	if i < len(s) {
		p.Data = json.RawMessage(s[i:])
	}
	return p, p.validate()
}

func (p *Packet) validate() error {
	first := firstByte(p.Data)
	if p.Data != nil && !validJSON(p.Data) {
		return parseErr("%s payload is not valid JSON", p.Type)
	}
	switch p.Type {
	case Connect:
		if p.Data != nil && first != '{' {
			return parseErr("CONNECT payload must be an object")
		}
	case Disconnect:
		if p.Data != nil {
			return parseErr("DISCONNECT carries no payload")
		}
	case ConnectError:
		if first != '{' && first != '"' {
			return parseErr("CONNECT_ERROR payload must be an object or a string")
		}
	case EventPacket, BinaryEvent:
		if first != '[' {
			return parseErr("EVENT payload must be an array")
		}
		if err := checkEventName(p.Data); err != nil {
			return err
		}
	case Ack, BinaryAck:
		if first != '[' {
			return parseErr("ACK payload must be an array")
		}
		if p.ID < 0 {
			return parseErr("ACK without an id")
		}
	}
	return nil
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// checkEventName checks that the first element of a valid JSON array is an
// event name that is not reserved. It does not allocate for plain names.
func checkEventName(data []byte) error {
	var buf [1]json.RawMessage
	elems, err := splitArray(data, buf[:0], 1)
	if err != nil {
		return err
	}
	if len(elems) == 0 {
		return parseErr("EVENT payload is an empty array")
	}
	if b, ok := plainString(elems[0]); ok {
		if isReservedBytes(b) {
			return parseErr("event name %q is reserved", b)
		}
		return nil
	}
	name, err := decodeName(elems[0])
	if err != nil {
		return err
	}
	if IsReserved(name) {
		return parseErr("event name %q is reserved", name)
	}
	return nil
}

// plainString returns the contents of a JSON string without escapes.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	b := raw[1 : len(raw)-1]
	return b, bytes.IndexByte(b, '\\') < 0
}

func decodeName(raw []byte) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", parseErr("event name must be a string, not %.20s", raw)
	}
	// Fast path: no escapes.
	if b, ok := plainString(raw); ok {
		if name, ok := internedName(b); ok {
			return name, nil
		}
		return string(b), nil
	}
	name, ok := unquote(raw)
	if !ok || scanString(raw, 0) != len(raw) {
		return "", parseErr("event name is not a valid JSON string")
	}
	return string(name), nil
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

// Reserved event names: they have a meaning of their own in Socket.IO and
// cannot be emitted or received as events.
var reserved = [...]string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

func isReservedBytes(name []byte) bool {
	for _, r := range reserved {
		if string(name) == r {
			return true
		}
	}
	return false
}

// IsReserved reports whether name is reserved by Socket.IO.
func IsReserved(name string) bool {
	for _, r := range reserved {
		if name == r {
			return true
		}
	}
	return false
}

// ErrUnexpectedBinary is returned for a binary message that no packet announced.
var ErrUnexpectedBinary = errors.New("tsunagi: binary message without a binary packet announcing it")

// Decoder turns WebSocket messages into whole Socket.IO packets, joining the
// binary messages that follow a binary packet to it. It is not safe for
// concurrent use; each connection has its own.
type Decoder struct {
	Limits  Limits
	pending *Packet
}

// Text decodes the data of an Engine.IO message packet (after the "4").
// complete is false while a binary packet waits for its attachments.
func (d *Decoder) Text(data []byte) (p Packet, complete bool, err error) {
	if d.pending != nil {
		n := d.Waiting()
		d.pending = nil
		return p, false, parseErr("text message while %d binary attachments were expected", n)
	}
	p, err = DecodePacket(data, d.Limits)
	if err != nil {
		return p, false, err
	}
	if p.Type.IsBinary() {
		if err := checkPlaceholders(p.Data, p.Attachments); err != nil {
			return p, false, err
		}
		p.Data = bytes.Clone(p.Data)
		p.Buffers = make([][]byte, 0, p.Attachments)
		pending := p // a copy on the heap only for a binary packet
		d.pending = &pending
		return p, false, nil
	}
	return p, true, nil
}

// Binary adds a binary WebSocket message to the pending binary packet.
func (d *Decoder) Binary(msg []byte) (p Packet, complete bool, err error) {
	if d.pending == nil {
		return p, false, ErrUnexpectedBinary
	}
	d.pending.Buffers = append(d.pending.Buffers, msg)
	if len(d.pending.Buffers) < d.pending.Attachments {
		return p, false, nil
	}
	p = *d.pending
	d.pending = nil
	return p, true, nil
}

// Waiting reports how many attachments the pending packet still needs.
func (d *Decoder) Waiting() int {
	if d.pending == nil {
		return 0
	}
	return d.pending.Attachments - len(d.pending.Buffers)
}

// DecodeConnect parses the payload of the server's CONNECT reply:
// {"sid": …} and, with connection state recovery, "pid".
func DecodeConnect(data []byte) (sid, pid string, err error) {
	v, err := decodeAny(data, false)
	m, _ := v.(map[string]any)
	sid, _ = m["sid"].(string)
	pid, _ = m["pid"].(string)
	if err != nil || sid == "" {
		return "", "", parseErr("invalid CONNECT reply %.100s", data)
	}
	return sid, pid, nil
}

// DecodeConnectError parses a CONNECT_ERROR payload: {"message": …,
// "data": …}, or a bare string from older servers. A payload of another
// shape is the message itself.
func DecodeConnectError(data []byte) (message string, extra json.RawMessage) {
	v, err := decodeAny(data, true)
	switch t := v.(type) {
	case string:
		return t, nil
	case map[string]any:
		msg, ok := t["message"].(string)
		if !ok && t["message"] != nil {
			break
		}
		if d := t["data"]; d != nil {
			extra, _ = Marshal(d) // numbers are json.Numbers: written as they came
		}
		return msg, extra
	case nil:
		if err == nil {
			return "", nil
		}
	}
	return string(data), nil
}

// ConnectPayload is the data of a client's CONNECT: the auth object and,
// when the client has a session to recover (connection state recovery),
// its private id and the offset of the last event it received.
func ConnectPayload(auth any, pid, offset string) ([]byte, error) {
	if pid == "" {
		if auth == nil {
			return nil, nil
		}
		return Marshal(auth)
	}
	m := map[string]any{}
	if auth != nil {
		b, err := Marshal(auth)
		if err != nil {
			return nil, err
		}
		v, err := decodeAny(b, true)
		if t, ok := v.(map[string]any); ok {
			m = t
		} else if err != nil || v != nil {
			return nil, errors.New("tsunagi: auth must be a JSON object")
		}
	}
	m["pid"] = pid
	if offset != "" {
		m["offset"] = offset
	}
	return Marshal(m)
}
