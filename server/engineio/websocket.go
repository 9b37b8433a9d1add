package engineio

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// writeTimeout bounds each WebSocket write.
const writeTimeout = 10 * time.Second

// probeTick is how often a held GET gets a noop while an upgrade is probed,
// so that the client's poll returns and it can pause polling.
const probeTick = 100 * time.Millisecond

// accept upgrades the request; the Origin was checked by ServeHTTP.
func (s *Server) accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	// One byte more for the packet type of a text message.
	c.SetReadLimit(s.opts.MaxHTTPBufferSize + 1)
	return c, nil
}

// handshakeWebSocket opens a session directly on WebSocket.
func (s *Server) handshakeWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := s.accept(w, r)
	if err != nil {
		return
	}
	ss := s.newSession(WebSocket, r)
	if ss == nil {
		_ = c.CloseNow()
		return
	}
	ss.runWebSocket(c)
}

// runWebSocket runs the session on c: this goroutine reads, a second one
// writes what is queued. It returns when both ended.
func (ss *Session) runWebSocket(c *websocket.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		_ = c.CloseNow()
		return
	}
	ss.cancelWS = cancel
	ss.mu.Unlock()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		ss.wsWriter(ctx, c)
	}()
	reason := ReasonTransportClose
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 {
				reason = ReasonTransportError
			}
			break
		}
		if typ == websocket.MessageBinary {
			if !ss.onPacket('4', data, true) {
				break
			}
			continue
		}
		if len(data) == 0 {
			ss.close(ReasonParseError, closeError)
			break
		}
		if !ss.onPacket(data[0], data[1:], false) {
			break
		}
	}
	ss.close(reason, closeError)
	cancel()
	<-writerDone
	_ = c.CloseNow()
}

// wsWriter writes the write buffer until the session closes; closed by the
// server, it flushes the buffer first and ends with a close frame.
func (ss *Session) wsWriter(ctx context.Context, c *websocket.Conn) {
	for {
		ss.mu.Lock()
		pkts := ss.wbuf
		ss.wbuf = nil
		closed, kind := ss.closed, ss.kind
		ch := ss.changed
		ss.mu.Unlock()
		for _, p := range pkts {
			if err := writeFrame(ctx, c, p); err != nil {
				ss.close(ReasonTransportError, closeError)
				return
			}
		}
		if closed {
			if kind == closeServer {
				_ = c.Close(websocket.StatusNormalClosure, "")
			}
			return
		}
		if len(pkts) > 0 {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

func writeFrame(ctx context.Context, c *websocket.Conn, p packet) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if p.binary {
		return c.Write(ctx, websocket.MessageBinary, p.data)
	}
	msg := make([]byte, 0, 1+len(p.data))
	msg = append(msg, p.typ)
	msg = append(msg, p.data...)
	return c.Write(ctx, websocket.MessageText, msg)
}

// serveUpgrade runs the upgrade of a polling session to the WebSocket of
// r: "2probe" answered "3probe", noops to a held GET every probeTick until
// the client sends "5", then the session moves to the WebSocket (a held
// GET gets "6") and its write buffer goes on there. A session that is not
// on polling, is upgrading or was upgraded gets its WebSocket closed. Past
// UpgradeTimeout, or on any other packet, the WebSocket is closed and the
// session stays on polling.
func (ss *Session) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	ss.mu.Lock()
	ok := !ss.closed && ss.transport == Polling && !ss.upgrading && !ss.upgraded && ss.srv.upgrades
	var why string
	switch {
	case ok:
		ss.upgrading = true
	case ss.upgrading:
		why = "upgrade refused: the session has already been trying to upgrade"
	case ss.upgraded || ss.transport != Polling:
		why = "upgrade refused: the session is already on websocket"
	case ss.closed:
		why = "upgrade refused: the session is closed"
	default:
		why = "upgrade refused: upgrades are disabled"
	}
	takeAccept := ss.takeAccept
	ss.mu.Unlock()
	var c *websocket.Conn
	var takeover func([]Message)
	var err error
	if takeAccept != nil && ok {
		c, takeover, err = takeAccept(w, r)
	} else {
		c, err = ss.srv.accept(w, r)
	}
	if err != nil || !ok {
		if c != nil {
			_ = c.CloseNow()
		}
		if why != "" {
			ss.fail(r, http.StatusSwitchingProtocols, why)
		}
		if ok {
			ss.mu.Lock()
			ss.upgrading = false
			ss.mu.Unlock()
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ss.srv.opts.UpgradeTimeout)
	defer cancel()
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		_ = c.CloseNow()
		return
	}
	ss.cancelWS = cancel
	ss.mu.Unlock()
	fail := func() {
		why := "upgrade failed: the probe ended or sent another packet"
		if ctx.Err() == context.DeadlineExceeded {
			why = "upgrade failed: no 2probe and 5 within UpgradeTimeout"
		}
		ss.fail(r, http.StatusSwitchingProtocols, why)
		ss.mu.Lock()
		ss.upgrading = false
		ss.probed = false
		ss.cancelWS = nil
		ss.mu.Unlock()
		_ = c.CloseNow()
	}

	typ, data, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageText || string(data) != "2probe" {
		fail()
		return
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("3probe")); err != nil {
		fail()
		return
	}
	// A held GET gets a noop, so that the client, which pauses polling
	// before it sends "5", gets its GET back: at once (engine.io waits for
	// its first 100 ms tick, which a measured upgrade spent most of its
	// time on), then every probeTick for a GET that comes later.
	noop := func() {
		ss.mu.Lock()
		ss.probed = true // a GET from now on gets a noop at once (pollGET)
		if !ss.closed && ss.getHeld && len(ss.wbuf) == 0 {
			ss.wbuf = append(ss.wbuf, packet{typ: '6'})
			ss.notifyLocked()
		}
		ss.mu.Unlock()
	}
	noop()
	tick := time.NewTicker(probeTick)
	tickDone := make(chan struct{})
	tickEnded := make(chan struct{})
	go func() {
		defer close(tickEnded)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				noop()
			case <-tickDone:
				return
			}
		}
	}()
	typ, data, err = c.Read(ctx)
	close(tickDone)
	<-tickEnded
	if err != nil || typ != websocket.MessageText || string(data) != "5" {
		fail()
		return
	}
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		_ = c.CloseNow()
		return
	}
	ss.transport = WebSocket
	ss.upgraded = true
	ss.upgrading = false
	ss.probed = false
	ss.discard = true
	ss.cancelWS = nil
	var pending []Message
	if takeover != nil {
		// The caller runs the transport from here: it gets what is
		// queued, and the heartbeat is its own.
		ss.takenOver = true
		for _, p := range ss.wbuf {
			if p.typ == '4' {
				pending = append(pending, Message{Data: p.data, Binary: p.binary})
			}
		}
		ss.wbuf = nil
		ss.pingTimer.Stop()
		if ss.pongTimer != nil {
			ss.pongTimer.Stop()
		}
	}
	ss.notifyLocked()
	ss.mu.Unlock()
	if takeover != nil {
		takeover(pending)
		return
	}
	ss.runWebSocket(c)
}

// UpgradeAccept accepts the WebSocket of an upgrade for TakeUpgrades.
type UpgradeAccept = func(w http.ResponseWriter, r *http.Request) (*websocket.Conn, func(pending []Message), error)

// Message is a message queued for a client and not yet sent.
type Message struct {
	Data   []byte
	Binary bool
}

// ErrTakenOver is returned by Send once the session's WebSocket was taken
// over (TakeUpgrades): its messages go there.
var ErrTakenOver = errors.New("engineio: the session's transport was taken over")

// TakeUpgrades makes accept take the WebSocket of this session's upgrade:
// accept accepts it (in place of websocket.Accept, with the origin already
// checked) and returns with it a takeover function. Once the upgrade is
// done ("5" received), takeover is called with the messages queued and not
// yet sent, and from then on the caller runs that WebSocket as the
// session's transport, heartbeat included: Send returns ErrTakenOver, and
// Close (which the caller calls when it ends) only ends the session. If
// the upgrade fails, the WebSocket is closed here and the session stays on
// polling. Set it in OnConnection. Package server uses it to run upgraded
// sessions on its own WebSocket transport.
func (ss *Session) TakeUpgrades(accept UpgradeAccept) {
	ss.mu.Lock()
	ss.takeAccept = accept
	ss.mu.Unlock()
}
