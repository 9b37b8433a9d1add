// Package wsframe writes the server's WebSocket data frames itself, for the
// server's fast path: a frame header (RFC 6455 §5.2, unmasked, final, no
// extension bits) in front of a payload, and a write to a socket that
// never blocks. coder/websocket's writer costs a mutex taken with a select,
// a bufio.Writer flushed per frame and a goroutine deep enough to grow its
// stack; for the small messages of a chat room that is most of the user
// CPU of a delivery (BENCHMARKS.md, "One at a time").
//
// The server falls back to coder/websocket's writer for what this does not
// cover (compressed messages, control frames, TLS, a socket without a file
// descriptor), and for everything when built with -tags
// tsunagi_coderwrite, the switch back to the plain version.
package wsframe

import "errors"

// Opcodes of the data frames.
const (
	OpText   = 0x1
	OpBinary = 0x2
)

// MaxHeader is the longest header AppendHeader writes.
const MaxHeader = 10

// AppendHeader appends the header of a final, unmasked, uncompressed data
// frame of n payload bytes with the opcode op to dst.
func AppendHeader(dst []byte, op byte, n int) []byte {
	b0 := 0x80 | op&0x0f
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		u := uint64(n)
		return append(dst, b0, 127,
			byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
			byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
}

// ErrUnsupported is what WriteNow returns where a socket cannot be
// written without blocking (no file descriptor, or not a Unix system).
var ErrUnsupported = errors.New("wsframe: no non-blocking write for this connection")
