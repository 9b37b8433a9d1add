//go:build unix

package wsframe

import (
	"errors"
	"net"
	"syscall"
)

// Writer writes to a socket's file descriptor without ever waiting for it.
type Writer struct {
	rc syscall.RawConn
}

// NewWriter returns a Writer on c's file descriptor, or ErrUnsupported
// when c has none (a TLS connection, a pipe in a test).
func NewWriter(c net.Conn) (*Writer, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, ErrUnsupported
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, ErrUnsupported
	}
	return &Writer{rc: rc}, nil
}

// WriteNow writes as much of p as the socket takes at once and reports
// how much that was: less than len(p), with a nil error, when the socket's
// send buffer is full. It never waits for the socket. Go's poller is
// bypassed for this write only; the connection's deadlines and its other
// writes are unchanged.
func (w *Writer) WriteNow(p []byte) (int, error) {
	var n int
	var werr error
	err := w.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			k, err := syscall.Write(int(fd), p[n:])
			if k > 0 {
				n += k
			}
			switch {
			case err == nil:
				continue
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
			default:
				werr = err
			}
			break
		}
		return true // done, whatever happened: never wait in the poller
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
