package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared/wire"
)

// Engine.IO v4 long-polling, as socket.io-client's default transport does
// it: a handshake GET, then a GET held until the server has something to
// send and at most one POST in flight, each carrying packets joined by
// "\x1e". One session uses two persistent HTTP/1.1 connections, one for
// its GETs and one for its POSTs, with requests written by hand and
// responses read by net/http's parser: no http.Transport, whose pool and
// two goroutines per connection would cost the generator more than the
// server under test spends.

const recordSep = 0x1e

// reuseIdle: Node closes a keep-alive connection idle for 5 s
// (keepAliveTimeout), so one idle longer than this is not reused.
const reuseIdle = 4 * time.Second

var errClosed = errors.New("session closed")

// hconn is one HTTP/1.1 connection, redialed when needed. One goroutine
// at a time calls do; close may be called from any.
type hconn struct {
	nd   *net.Dialer
	addr string
	once bool // close after each response (idle sessions keep one descriptor: the held GET)

	mu   sync.Mutex
	c    net.Conn
	used time.Time
	dead bool

	br   *bufio.Reader
	wb   []byte
	body []byte
}

func (h *hconn) conn(ctx context.Context) (net.Conn, error) {
	h.mu.Lock()
	c, dead := h.c, h.dead
	if c != nil && time.Since(h.used) > reuseIdle {
		c.Close()
		h.c, c = nil, nil
	}
	h.mu.Unlock()
	if dead {
		return nil, errClosed
	}
	if c != nil {
		return c, nil
	}
	c, err := h.nd.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.dead {
		h.mu.Unlock()
		c.Close()
		return nil, errClosed
	}
	h.c = c
	h.mu.Unlock()
	if h.br == nil {
		h.br = bufio.NewReaderSize(c, 4096)
	} else {
		h.br.Reset(c)
	}
	return c, nil
}

func (h *hconn) drop(c net.Conn) {
	h.mu.Lock()
	if h.c == c {
		h.c = nil
	}
	h.mu.Unlock()
	c.Close()
}

func (h *hconn) close() {
	h.mu.Lock()
	h.dead = true
	if h.c != nil {
		h.c.Close()
		h.c = nil
	}
	h.mu.Unlock()
}

// do sends one request and returns the response's status and body; the
// body is valid until the next call.
func (h *hconn) do(ctx context.Context, method, uri string, body []byte) (int, []byte, error) {
	c, err := h.conn(ctx)
	if err != nil {
		return 0, nil, err
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	b := append(h.wb[:0], method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, h.addr...)
	b = append(b, "\r\n"...)
	if method == http.MethodPost {
		b = append(b, "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	if h.once {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	h.wb = b
	if _, err := c.Write(b); err != nil {
		h.drop(c)
		return 0, nil, err
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		h.drop(c)
		return 0, nil, err
	}
	h.body, err = readAll(resp.Body, h.body[:0])
	resp.Body.Close()
	if err != nil {
		h.drop(c)
		return 0, nil, err
	}
	if resp.Close || h.once {
		h.drop(c)
	} else {
		h.mu.Lock()
		h.used = time.Now()
		h.mu.Unlock()
	}
	return resp.StatusCode, h.body, nil
}

func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// pollDialer opens polling sessions over the WebSocket dialer's source
// addresses.
type pollDialer struct {
	d    *dialer
	addr string
	once bool // POST connections closed after each use
	next atomic.Uint64
}

// pollClient is one Engine.IO session on polling, joined to "/". next and
// emit are called from one goroutine; a writer goroutine sends what emit
// queued, everything queued in one POST.
type pollClient struct {
	sid             string
	get, post       hconn
	getURI, postURI string

	rest []byte // records of the last GET not yet read
	out  []byte // packet being built by emit

	mu      sync.Mutex
	pending []byte // records waiting for a POST, joined by "\x1e"
	sending []byte
	kick    chan struct{}
	done    chan struct{}
	err     error // why the writer stopped, under mu

	pings  atomic.Int32
	closed atomic.Bool
}

const pollPath = "/socket.io/?EIO=4&transport=polling"

// dial makes the handshake, joins "/" (CONNECT in a POST, its answer in a
// GET), and returns once the server's CONNECT arrived.
func (pd *pollDialer) dial(ctx context.Context) (sioConn, error) {
	return pd.dialPoll(ctx)
}

func (pd *pollDialer) dialPoll(ctx context.Context) (*pollClient, error) {
	ctx, cancel := context.WithTimeout(ctx, pd.d.timeout)
	defer cancel()
	nd := pd.d.nets[pd.next.Add(1)%uint64(len(pd.d.nets))]
	c := &pollClient{
		get:  hconn{nd: nd, addr: pd.addr},
		post: hconn{nd: nd, addr: pd.addr, once: pd.once},
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	stop := context.AfterFunc(ctx, c.close)
	err := c.handshake(ctx)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		c.close()
		if ctx.Err() != nil {
			err = fmt.Errorf("polling handshake: %w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	return c, nil
}

func (c *pollClient) handshake(ctx context.Context) error {
	st, body, err := c.get.do(ctx, http.MethodGet, pollPath, nil)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("handshake GET: HTTP %d: %.200s", st, body)
	}
	first, rest, _ := bytes.Cut(body, []byte{recordSep})
	t, data, err := wire.DecodeEIO(first)
	if err != nil {
		return err
	}
	if t != wire.EIOOpen {
		return fmt.Errorf("expected the open packet, got %.100q", body)
	}
	open, err := wire.DecodeOpen(data)
	if err != nil {
		return err
	}
	c.sid = open.SID
	c.getURI = pollPath + "&sid=" + url.QueryEscape(open.SID)
	c.postURI = c.getURI
	c.rest = append(c.rest[:0], rest...)
	go c.writer()
	c.send([]byte("40"))
	for {
		p, err := c.next()
		if err != nil {
			return err
		}
		switch p.Type {
		case wire.Connect:
			return nil
		case wire.ConnectError:
			return fmt.Errorf("connect_error: %s", p.Data)
		}
	}
}

// writer sends what is queued, one POST at a time.
func (c *pollClient) writer() {
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		c.mu.Lock()
		c.pending, c.sending = c.sending[:0], c.pending
		c.mu.Unlock()
		if len(c.sending) == 0 {
			continue
		}
		st, body, err := c.post.do(bg, http.MethodPost, c.postURI, c.sending)
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("POST: HTTP %d: %.200s", st, body)
		}
		if err != nil {
			c.mu.Lock()
			if c.err == nil {
				c.err = err
			}
			c.mu.Unlock()
			c.close()
			return
		}
	}
}

// send queues one record for the writer.
func (c *pollClient) send(rec []byte) {
	c.mu.Lock()
	if len(c.pending) > 0 {
		c.pending = append(c.pending, recordSep)
	}
	c.pending = append(c.pending, rec...)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *pollClient) emit(id int64, event, args string) error {
	if c.closed.Load() {
		return c.why(errClosed)
	}
	c.out = appendEmit(c.out[:0], id, event, args)
	c.send(c.out)
	return nil
}

// next returns the next Socket.IO packet, polling when the last GET's
// records are used up and answering pings on the way. The packet is valid
// until the next call.
func (c *pollClient) next() (wire.Packet, error) {
	for {
		if len(c.rest) == 0 {
			st, body, err := c.get.do(bg, http.MethodGet, c.getURI, nil)
			if err != nil {
				return wire.Packet{}, c.why(err)
			}
			if st != http.StatusOK {
				return wire.Packet{}, fmt.Errorf("GET: HTTP %d: %.200s", st, body)
			}
			c.rest = body
			continue
		}
		var rec []byte
		rec, c.rest, _ = bytes.Cut(c.rest, []byte{recordSep})
		t, data, err := wire.DecodeEIO(rec)
		if err != nil {
			return wire.Packet{}, err
		}
		switch t {
		case wire.EIOPing:
			c.pings.Add(1)
			c.send(pongMsg)
		case wire.EIOClose:
			return wire.Packet{}, errors.New("server closed the session")
		case wire.EIOMessage:
			return wire.DecodePacket(data, wire.Limits{})
		}
	}
}

// why prefers the writer's error, which closed the session, to the one it
// caused.
func (c *pollClient) why(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return err
}

func (c *pollClient) close() {
	if c.closed.CompareAndSwap(false, true) {
		close(c.done)
		c.get.close()
		c.post.close()
	}
}

// upgradeOne opens a polling session, joins "/", then upgrades it as
// socket.io-client does: a WebSocket with the sid, "2probe" answered
// "3probe", the held GET let come back (the server answers it with a
// noop), "5". It returns the time from the handshake GET to "5" written,
// and to the first ack over the WebSocket after it.
func (r *run) upgradeOne(ctx context.Context) (upgraded, firstAck time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.dialTimeout)
	defer cancel()
	t0 := time.Now()
	c, err := r.pd.dialPoll(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	stop := context.AfterFunc(ctx, c.close)
	defer stop()

	// The GET a client holds while it probes.
	polled := make(chan error, 1)
	go func() {
		st, body, err := c.get.do(bg, http.MethodGet, c.getURI, nil)
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("GET while probing: HTTP %d: %.200s", st, body)
		}
		polled <- err
	}()

	hc := r.d.clients[r.d.next.Add(1)%uint64(len(r.d.clients))]
	ws, _, err := websocket.Dial(ctx, "ws://"+r.cfg.addr+"/socket.io/?EIO=4&transport=websocket&sid="+url.QueryEscape(c.sid),
		&websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return 0, 0, fmt.Errorf("probe: %w", err)
	}
	wc := &client{ws: ws, buf: make([]byte, 0, 128)}
	defer wc.close()
	stopWS := context.AfterFunc(ctx, wc.close)
	defer stopWS()
	if err := wc.write([]byte("2probe")); err != nil {
		return 0, 0, fmt.Errorf("probe: %w", err)
	}
	msg, err := wc.read()
	if err != nil {
		return 0, 0, fmt.Errorf("probe: %w", err)
	}
	if string(msg) != "3probe" {
		return 0, 0, fmt.Errorf("probe: got %.100q, want 3probe", msg)
	}
	if err := <-polled; err != nil {
		return 0, 0, err
	}
	if err := wc.write([]byte("5")); err != nil {
		return 0, 0, fmt.Errorf("upgrade: %w", err)
	}
	upgraded = time.Since(t0)
	if err := wc.emit(1, "echo", echoArgs); err != nil {
		return 0, 0, fmt.Errorf("after the upgrade: %w", err)
	}
	for {
		p, err := wc.next()
		if err != nil {
			return 0, 0, fmt.Errorf("after the upgrade: %w", err)
		}
		if p.Type == wire.Ack && p.ID == 1 {
			return upgraded, time.Since(t0), nil
		}
	}
}
