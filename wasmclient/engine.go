package wasmclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// engine is one Engine.IO connection: a WebSocket, its reader, the
// heartbeat watchdog and the dispatcher that runs handlers in order.
type engine struct {
	m    *Manager
	ws   *websocket.Conn
	open wire.OpenPacket
	dec  wire.Decoder

	ctx      *signal       // stopped when the connection ends
	wlock    chan struct{} // held while a packet and its attachments are written
	tasks    chan func()
	dropping atomic.Bool  // a task was dropped at the end: every later one is too
	lastRecv atomic.Int64 // monotonic nanoseconds since start, of the last message

	mu     sync.Mutex
	reason string
	done   chan struct{}
	start0 time.Time
}

func newEngine(m *Manager, ws *websocket.Conn) *engine {
	return &engine{
		m:      m,
		ws:     ws,
		ctx:    newSignal(0),
		wlock:  make(chan struct{}, 1),
		tasks:  make(chan func(), 64),
		done:   make(chan struct{}),
		start0: time.Now(),
	}
}

// handshake reads the open packet.
func (e *engine) handshake(ctx context.Context) error {
	typ, msg, err := e.ws.Read(ctx)
	if err != nil {
		return fmt.Errorf("tsunagi: reading open packet: %w", err)
	}
	if typ != websocket.MessageText {
		return errors.New("tsunagi: expected the open packet, got binary")
	}
	t, data, err := wire.DecodeEIO(msg)
	if err != nil {
		return err
	}
	if t != wire.EIOOpen {
		return fmt.Errorf("tsunagi: expected the open packet, got %s", t)
	}
	if e.open, err = wire.DecodeOpen(data); err != nil {
		return err
	}
	if e.open.MaxPayload > 0 {
		e.ws.SetReadLimit(e.open.MaxPayload)
	}
	return nil
}

// sendConnect asks to join s's namespace; the reply arrives in the reader.
func (e *engine) sendConnect(s *Socket) {
	if !s.askOnce(e) {
		return
	}
	data, err := s.connectPayload()
	if err != nil {
		s.refused(err)
		return
	}
	ctx := newSignal(e.m.opts.WriteTimeout)
	defer ctx.stop()
	if err := e.writePacket(ctx, &wire.Packet{Type: wire.Connect, Namespace: s.nsp, ID: wire.NoID, Data: data}); err != nil {
		e.m.report(fmt.Errorf("tsunagi: sending CONNECT: %w", err))
	}
}

// readPacket reads messages until a whole Socket.IO packet arrives,
// answering pings on the way. It returns nil for an Engine.IO packet that
// carries none.
func (e *engine) readPacket(ctx context.Context) (*wire.Packet, error) {
	for {
		typ, msg, err := e.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		e.lastRecv.Store(int64(time.Since(e.start0)))
		if typ == websocket.MessageBinary {
			p, complete, err := e.dec.Binary(msg)
			if err != nil {
				return nil, err
			}
			if complete {
				return &p, nil
			}
			continue
		}
		t, data, err := wire.DecodeEIO(msg)
		if err != nil {
			return nil, err
		}
		switch t {
		case wire.EIOPing:
			if err := e.write(ctx, websocket.MessageText, append([]byte{byte(wire.EIOPong)}, data...)); err != nil {
				return nil, err
			}
			e.m.pinged()
		case wire.EIOMessage:
			p, complete, err := e.dec.Text(data)
			if err != nil {
				return nil, err
			}
			if complete {
				return &p, nil
			}
		case wire.EIOClose:
			return nil, errServerClose
		case wire.EIONoop, wire.EIOPong:
		default:
			return nil, fmt.Errorf("tsunagi: unexpected Engine.IO %s packet", t)
		}
	}
}

var errServerClose = errors.New("tsunagi: server closed the connection")

// start runs the reader, the watchdog and the dispatcher.
func (e *engine) start() {
	e.lastRecv.Store(int64(time.Since(e.start0)))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.dispatchLoop() }()
	go func() { defer wg.Done(); e.watchdog() }()
	go func() {
		reason := e.readLoop()
		e.close(reason)
		close(e.tasks)
		e.ctx.stop()
		wg.Wait()
		e.mu.Lock()
		reason = e.reason
		e.mu.Unlock()
		e.m.engineClosed(e, reason)
		close(e.done)
	}()
}

// watchdog closes the connection with "ping timeout" when the server has
// sent nothing for pingInterval + pingTimeout. A browser tab in the
// background throttles timers: they fire late, never early, so the check
// is made against the clock when a timer fires. And a tab that was frozen
// may run the timer before the messages that arrived meanwhile: so an
// expiry is confirmed once more after a short grace, in which the reader
// catches up.
func (e *engine) watchdog() {
	limit := time.Duration(e.open.PingInterval+e.open.PingTimeout) * time.Millisecond
	grace := min(time.Second, limit/4)
	t := time.NewTimer(limit)
	defer t.Stop()
	suspect := false
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		idle := time.Since(e.start0) - time.Duration(e.lastRecv.Load())
		switch {
		case idle < limit:
			suspect = false
			t.Reset(limit - idle)
		case !suspect:
			suspect = true
			t.Reset(grace)
		default:
			e.close(ReasonPingTimeout)
			return
		}
	}
}

func (e *engine) readLoop() string {
	for {
		p, err := e.readPacket(e.ctx)
		if err != nil {
			e.mu.Lock()
			r := e.reason
			e.mu.Unlock()
			_, parse := asError[*wire.ParseError](err)
			_, closed := asError[websocket.CloseError](err) // websocket.CloseStatus(err) != -1
			switch {
			case r != "":
				return r
			case parse:
				e.m.report(err)
				return ReasonParseError
			case errors.Is(err, errServerClose), closed:
				return ReasonTransportClose
			default:
				return ReasonTransportError
			}
		}
		if p == nil {
			continue
		}
		s := e.m.socket(p.Namespace)
		if s == nil {
			continue
		}
		switch p.Type {
		case wire.Connect:
			sid, pid, err := wire.DecodeConnect(p.Data)
			if err != nil {
				e.m.report(err)
				return ReasonParseError
			}
			s.accepted(e, sid, pid)
		case wire.ConnectError:
			ce := &ConnectError{}
			ce.Message, ce.Data = wire.DecodeConnectError(p.Data)
			s.refused(ce)
		case wire.EventPacket, wire.BinaryEvent:
			name, args, err := shared.ParseEvent(p.Data, p.Buffers)
			if err != nil {
				e.m.report(err)
				return ReasonParseError
			}
			id := p.ID
			if !s.holdIfConnecting(name, args, id) {
				e.task(func() { s.received(e, name, args, id) })
			}
		case wire.Ack, wire.BinaryAck:
			args, err := shared.ParseArgs(p.Data, p.Buffers)
			if err != nil {
				e.m.report(err)
				return ReasonParseError
			}
			s.resolveAck(p.ID, args)
		case wire.Disconnect:
			e.task(s.serverDisconnect)
		default:
			e.m.report(fmt.Errorf("tsunagi: unexpected %s packet", p.Type))
		}
	}
}

// task queues fn for the dispatcher, in order. Once the connection has
// ended a task may be dropped, and then every later one is dropped too: a
// select with both cases ready picks either, and a later event run after an
// earlier one was dropped would advance the recovery offset past the event
// that was never handled.
func (e *engine) task(fn func()) {
	if e.dropping.Load() {
		return
	}
	select {
	case e.tasks <- fn:
	case <-e.ctx.Done():
		e.dropping.Store(true)
	}
}

func (e *engine) dispatchLoop() {
	for fn := range e.tasks {
		fn()
	}
}

// write sends one message, waiting for the write lock as long as ctx allows.
func (e *engine) write(ctx context.Context, typ websocket.MessageType, b []byte) error {
	select {
	case e.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.wlock }()
	return e.ws.Write(ctx, typ, b)
}

// writePacket sends a packet and its attachments, with nothing in between.
func (e *engine) writePacket(ctx context.Context, p *wire.Packet) error {
	select {
	case e.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.wlock }()
	if err := e.ws.Write(ctx, websocket.MessageText, p.Message()); err != nil {
		return err
	}
	for _, b := range p.Buffers {
		if err := e.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
			return err
		}
	}
	return nil
}

// close ends the engine once. It closes with status 1000 only: under js,
// coder/websocket's Close throws for codes other than 1000 and 3000–4999.
func (e *engine) close(reason string) {
	e.mu.Lock()
	if e.reason != "" {
		e.mu.Unlock()
		return
	}
	e.reason = reason
	e.mu.Unlock()
	go func() {
		if reason == ReasonClientDisconnect || reason == ReasonServerDisconnect {
			_ = e.ws.Close(websocket.StatusNormalClosure, "")
		} else {
			_ = e.ws.CloseNow()
		}
		e.ctx.stop()
	}()
}
