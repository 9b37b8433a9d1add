package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
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

// NewEventPacket encodes an EVENT (BINARY_EVENT when args hold []byte) of
// namespace nsp, with ack id id or NoID.
func NewEventPacket(nsp, event string, args []any, id int64) (*Packet, error) {
	var enc jsoncodec.Encoder
	if err := enc.AppendArgs(event, args); err != nil {
		return nil, err
	}
	p := &Packet{Type: EventPacket, Namespace: nsp, ID: id, Data: enc.Buf, Buffers: enc.Buffers}
	if len(enc.Buffers) > 0 {
		p.Type = BinaryEvent
	}
	return p, nil
}

// NewAckPacket encodes the ACK (BINARY_ACK when args hold []byte) of id.
func NewAckPacket(nsp string, id int64, args []any) (*Packet, error) {
	var enc jsoncodec.Encoder
	if err := enc.AppendArgs("", args); err != nil {
		return nil, err
	}
	p := &Packet{Type: Ack, Namespace: nsp, ID: id, Data: enc.Buf, Buffers: enc.Buffers}
	if len(enc.Buffers) > 0 {
		p.Type = BinaryAck
	}
	return p, nil
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
	if p.Data != nil && !jsoncodec.Valid(p.Data) {
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
	name, ok := jsoncodec.String(raw)
	if !ok {
		return "", parseErr("event name is not a valid JSON string")
	}
	return name, nil
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
