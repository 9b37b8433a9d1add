//go:build js

package wasmclient

// The few reaches into the core that the io() facade needs: it hands the
// core packets already encoded by the page's JSON.stringify, with ack ids
// of its own, and changes a Manager's reconnection options at run time.
// They live here, beside the facade, so that the core files stay the
// core's.

import (
	"encoding/json"
	"time"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// sendRaw sends an EVENT whose payload (`["name",…]`, placeholders
// included) the page encoded, with its binary attachments, as Emit does:
// buffered while the socket is not connected but trying to be, dropped
// then when volatile. With ch not nil, the event asks for an ack, which
// arrives on ch (closed when it can no longer come); forget removes it.
func (s *Socket) sendRaw(data json.RawMessage, bufs [][]byte, volatile bool, ch chan shared.Args) (id int64, err error) {
	id = wire.NoID
	if ch != nil {
		s.mu.Lock()
		id = s.nextAck
		s.nextAck++
		s.acks[id] = &pendingAck{ch: ch}
		s.mu.Unlock()
	}
	p := &wire.Packet{Type: wire.EventPacket, Namespace: s.nsp, ID: id, Data: data, Buffers: bufs}
	if len(bufs) > 0 {
		p.Type = wire.BinaryEvent
	}
	if err = s.send("", p, volatile); err != nil && ch != nil {
		s.forget(id)
	}
	return id, err
}

// forget stops waiting for the ack of id.
func (s *Socket) forget(id int64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.mu.Unlock()
}

// setOptions replaces the Manager's options with o (defaults filled in);
// the next connection attempt, and the next reconnection loop, use them.
// Under js the program runs on one thread: the open loop, which reads
// m.opts without the lock, never runs at the same time.
func (m *Manager) setOptions(o *Options) {
	c := o.withDefaults()
	m.mu.Lock()
	c.OnError = m.opts.OnError
	m.opts = c
	m.mu.Unlock()
}

// engineID is the Engine.IO session id of the open connection, or "".
func (m *Manager) engineID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return ""
	}
	return m.eng.open.SID
}

// openAfterClose is Open for a socket that the page connects again right
// after disconnecting it: when that disconnect is closing the connection
// (its last socket left), Open would otherwise send CONNECT on the
// connection that is ending, and no new one would open. So it waits, on
// the facade's worker, for that end first (bounded by the write timeout).
func (s *Socket) openAfterClose() {
	m := s.m
	m.mu.Lock()
	e := m.eng
	m.mu.Unlock()
	if e != nil {
		e.mu.Lock()
		closing := e.reason != ""
		e.mu.Unlock()
		if closing {
			t := time.NewTimer(m.opts.WriteTimeout)
			select {
			case <-e.done:
			case <-t.C:
			}
			t.Stop()
		}
	}
	s.Open()
}

// hasSession reports whether the server gave the socket a private id to
// recover its session with (connection state recovery is on).
func (s *Socket) hasSession() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid != ""
}
