package redisadapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// Packet is the Socket.IO packet of a broadcast as the classic adapter
// publishes it: always an EVENT (type 2), binary included, with its
// arguments as msgpack (bin for binary, no placeholders) and its namespace
// set. It carries no ack id: each server assigns its own.
type Packet struct {
	// Data is [event, ...args]; see EventData.
	Data Value
	// Nsp is the namespace ("/", "/admin"). Encoding writes "/" for "";
	// decoding gives "/" when the field is absent, as Node does.
	Nsp string
}

// Flags are socket.io's broadcast flags as they cross servers. A nil field
// is absent from the message; Node sends only the flags that were set.
// Unknown flags are ignored when decoding.
type Flags struct {
	Volatile *bool `msgpack:"volatile,omitempty" json:"volatile,omitempty"`
	Compress *bool `msgpack:"compress,omitempty" json:"compress,omitempty"`
	// Timeout is the ack timeout.
	Timeout *Milliseconds `msgpack:"timeout,omitempty" json:"timeout,omitempty"`
	// ExpectSingleResponse is set by RemoteSocket.emit with an ack.
	ExpectSingleResponse *bool `msgpack:"expectSingleResponse,omitempty" json:"expectSingleResponse,omitempty"`
}

// Milliseconds is a duration as JavaScript timers take it. It encodes as
// an integer; decoding also accepts a JavaScript number with a fraction (a
// float), truncated as Node's timers truncate it.
type Milliseconds int64

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Milliseconds) DecodeMsgpack(dec *msgpack.Decoder) error {
	c, err := dec.PeekCode()
	if err != nil {
		return err
	}
	if c == 0xca || c == 0xcb {
		f, err := dec.DecodeFloat64()
		if err != nil {
			return err
		}
		return m.setFloat(f)
	}
	n, err := dec.DecodeInt64()
	*m = Milliseconds(n)
	return err
}

// UnmarshalJSON implements json.Unmarshaler.
func (m *Milliseconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	return m.setFloat(f)
}

func (m *Milliseconds) setFloat(f float64) error {
	if math.IsNaN(f) || math.Abs(f) >= 1<<63 {
		return malformed("timeout %v ms is out of range", f)
	}
	*m = Milliseconds(f)
	return nil
}

// BroadcastOptions select the sockets of a broadcast or a remote socket
// operation. Decoding gives nil for an empty or null list; encoding always
// writes arrays (never null, which the streams adapter cannot read).
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	// Flags are sent with broadcasts only (BroadcastMessage and the
	// BROADCAST request), not with the other requests.
	Flags Flags
}

// BroadcastMessage is what the classic adapter publishes on a broadcast
// channel (Channels.BroadcastChannel): the msgpack array [uid, packet, opts].
type BroadcastMessage struct {
	// UID is the sending server's uid, "emitter" from
	// @socket.io/redis-emitter. A receiver ignores its own.
	UID    string
	Packet Packet
	Opts   BroadcastOptions
}

type wirePacket struct {
	Type *int    `msgpack:"type" json:"type"`
	Data Value   `msgpack:"data" json:"data"`
	Nsp  *string `msgpack:"nsp" json:"nsp"`
}

type wireOpts struct {
	Rooms  []string `msgpack:"rooms" json:"rooms"`
	Except []string `msgpack:"except" json:"except"`
	Flags  *Flags   `msgpack:"flags,omitempty" json:"flags,omitempty"`
}

type wireBroadcast struct {
	_msgpack struct{}    `msgpack:",as_array"`
	UID      *string     `msgpack:"uid"`
	Packet   *wirePacket `msgpack:"packet"`
	Opts     *wireOpts   `msgpack:"opts"`
}

const eventType = 2

func (p Packet) wire() (*wirePacket, error) {
	if err := checkEventData(p.Data); err != nil {
		return nil, err
	}
	t, nsp := eventType, p.Nsp
	if nsp == "" {
		nsp = "/"
	}
	return &wirePacket{Type: &t, Data: p.Data, Nsp: &nsp}, nil
}

func (w *wirePacket) packet() (Packet, error) {
	if w == nil {
		return Packet{}, malformed("packet is missing")
	}
	if w.Type == nil || *w.Type != eventType {
		if w.Type == nil {
			return Packet{}, malformed("packet type is missing")
		}
		return Packet{}, malformed("packet type %d, want 2 (EVENT; Node sends binary events as type 2 too)", *w.Type)
	}
	if err := checkEventData(w.Data); err != nil {
		return Packet{}, err
	}
	p := Packet{Data: w.Data, Nsp: "/"}
	if w.Nsp != nil {
		p.Nsp = *w.Nsp
	}
	return p, nil
}

// checkEventData checks that d is a msgpack array whose first element, the
// event name, is a string.
func checkEventData(d Value) error {
	if d == nil {
		return malformed("packet data is missing")
	}
	if err := checkMsgpack(d); err != nil {
		return err
	}
	it, _ := mpHeader(d)
	if it.kind != 'a' || it.n == 0 {
		return malformed("packet data is not [event, ...args]")
	}
	if ev, _ := mpHeader(d[it.hdr:]); ev.kind != 's' {
		return malformed("event name is not a string")
	}
	return nil
}

func (o BroadcastOptions) wire(withFlags bool) *wireOpts {
	w := &wireOpts{Rooms: o.Rooms, Except: o.Except}
	if w.Rooms == nil {
		w.Rooms = []string{}
	}
	if w.Except == nil {
		w.Except = []string{}
	}
	if withFlags {
		f := o.Flags
		w.Flags = &f
	}
	return w
}

func (w *wireOpts) opts() (BroadcastOptions, error) {
	if w == nil {
		return BroadcastOptions{}, malformed("opts are missing")
	}
	o := BroadcastOptions{Rooms: w.Rooms, Except: w.Except}
	if len(o.Rooms) == 0 {
		o.Rooms = nil
	}
	if len(o.Except) == 0 {
		o.Except = nil
	}
	if w.Flags != nil {
		o.Flags = *w.Flags
	}
	return o, nil
}

// Encode returns the message as notepack.io encodes it, byte for byte.
func (m BroadcastMessage) Encode() ([]byte, error) {
	p, err := m.Packet.wire()
	if err != nil {
		return nil, err
	}
	uid := m.UID
	return encodeMsgpack(&wireBroadcast{UID: &uid, Packet: p, Opts: m.Opts.wire(true)})
}

// DecodeBroadcastMessage decodes a message read from a broadcast channel.
// Every error wraps a description of what is wrong; nothing in b can make
// it panic.
func DecodeBroadcastMessage(b []byte) (BroadcastMessage, error) {
	if err := checkMsgpack(b); err != nil {
		return BroadcastMessage{}, err
	}
	if it, _ := mpHeader(b); it.kind != 'a' || it.n < 3 {
		return BroadcastMessage{}, malformed("a broadcast is an array [uid, packet, opts]")
	}
	var w wireBroadcast
	if err := decodeMsgpack(b, &w); err != nil {
		return BroadcastMessage{}, err
	}
	if w.UID == nil {
		return BroadcastMessage{}, malformed("broadcast uid is not a string")
	}
	p, err := w.Packet.packet()
	if err != nil {
		return BroadcastMessage{}, err
	}
	o, err := w.Opts.opts()
	if err != nil {
		return BroadcastMessage{}, err
	}
	return BroadcastMessage{UID: *w.UID, Packet: p, Opts: o}, nil
}

func encodeMsgpack(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := newEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("redisadapter: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeMsgpack decodes b, checked by checkMsgpack, into v.
func decodeMsgpack(b []byte, v any) error {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
