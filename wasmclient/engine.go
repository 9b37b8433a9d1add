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

// engine is one Engine.IO connection: its transport (a WebSocket, or HTTP
// long-polling until an upgrade), its reader, the heartbeat watchdog and
// the dispatcher that runs handlers in order.
//
// Goroutines: the reader (readLoop) owns rws, rpoll and pending; the
// dispatcher runs tasks; the watchdog checks the heartbeat; while polling,
// the poller's GET and POST loops, and the upgrader while it probes. Lock
// order: wlock, then mu; no network I/O under mu.
type engine struct {
	m    *Manager
	open wire.OpenPacket
	dec  wire.Decoder

	// The reader's: what it reads from.
	rws     wsConn
	rpoll   *poller
	pending [][]byte // records of a polling payload not read yet

	polled *poller // the polling transport the engine opened with, if any; set once

	// Guarded by mu; changed by the upgrade under wlock too.
	ws    wsConn  // the WebSocket transport, nil while polling
	poll  *poller // the polling transport, nil on WebSocket
	probe wsConn  // the WebSocket being probed for the upgrade
	next  wsConn  // the upgraded WebSocket the reader moves to

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

// wsConn is a WebSocket connection: coder/websocket's *websocket.Conn
// natively; under js, by default, a thinner one on the browser's WebSocket
// (websocket_js.go; the build tag tsunagi_coderws switches back to
// coder/websocket's).
type wsConn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
	SetReadLimit(n int64)
}

func newEngine(m *Manager) *engine {
	return &engine{
		m:      m,
		ctx:    newSignal(0),
		wlock:  make(chan struct{}, 1),
		tasks:  make(chan func(), 64),
		done:   make(chan struct{}),
		start0: time.Now(),
	}
}

// handshake reads the open packet.
func (e *engine) handshake(ctx context.Context) error {
	typ, msg, err := e.rws.Read(ctx)
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
		e.rws.SetReadLimit(e.open.MaxPayload)
	}
	return nil
}

// transport is the name of the transport the engine writes on.
func (e *engine) transport() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.poll != nil {
		return TransportPolling
	}
	return TransportWebSocket
}

// next returns the next Engine.IO message: from the WebSocket, or a
// record of a polling payload; after the last payload of a paused poller,
// the reader moves to the upgraded WebSocket.
func (e *engine) nextMessage(ctx context.Context) (binary bool, msg []byte, err error) {
	for {
		if e.rpoll == nil {
			typ, msg, err := e.rws.Read(ctx)
			return typ == websocket.MessageBinary, msg, err
		}
		if len(e.pending) > 0 {
			rec := e.pending[0]
			e.pending = e.pending[1:]
			f, err := decodeRecord(rec)
			return f.binary, f.data, err
		}
		select {
		case r := <-e.rpoll.in:
			if r.err == errPaused {
				e.mu.Lock()
				e.rws = e.next
				e.mu.Unlock()
				e.rpoll = nil
				if e.rws == nil {
					return false, nil, errPollClosed
				}
				if e.open.MaxPayload > 0 {
					e.rws.SetReadLimit(e.open.MaxPayload)
				}
				continue
			}
			if r.err != nil {
				return false, nil, r.err
			}
			e.pending = splitPayload(r.body)
		case <-ctx.Done():
			return false, nil, ctx.Err()
		}
	}
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
		binary, msg, err := e.nextMessage(ctx)
		if err != nil {
			return nil, err
		}
		e.lastRecv.Store(int64(time.Since(e.start0)))
		if binary {
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
			return nil, &wire.ParseError{Reason: err.Error()}
		}
		switch t {
		case wire.EIOPing:
			if err := e.write(ctx, frame{data: append([]byte{byte(wire.EIOPong)}, data...)}); err != nil {
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
	if e.rpoll != nil {
		e.rpoll.start()
		if e.m.mayUpgrade(e.open.Upgrades) {
			go e.upgrade()
		}
	}
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

// lock takes the write lock, waiting as long as ctx allows, and returns
// the transport to write on.
func (e *engine) lock(ctx context.Context) (wsConn, *poller, error) {
	select {
	case e.wlock <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	e.mu.Lock()
	ws, poll := e.ws, e.poll
	e.mu.Unlock()
	return ws, poll, nil
}

func (e *engine) unlock() { <-e.wlock }

// write sends one Engine.IO packet.
func (e *engine) write(ctx context.Context, f frame) error {
	ws, poll, err := e.lock(ctx)
	if err != nil {
		return err
	}
	defer e.unlock()
	if poll != nil {
		return poll.enqueue(ctx, f)
	}
	return writeFrame(ctx, ws, f)
}

func writeFrame(ctx context.Context, ws wsConn, f frame) error {
	if f.binary {
		return ws.Write(ctx, websocket.MessageBinary, f.data)
	}
	return ws.Write(ctx, websocket.MessageText, f.data)
}

// writePacket sends a packet and its attachments, with nothing in between.
func (e *engine) writePacket(ctx context.Context, p *wire.Packet) error {
	ws, poll, err := e.lock(ctx)
	if err != nil {
		return err
	}
	defer e.unlock()
	if poll != nil {
		fs := make([]frame, 1, 1+len(p.Buffers))
		fs[0] = frame{data: p.Message()}
		for _, b := range p.Buffers {
			fs = append(fs, frame{binary: true, data: b})
		}
		return poll.enqueue(ctx, fs...)
	}
	if err := ws.Write(ctx, websocket.MessageText, p.Message()); err != nil {
		return err
	}
	for _, b := range p.Buffers {
		if err := ws.Write(ctx, websocket.MessageBinary, b); err != nil {
			return err
		}
	}
	return nil
}

// close ends the engine once. A deliberate close is said to the server:
// over polling a close packet is posted after what is queued; a WebSocket
// closes with status 1000 (under js, coder/websocket's Close throws for
// codes other than 1000 and 3000–4999).
func (e *engine) close(reason string) {
	e.mu.Lock()
	if e.reason != "" {
		e.mu.Unlock()
		return
	}
	e.reason = reason
	ws, poll, probe := e.ws, e.poll, e.probe
	e.mu.Unlock()
	graceful := reason == ReasonClientDisconnect || reason == ReasonServerDisconnect
	go func() {
		if probe != nil && probe != ws {
			_ = probe.CloseNow()
		}
		if poll != nil {
			if graceful {
				ctx := newSignal(e.m.opts.WriteTimeout)
				if poll.enqueue(ctx, frame{data: []byte{byte(wire.EIOClose)}}) == nil {
					_ = poll.flush(ctx)
				}
				ctx.stop()
			}
			poll.stop()
		}
		if e.polled != nil && e.polled != poll {
			e.polled.stop() // upgraded: its GET loop may still be handing over
		}
		if ws != nil {
			if graceful {
				_ = ws.Close(websocket.StatusNormalClosure, "")
			} else {
				_ = ws.CloseNow()
			}
		}
		e.ctx.stop()
	}()
}
