package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// The WebSocket frames of raw test clients, which send what a WebSocket
// library would not and end connections their own way. Exported for the
// external tests (package server_test) too.

// WriteClientFrame writes one masked frame; first is FIN, RSV and opcode.
func WriteClientFrame(w io.Writer, first byte, payload []byte) error {
	var b bytes.Buffer
	b.WriteByte(first)
	switch n := len(payload); {
	case n < 126:
		b.WriteByte(0x80 | byte(n))
	case n < 1<<16:
		b.Write([]byte{0x80 | 126, byte(n >> 8), byte(n)})
	default:
		b.WriteByte(0x80 | 127)
		for i := 7; i >= 0; i-- {
			b.WriteByte(byte(uint64(n) >> (8 * i)))
		}
	}
	mask := [4]byte{1, 2, 3, 4}
	b.Write(mask[:])
	for i, c := range payload {
		b.WriteByte(c ^ mask[i%4])
	}
	_, err := w.Write(b.Bytes())
	return err
}

// ReadServerFrame reads one unmasked frame from the server.
func ReadServerFrame(r *bufio.Reader) (first byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	if n >= 126 {
		ext := make([]byte, 2+6*int(n-126))
		if _, err := io.ReadFull(r, ext); err != nil {
			return 0, nil, err
		}
		n = 0
		for _, c := range ext {
			n = n<<8 | uint64(c)
		}
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(r, payload)
	return h[0], payload, err
}
