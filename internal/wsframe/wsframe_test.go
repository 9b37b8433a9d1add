//go:build unix

package wsframe

import (
	"bytes"
	"encoding/binary"
	"net"
	"syscall"
	"testing"
	"time"
)

// The header's three length forms, at their edges (RFC 6455 §5.2).
func TestAppendHeader(t *testing.T) {
	for _, tc := range []struct {
		op   byte
		n    int
		want []byte
	}{
		{OpText, 0, []byte{0x81, 0}},
		{OpText, 125, []byte{0x81, 125}},
		{OpBinary, 126, []byte{0x82, 126, 0, 126}},
		{OpText, 0xffff, []byte{0x81, 126, 0xff, 0xff}},
		{OpBinary, 0x10000, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		got := AppendHeader([]byte("x"), tc.op, tc.n)
		if !bytes.Equal(got[1:], tc.want) || got[0] != 'x' {
			t.Errorf("AppendHeader(%#x, %d) = % x, want x then % x", tc.op, tc.n, got, tc.want)
		}
		if len(got)-1 > MaxHeader {
			t.Errorf("header of %d bytes, MaxHeader is %d", len(got)-1, MaxHeader)
		}
	}
	long := AppendHeader(nil, OpText, 1<<33)
	if n := binary.BigEndian.Uint64(long[2:]); n != 1<<33 {
		t.Errorf("64-bit length %d", n)
	}
}

// WriteNow takes what the socket takes and returns at once when it is
// full, with the rest unwritten and no error; the bytes arrive in order.
func TestWriteNowNeverWaits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	client, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer server.Close()
	w, err := NewWriter(server)
	if err != nil {
		t.Fatal(err)
	}
	var sent bytes.Buffer
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KB
	short := false
	for i := 0; i < 1000 && !short; i++ { // the kernel's buffers hold some MB at most
		chunk[0] = byte(i)
		n, err := w.WriteNow(chunk)
		if err != nil {
			t.Fatal(err)
		}
		sent.Write(chunk[:n])
		short = n < len(chunk)
	}
	if !short {
		t.Fatal("64 MB written to a socket nobody reads, without a short write")
	}
	got := make([]byte, sent.Len())
	client.SetReadDeadline(time.Now().Add(time.Minute))
	for off := 0; off < len(got); {
		n, err := client.Read(got[off:])
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v", off, len(got), err)
		}
		off += n
	}
	if !bytes.Equal(got, sent.Bytes()) {
		t.Fatal("the bytes read differ from those WriteNow reported written")
	}
}

// A connection without a file descriptor has no Writer.
func TestNewWriterUnsupported(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := NewWriter(a); err != ErrUnsupported {
		t.Fatalf("NewWriter(net.Pipe) = %v, want ErrUnsupported", err)
	}
}
