//go:build !js

package wasmclient_test

import (
	"net"
	"sync"
	"testing"
)

// heldPort keeps one loopback port for the whole test, so that a server (or
// a proxy) can go down and come back on the same address without letting go
// of it: closing a listener and listening again on its port races every
// other process on the machine for that port. While nothing is open on it,
// each connection is accepted and hung up at once, which a client sees as a
// failed attempt, as it would a refused one.
type heldPort struct {
	ln   net.Listener
	mu   sync.Mutex
	cur  *gate // where connections go now; nil while down
	done chan struct{}
}

func holdPort(t *testing.T) *heldPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &heldPort{ln: ln, done: make(chan struct{})}
	go h.run()
	t.Cleanup(func() {
		ln.Close()
		<-h.done
	})
	return h
}

func (h *heldPort) addr() string { return h.ln.Addr().String() }

func (h *heldPort) run() {
	defer close(h.done)
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		g := h.cur
		h.mu.Unlock()
		if g == nil || !g.deliver(c) {
			c.Close()
		}
	}
}

// open returns a listener that gets the port's connections until it is
// closed (as http.Server.Close does), when the port is down again.
func (h *heldPort) open() net.Listener {
	g := &gate{h: h, conns: make(chan net.Conn), closed: make(chan struct{})}
	h.mu.Lock()
	h.cur = g
	h.mu.Unlock()
	return g
}

// gate is the net.Listener that open returns.
type gate struct {
	h      *heldPort
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (g *gate) deliver(c net.Conn) bool {
	select {
	case g.conns <- c:
		return true
	case <-g.closed:
		return false
	}
}

func (g *gate) Accept() (net.Conn, error) {
	select {
	case c := <-g.conns:
		return c, nil
	case <-g.closed:
		return nil, net.ErrClosed
	}
}

func (g *gate) Close() error {
	g.once.Do(func() {
		g.h.mu.Lock()
		if g.h.cur == g {
			g.h.cur = nil
		}
		g.h.mu.Unlock()
		close(g.closed)
	})
	return nil
}

func (g *gate) Addr() net.Addr { return g.h.ln.Addr() }
