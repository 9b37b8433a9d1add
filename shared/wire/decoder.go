package wire

import (
	"bytes"
	"errors"
)

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
