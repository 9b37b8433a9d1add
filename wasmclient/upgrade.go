package wasmclient

import (
	"bytes"
	"errors"
	"net/url"

	"github.com/coder/websocket"
)

// upgrade moves a polling engine to WebSocket, as engine.io-client does:
// it opens a WebSocket with the session's sid and sends "2probe"; on
// "3probe" it pauses polling (the GET and POST in flight finish, no new
// one starts, writes queue meanwhile), sends "5" and what polling left
// queued over the WebSocket, and writes there from then on. The reader
// reads the last polling payload before the first WebSocket message, so
// nothing is lost, doubled or reordered either way. A failed probe leaves
// the session on polling.
func (e *engine) upgrade() {
	if gate := e.m.upgradeGate; gate != nil {
		gate()
	}
	ctx := newSignal(e.m.opts.Timeout)
	defer ctx.stop()
	go func() {
		select {
		case <-e.ctx.Done():
			ctx.stop()
		case <-ctx.Done():
		}
	}()
	ws, err := dial(ctx, e.m.wsURL+"&sid="+url.QueryEscape(e.open.SID), e.m.opts.Header, e.m.client)
	if err != nil {
		e.m.upgradeFailed()
		return
	}
	e.mu.Lock()
	closing := e.reason != ""
	e.probe = ws
	e.mu.Unlock()
	if closing {
		_ = ws.CloseNow()
		return
	}
	if err := e.probeWS(ctx, ws); err != nil {
		_ = ws.CloseNow()
		e.mu.Lock()
		e.probe = nil
		e.mu.Unlock()
		e.m.upgradeFailed()
		return
	}
	e.mu.Lock()
	e.next = ws
	poll := e.poll
	e.mu.Unlock()
	// From here on the session cannot go back to polling: a failure ends it.
	if err := poll.pause(ctx); err != nil {
		e.close(ReasonTransportError)
		return
	}
	if _, _, err := e.lock(ctx); err != nil {
		e.close(ReasonTransportError)
		return
	}
	// Writes queued on polling until now go first, after "5".
	queued := poll.drain()
	err = ws.Write(ctx, websocket.MessageText, []byte("5"))
	for _, f := range queued {
		if err != nil {
			break
		}
		err = writeFrame(ctx, ws, f)
	}
	e.mu.Lock()
	ok := err == nil && e.reason == ""
	if ok {
		e.ws, e.poll, e.probe = ws, nil, nil
	}
	e.mu.Unlock()
	e.unlock()
	if !ok {
		e.close(ReasonTransportError)
		return
	}
	poll.stop()
	e.m.upgraded()
}

var errProbe = errors.New("the server did not answer the probe with 3probe")

func (e *engine) probeWS(ctx *signal, ws wsConn) error {
	if err := ws.Write(ctx, websocket.MessageText, []byte("2probe")); err != nil {
		return err
	}
	typ, msg, err := ws.Read(ctx)
	if err != nil {
		return err
	}
	if typ != websocket.MessageText || !bytes.Equal(msg, []byte("3probe")) {
		return errProbe
	}
	return nil
}
