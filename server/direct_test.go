package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/internal/wsframe"
	"github.com/tsunagi/tsunagi/shared"
)

// A flusher's write the socket does not take whole leaves its tail to the
// connection's writer, which sends it before what was queued meanwhile and before any
// frame coder/websocket writes itself (a pong): the client reads every
// message whole and in order.
func TestDirectWriteTail(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{MaxQueue: 4096}))
	sockets := make(chan *Socket, 1)
	srv.OnConnection(func(s *Socket) { sockets <- s })
	url := startPlain(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	ws := joinMain(t, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	ws.SetReadLimit(1 << 20)
	s := wait.Recv(t, "the socket", sockets)
	c := s.conn

	payload := strings.Repeat("y", 30<<10)
	sent := 0
	tail := func() bool { return c.bc.tails.Load() > 0 }
	settled := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.queue) == 0 && !c.flushQueued && !c.writing
	}
	wait.For(t, "the connection quiet: its reader parked, no writer", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.active && !c.writing && !c.dispatching
	})
	// The client reads nothing until a flusher's write left a tail; each
	// message is written on its own.
	for !tail() {
		if sent == 3000 {
			t.Fatal("3000 messages of 30 KB to a client that reads nothing, and no flusher's write was cut short")
		}
		if err := s.Emit("m", sent, payload); err != nil {
			t.Fatal(err)
		}
		sent++
		if !wait.Until(func() bool { return tail() || settled() }) {
			c.mu.Lock()
			t.Fatalf("message %d not written: queue %d, flushQueued %v, writing %v, active %v, wn %v", sent-1, len(c.queue), c.flushQueued, c.writing, c.active, c.bc.wn != nil)
		}
	}
	for range 20 { // queued behind the tail
		if err := s.Emit("m", sent, payload); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	read := make(chan error, 1)
	go func() {
		for i := range sent {
			_, b, err := ws.Read(ctx)
			if err != nil {
				read <- fmt.Errorf("message %d: %v", i, err)
				return
			}
			if want := fmt.Sprintf(`42["m",%d,"%s"]`, i, payload); !bytes.Equal(b, []byte(want)) {
				read <- fmt.Errorf("message %d: %d bytes %.40q…, want %d bytes", i, len(b), b, len(want))
				return
			}
		}
		_, _, err := ws.Read(ctx) // the pong is read here; then the test closes
		read <- err
	}()
	// A ping now is answered by coder/websocket with a pong, which must
	// not cut into the frames ahead of it.
	if err := ws.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	ws.CloseNow()
	if err := wait.Recv(t, "the client's reads", read); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Fatal(err)
	}
}

// The batchConn writes no frame of its own in the middle of one of
// coder/websocket's, nor any after a close frame.
func TestBatchConnFrameBoundaries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(peer)
			return
		}
		peer <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sc := wait.Recv(t, "the accepted conn", peer)
	if sc == nil {
		t.Fatal("accept failed")
	}
	bc := newBatchConn(sc, wait.Deadline())
	defer bc.Close()
	if bc.wn == nil {
		t.Fatal("no non-blocking writer on a TCP conn")
	}
	msg := []frame{{typ: websocket.MessageText, data: []byte("42[\"a\"]")}}
	// A pong of 20 bytes, written in two pieces as coder/websocket's
	// 16-byte buffer writes it.
	pong := wsframe.AppendHeader(nil, 0, 20)
	pong[0] = 0x8A
	pong = append(pong, bytes.Repeat([]byte("p"), 20)...)
	if _, err := bc.Write(pong[:16]); err != nil {
		t.Fatal(err)
	}
	if took, _, _ := bc.writeNow(msg); took {
		t.Fatal("writeNow wrote in the middle of a control frame")
	}
	bc.hold()
	if bc.appendFrame(wsframe.OpText, msg[0].data) {
		t.Fatal("appendFrame held a frame in the middle of a control frame")
	}
	bc.flush()
	if _, err := bc.Write(pong[16:]); err != nil {
		t.Fatal(err)
	}
	if took, _, err := bc.writeNow(msg); !took || err != nil {
		t.Fatalf("writeNow after a whole control frame: took %v, %v", took, err)
	}
	closeFrame := []byte{0x88, 2, 0x03, 0xe8}
	if _, err := bc.Write(closeFrame); err != nil {
		t.Fatal(err)
	}
	if took, _, _ := bc.writeNow(msg); took {
		t.Fatal("writeNow wrote after a close frame")
	}
	bc.hold()
	if bc.appendFrame(wsframe.OpText, msg[0].data) {
		t.Fatal("appendFrame held a frame after a close frame")
	}
	bc.flush()
	want := append(append(append(append([]byte(nil), pong...), 0x81, byte(len(msg[0].data))), msg[0].data...), closeFrame...)
	got := make([]byte, len(want))
	nc.SetReadDeadline(time.Now().Add(wait.Deadline()))
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("on the wire % x\nwant        % x", got, want)
	}
}

// The reply to a request, while the client waits for it, is written on
// the dispatcher's goroutine (sendNow): the connection's writer, idle
// while the reader is busy, is not woken for it. Replies stay in order and
// whole.
func TestAckWrittenByTheDispatcher(t *testing.T) {
	t.Parallel()
	srv := New(quietOptions(Options{}))
	srv.OnConnection(func(s *Socket) {
		s.On("echo", func(args shared.Args, ack shared.AckFunc) error {
			var v int
			args.Decode(0, &v)
			return ack(v)
		})
	})
	url := startPlain(t, srv)
	ws := joinMain(t, url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	before := srv.sentNow.Load()
	const n = 200
	for i := range n {
		msg := []byte("42" + strconv.Itoa(i) + `["echo",` + strconv.Itoa(i) + "]")
		if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
			t.Fatal(err)
		}
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := "43" + strconv.Itoa(i) + "[" + strconv.Itoa(i) + "]"; string(b) != want {
			t.Fatalf("got %q, want %q", b, want)
		}
	}
	// Not every one: a reply that finds the reader parked (a slow machine:
	// a second between messages) goes to a flusher.
	if got := srv.sentNow.Load() - before; got < n/2 {
		t.Errorf("%d of %d replies written by the dispatcher", got, n)
	}
}
