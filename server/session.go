package server

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/server/engineio"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// The server's Engine.IO layer is package engineio. It answers every
// request in engine.io's order (error codes 0–5), serves the polling
// sessions and their upgrade to WebSocket, and hands a WebSocket that opens
// a session (transport=websocket, no sid: the wasm client and clients set
// to WebSocket) back to serveWebSocket, where the server's own WebSocket
// transport runs it with write coalescing and idle parking. A conn is the
// Socket.IO client on either: its ws, or an engineio.Session (eio).

// newEngineIO makes the Engine.IO server that ServeHTTP hands requests to.
func (s *Server) newEngineIO() *engineio.Server {
	o := s.opts
	cors := o.CORS
	if cors == nil && len(o.OriginPatterns) > 0 {
		patterns := o.OriginPatterns
		cors = &engineio.CORS{AllowOrigin: func(origin string, _ *http.Request) bool {
			return originMatches(patterns, origin)
		}}
	}
	eo := &engineio.Options{
		PingInterval:      o.PingInterval,
		PingTimeout:       o.PingTimeout,
		UpgradeTimeout:    o.UpgradeTimeout,
		PostTimeout:       o.PostTimeout,
		MaxHTTPBufferSize: o.MaxPayload,
		Transports:        o.Transports,
		AllowRequest:      o.AllowRequest,
		Cookie:            o.Cookie,
		CORS:              cors,
		ServeWebSocket:    s.serveWebSocket,
		OnRefuse: func(r *http.Request, code int, msg string) {
			s.stats.countHandshakeError(code)
			s.log.Info("tsunagi: request refused", "remote", r.RemoteAddr, "code", code, "message", msg,
				"method", r.Method, "uri", requestURI(r), "origin", r.Header.Get("Origin"))
		},
		OnError: func(r *http.Request, sid string, status int, desc string) {
			s.log.Info("tsunagi: polling request failed", "sid", sid, "remote", r.RemoteAddr, "status", status,
				"error", desc, "method", r.Method)
		},
	}
	if o.DisableUpgrades {
		eo.AllowUpgrades = engineio.Bool(false)
	}
	e := engineio.NewServer(eo)
	e.OnConnection(s.onSession)
	return e
}

// originMatches reports whether origin's host matches one of patterns, as
// websocket.AcceptOptions.OriginPatterns match (path.Match, case-insensitive).
func originMatches(patterns []string, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Host)
	for _, p := range patterns {
		if ok, err := path.Match(strings.ToLower(p), host); ok && err == nil {
			return true
		}
	}
	return false
}

// onSession serves a new Engine.IO session (polling, which may upgrade) as
// a Socket.IO connection. It runs before the session's open packet is sent.
func (s *Server) onSession(ss *engineio.Session) {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		ss.Close()
		return
	}
	c := &conn{
		srv:    s,
		eio:    ss,
		sid:    ss.ID(),
		header: packHeader(ss.Header()),
		uri:    ss.RequestURI(),
		remote: ss.RemoteAddr(),
		dec:    wire.Decoder{Limits: wire.Limits{MaxAttachments: s.opts.MaxAttachments}},
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1) // until sessionClosed's teardown
	s.mu.Unlock()
	s.stats.connsPolling.Add(1)
	ss.OnMessage(c.sessionMessage)
	ss.TakeUpgrades(c.acceptUpgrade)
	ss.OnClose(func(reason string) {
		if reason == engineio.ReasonPingTimeout || reason == engineio.ReasonParseError || reason == engineio.ReasonTransportError {
			c.log("tsunagi: session closed", "reason", reason, "transport", ss.Transport())
		}
		go c.sessionClosed(reason)
	})
	c.mu.Lock()
	c.armConnectTimeout()
	c.mu.Unlock()
}

// sessionMessage handles one message of the session: a Socket.IO packet,
// or a binary attachment. Bad input closes this session only. It runs on
// the goroutine of the POST (or of the WebSocket reader after an upgrade),
// which waits there while the dispatcher's queue is full.
func (c *conn) sessionMessage(data []byte, binary bool) {
	if err := c.handleSessionMessage(data, binary); err != nil {
		c.log("tsunagi: closing connection after bad input", "err", err)
		c.close(ReasonParseError, websocket.StatusPolicyViolation)
	}
}

func (c *conn) handleSessionMessage(data []byte, binary bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("tsunagi: panic handling a message", "sid", c.sid, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("tsunagi: panic handling a message: %v", r)
		}
	}()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil
	}
	c.srv.stats.messagesIn.Add(1)
	c.srv.stats.bytesIn.Add(uint64(len(data)))
	var p wire.Packet
	var complete bool
	if binary {
		p, complete, err = c.dec.Binary(data)
	} else {
		p, complete, err = c.dec.Text(data)
	}
	if err != nil || !complete {
		return err
	}
	return c.handlePacket(p)
}

// sessionReason maps an Engine.IO close reason to the Socket.IO one.
func sessionReason(reason string) string {
	switch reason {
	case engineio.ReasonServerClose:
		return ReasonShutdown
	case engineio.ReasonTransportClose, engineio.ReasonTransportError, engineio.ReasonPingTimeout,
		engineio.ReasonParseError, engineio.ReasonForcedClose:
		return reason
	}
	return ReasonTransportClose
}

// sessionClosed tears the connection down once its session has closed:
// when the client left or failed, or after close or abort ended it. A conn
// that took its session's WebSocket over tears itself down (serve).
func (c *conn) sessionClosed(reason string) {
	c.mu.Lock()
	if c.ownWS {
		c.mu.Unlock()
		return
	}
	if !c.closed {
		c.closed = true
		c.closeReason = sessionReason(reason)
	}
	c.ended = true
	c.wakeAll()
	c.mu.Unlock()
	c.teardown()
	s := c.srv
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// writeSession hands a batch to the session. A polling client that does
// not poll leaves its packets in the session: past MaxQueue of them it is
// a slow client.
func (c *conn) writeSession(batch []frame) error {
	if len(batch) == 0 {
		return nil
	}
	if n := c.eio.Buffered(); n+len(batch) > c.srv.opts.MaxQueue {
		c.log("tsunagi: disconnecting slow client: outgoing queue full", "queued", n)
		return errSlow
	}
	for i, f := range batch {
		var err error
		switch {
		case f.typ == websocket.MessageBinary:
			err = c.eio.Send(f.data, true)
		case len(f.data) > 0 && f.data[0] == byte(wire.EIOMessage):
			err = c.eio.Send(f.data[1:], false)
		default:
			continue // pings and pongs are the session's own
		}
		if errors.Is(err, engineio.ErrTakenOver) {
			// The upgrade is done and adopt is about to run the WebSocket:
			// what is left goes there, first.
			c.mu.Lock()
			c.queue = append(slices.Clone(batch[i:]), c.queue...)
			c.mu.Unlock()
			return err
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// acceptUpgrade accepts the WebSocket of the session's upgrade as
// serveWebSocket accepts one, so that once the upgrade is done the
// connection runs on the server's own transport (adopt): write coalescing,
// idle parking, the heartbeat of heartbeat.go.
func (c *conn) acceptUpgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, func([]engineio.Message), error) {
	ws, hj, deflate, err := c.srv.acceptWebSocket(w, r)
	if err != nil {
		return nil, nil, err
	}
	return ws, func(pending []engineio.Message) { c.adopt(ws, hj.conn, hj.br, deflate, pending) }, nil
}

// adopt runs the connection on the WebSocket its session upgraded to. The
// writer stops handing frames to the session first (Send fails once the
// session was taken over, and the writer puts back what it did not send),
// then the queue is what the session had not sent, then what the conn
// had: nothing is lost, doubled or reordered. A conn closed meanwhile
// drops the WebSocket: its session's close ends it.
func (c *conn) adopt(ws *websocket.Conn, bc *batchConn, br *bufio.Reader, deflate bool, pending []engineio.Message) {
	c.mu.Lock()
	for c.writing && !c.closed {
		c.waitFor(waitWriterGone)
	}
	if c.closed {
		c.mu.Unlock()
		ws.CloseNow()
		return
	}
	c.ws, c.bc, c.br, c.deflate = ws, bc, br, deflate
	c.ownWS = true
	c.srv.stats.upgrades.Add(1)
	c.park.Init(bc.Conn, c.serve)
	q := make([]frame, 0, len(pending)+len(c.queue))
	for _, m := range pending {
		if m.Binary {
			q = append(q, frame{typ: websocket.MessageBinary, data: m.Data})
		} else {
			q = append(q, frame{typ: websocket.MessageText, data: append([]byte{byte(wire.EIOMessage)}, m.Data...)})
		}
	}
	c.queue = append(q, c.queue...)
	c.armHeartbeat(c.srv.opts.PingInterval)
	if len(c.queue) > 0 {
		c.startWriter()
	}
	c.mu.Unlock()
	c.srv.idle.Add(&c.park)
	go c.serve() // its end tears the conn down and closes the session
}

// Transport returns the transport the socket's connection runs on now:
// "websocket", or "polling" (until an upgrade).
func (s *Socket) Transport() string {
	if s.conn.eio != nil {
		return s.conn.eio.Transport()
	}
	return engineio.WebSocket
}
