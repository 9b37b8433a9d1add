package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared/wire"
)

// dialer opens Socket.IO connections, spreading them over several loopback
// source addresses so that one (source, destination) pair never runs out of
// ephemeral ports.
type dialer struct {
	url     string
	clients []*http.Client
	nets    []*net.Dialer // the same dialers, for polling's HTTP connections
	next    atomic.Uint64
	timeout time.Duration
}

func newDialer(url string, sources []net.IP, timeout time.Duration) *dialer {
	d := &dialer{url: url, timeout: timeout}
	if len(sources) == 0 {
		sources = []net.IP{nil}
	}
	for _, ip := range sources {
		nd := &net.Dialer{Timeout: timeout, Control: bindNoPort}
		if ip != nil {
			nd.LocalAddr = &net.TCPAddr{IP: ip}
		}
		d.clients = append(d.clients, &http.Client{Transport: &upgrader{dialer: nd}})
		d.nets = append(d.nets, nd)
	}
	return d
}

// sioConn is a Socket.IO connection on either transport: client on
// WebSocket, pollClient on long-polling.
type sioConn interface {
	emit(id int64, event, args string) error
	next() (wire.Packet, error)
	close()
}

// client is one Socket.IO connection to the main namespace. Its methods are
// called from one goroutine, except close.
type client struct {
	ws     *websocket.Conn
	buf    []byte // last message read
	out    []byte // message being written
	pings  atomic.Int32
	closed atomic.Bool
}

var bg = context.Background() // no Done channel: coder/websocket then arms no timers per call

// dial connects and joins "/", returning once the server's CONNECT arrived.
func (d *dialer) dial(ctx context.Context) (sioConn, error) {
	return d.dialWS(ctx)
}

func (d *dialer) dialWS(ctx context.Context) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	hc := d.clients[d.next.Add(1)%uint64(len(d.clients))]
	ws, _, err := websocket.Dial(ctx, d.url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	c := &client{ws: ws, buf: make([]byte, 0, 128)}
	// The handshake reads run under ctx; a stuck server ends them by closing.
	stop := context.AfterFunc(ctx, func() { ws.CloseNow() })
	defer stop()
	if err := c.handshake(); err != nil {
		ws.CloseNow()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("socket.io handshake: %w", ctx.Err())
		}
		return nil, err
	}
	return c, nil
}

func (c *client) handshake() error {
	msg, err := c.read()
	if err != nil {
		return err
	}
	t, data, err := wire.DecodeEIO(msg)
	if err != nil {
		return err
	}
	if t != wire.EIOOpen {
		return fmt.Errorf("expected the open packet, got %q", msg)
	}
	if _, err := wire.DecodeOpen(data); err != nil {
		return err
	}
	if err := c.write([]byte("40")); err != nil {
		return err
	}
	for {
		msg, err := c.read()
		if err != nil {
			return err
		}
		t, data, err := wire.DecodeEIO(msg)
		if err != nil {
			return err
		}
		switch t {
		case wire.EIOPing:
			if err := c.pong(); err != nil {
				return err
			}
			continue
		case wire.EIOMessage:
		default:
			continue
		}
		p, err := wire.DecodePacket(data, wire.Limits{})
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

// read returns the next data message; the slice is valid until the next read.
func (c *client) read() ([]byte, error) {
	_, r, err := c.ws.Reader(bg)
	if err != nil {
		return nil, err
	}
	b := c.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			c.buf = b
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (c *client) write(msg []byte) error {
	return c.ws.Write(bg, websocket.MessageText, msg)
}

var pongMsg = []byte{byte(wire.EIOPong)}

func (c *client) pong() error {
	c.pings.Add(1)
	return c.write(pongMsg)
}

// emit writes `42<id>["<event>",<args>]`; args is the JSON after the name.
func (c *client) emit(id int64, event, args string) error {
	c.out = appendEmit(c.out[:0], id, event, args)
	return c.write(c.out)
}

// appendEmit appends `42<id>["<event>",<args>]` (no id when negative).
func appendEmit(b []byte, id int64, event, args string) []byte {
	b = append(b, byte(wire.EIOMessage), '0'+byte(wire.EventPacket))
	if id >= 0 {
		b = appendInt(b, id)
	}
	b = append(b, `["`...)
	b = append(b, event...)
	b = append(b, '"')
	if args != "" {
		b = append(b, ',')
		b = append(b, args...)
	}
	return append(b, ']')
}

// next reads until a Socket.IO packet arrives, answering pings on the way.
func (c *client) next() (wire.Packet, error) {
	for {
		msg, err := c.read()
		if err != nil {
			return wire.Packet{}, err
		}
		t, data, err := wire.DecodeEIO(msg)
		if err != nil {
			return wire.Packet{}, err
		}
		switch t {
		case wire.EIOPing:
			if err := c.pong(); err != nil {
				return wire.Packet{}, err
			}
			continue
		case wire.EIOClose:
			return wire.Packet{}, errors.New("server closed the session")
		case wire.EIOMessage:
			return wire.DecodePacket(data, wire.Limits{})
		}
	}
}

func (c *client) close() {
	if c.closed.CompareAndSwap(false, true) {
		c.ws.CloseNow()
	}
}

func appendInt(b []byte, v int64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// parseInts reads the integers of a flat JSON array such as
// `["bcast",12,345]`, skipping the event name, into dst.
func parseInts(data []byte, dst []int64) int {
	n, i := 0, 0
	for i < len(data) && n < len(dst) {
		c := data[i]
		switch {
		case c == '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			i++
		case c >= '0' && c <= '9':
			var v int64
			for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
				v = v*10 + int64(data[i]-'0')
			}
			dst[n] = v
			n++
		default:
			i++
		}
	}
	return n
}
