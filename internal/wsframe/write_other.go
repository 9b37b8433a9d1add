//go:build !unix

package wsframe

import "net"

// Writer writes to a socket without ever waiting for it; on this system
// there is none (NewWriter fails).
type Writer struct{}

// NewWriter returns ErrUnsupported: this system has no non-blocking write
// the server uses.
func NewWriter(net.Conn) (*Writer, error) { return nil, ErrUnsupported }

// WriteNow is never called: NewWriter fails.
func (*Writer) WriteNow(p []byte) (int, error) { return 0, ErrUnsupported }
