package server

import (
	"net"
	"syscall"
)

// initWait sets up waitReadable for a TCP socket.
func (b *batchConn) initWait() {
	sc, ok := b.Conn.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	b.raw = raw
	// Called by raw.Read first at once, then each time the poller reports
	// input: peek at the socket the first time (input may be there already),
	// and trust the poller after, to spend no more syscalls than a read.
	b.ready = func(fd uintptr) bool {
		if b.woken {
			return true
		}
		b.woken = true
		var one [1]byte
		for {
			_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			return true // input, end of stream or an error: the read tells which
		}
	}
}
