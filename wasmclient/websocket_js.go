//go:build js

package wasmclient

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall/js"

	"github.com/coder/websocket"
	"github.com/hack-pad/safejs"
)

// browserWS is a wsConn on the browser's WebSocket, thinner than
// coder/websocket's js Conn, whose every message event is a call into Go
// (a scheduler resume) that also makes a js.Value with a finalizer per
// event and per message's data. Here a small JavaScript function (wsHelper)
// owns the WebSocket: its message listener queues the data in JavaScript
// and wakes Go once per batch (the first message after a quiet moment at
// once, those queued behind it from a posted task); the reader then takes
// every queued message in one call, packed into one Uint8Array that one
// copy brings into Go. A write copies the message into a Uint8Array kept for the
// purpose and makes one call, with numbers only. open, close and error are
// calls into Go of their own (once per connection).
//
// Where the page forbids compiling JavaScript (a Content-Security-Policy
// without 'unsafe-eval'), dial falls back to coder/websocket, as the build
// tag tsunagi_coderws does always.
type browserWS struct {
	h                    js.Value // the helper's handle: drain, send, close, buf, sbuf
	drainFn, sendFn      js.Value
	inBuf, outBuf        js.Value // the handle's buf and sbuf, fetched again when they grow
	wake, onOpen, onDone js.Func

	signal chan struct{} // a batch is queued in JavaScript
	opened chan struct{}
	closed chan struct{}

	// The reader's.
	pending []record
	limit   int64

	wmu      sync.Mutex // writers
	outCap   int
	closeMu  sync.Mutex
	closeErr error // set before closed is closed
	doneOnce sync.Once
}

type record struct {
	typ  websocket.MessageType
	data []byte
}

// drainMax is how many bytes of messages one drain takes at most (a message
// bigger than that comes alone).
const drainMax = 1 << 20

// wsHelperSource makes the JavaScript side of browserWS:
// make(url, wake, onopen, ondone) returns the handle, or a string with the
// constructor's error. Records in buf: kind (1 text, 2 binary), length
// (uint32, little-endian), the bytes.
const wsHelperSource = `"use strict";
return function (url, wake, onopen, ondone) {
  var ws;
  try { ws = new WebSocket(url); } catch (e) { return String(e && e.message || e); }
  ws.binaryType = "arraybuffer";
  var q = [], head = 0, taken = 0, scheduled = false, stalled = false;
  var enc = new TextEncoder(), dec = new TextDecoder();
  var ch = new MessageChannel(), errText = "";
  if (ch.port1.unref) ch.port1.unref();
  // kick wakes Go and ticks again while that takes messages. When Go takes
  // none (its reader is busy elsewhere), nothing wakes it until its reader
  // drains of its own accord.
  function kick() {
    var t = taken;
    wake();
    if (taken === t) { stalled = true; return; }
    scheduled = true;
    ch.port2.postMessage(null);
  }
  ch.port1.onmessage = function () {
    scheduled = false;
    if (head < q.length) kick();
  };
  var h = { buf: new Uint8Array(65536), sbuf: new Uint8Array(4096) };
  // The first message after a quiet moment wakes Go at once (no latency
  // added to a lone reply), and posts a tick; messages that arrive before
  // the tick runs were queued behind the first, and the tick takes them
  // all in one wake-up, then ticks again while they keep coming.
  ws.onmessage = function (e) {
    q.push(e.data);
    if (!scheduled && !stalled) kick();
  };
  ws.onopen = function () { onopen(); };
  ws.onerror = function (e) { errText = (e && e.message) || "WebSocket error"; };
  ws.onclose = function (e) {
    ch.port1.onmessage = null;
    ch.port1.close();
    wake();
    ondone(e.code, e.reason, e.wasClean, errText);
  };
  function grow(need) {
    var n = h.buf.length;
    while (n < need) n *= 2;
    var b = new Uint8Array(n);
    b.set(h.buf);
    h.buf = b;
  }
  // drain packs queued messages into buf, max bytes or the first message
  // at most; it returns the bytes written × 2, plus 1 when buf was replaced.
  h.drain = function (max) {
    var pos = 0, grew = 0;
    stalled = false;
    while (head < q.length) {
      var d = q[head], text = typeof d === "string";
      var need = pos + 5 + (text ? d.length * 3 : d.byteLength);
      if (pos > 0 && need > max) break;
      if (need > h.buf.length) { grow(need); grew = 1; }
      var b = h.buf, n;
      if (text) n = enc.encodeInto(d, b.subarray(pos + 5)).written;
      else { n = d.byteLength; b.set(new Uint8Array(d), pos + 5); }
      b[pos] = text ? 1 : 2;
      b[pos + 1] = n & 255; b[pos + 2] = (n >>> 8) & 255; b[pos + 3] = (n >>> 16) & 255; b[pos + 4] = (n >>> 24) & 255;
      pos += 5 + n;
      q[head++] = undefined;
      taken++;
    }
    if (head === q.length) { q.length = 0; head = 0; }
    else if (head > 4096) { q = q.slice(head); head = 0; }
    return pos * 2 + grew;
  };
  // send sends the first n bytes of sbuf, as text or binary; false when
  // the WebSocket threw.
  h.send = function (text, n) {
    try {
      if (text) ws.send(dec.decode(h.sbuf.subarray(0, n)));
      else ws.send(h.sbuf.slice(0, n));
      return true;
    } catch (e) { return false; }
  };
  h.reserve = function (n) {
    if (h.sbuf.length < n) { var m = h.sbuf.length; while (m < n) m *= 2; h.sbuf = new Uint8Array(m); }
  };
  h.close = function (code, reason) {
    try { ws.close(code, reason); return ""; } catch (e) { return String(e && e.message || e); }
  };
  return h;
};`

var (
	helperOnce sync.Once
	helperMake js.Value
	helperErr  error
)

// wsHelper compiles wsHelperSource once.
func wsHelper() (js.Value, error) {
	helperOnce.Do(func() {
		fn, err := safejs.Global().Get("Function")
		if err == nil {
			var f safejs.Value
			if f, err = fn.New(wsHelperSource); err == nil {
				var mk safejs.Value
				if mk, err = f.Invoke(); err == nil {
					helperMake = safejs.Unsafe(mk)
				}
			}
		}
		helperErr = err
	})
	return helperMake, helperErr
}

// dialBrowser opens a browserWS; ok is false when the helper cannot be
// made here, and the caller should use coder/websocket.
func dialBrowser(ctx context.Context, u string) (c *browserWS, ok bool, err error) {
	mk, err := wsHelper()
	if err != nil {
		return nil, false, nil
	}
	u = strings.Replace(u, "http://", "ws://", 1)
	u = strings.Replace(u, "https://", "wss://", 1)
	c = &browserWS{
		signal: make(chan struct{}, 1),
		opened: make(chan struct{}),
		closed: make(chan struct{}),
		limit:  32768, // as coder/websocket's
		outCap: 4096,
	}
	var openOnce sync.Once
	c.wake = js.FuncOf(func(js.Value, []js.Value) any {
		select {
		case c.signal <- struct{}{}:
		default:
		}
		return nil
	})
	c.onOpen = js.FuncOf(func(js.Value, []js.Value) any {
		openOnce.Do(func() { close(c.opened) })
		return nil
	})
	c.onDone = js.FuncOf(func(_ js.Value, a []js.Value) any {
		code, reason, clean, errText := 1006, "", false, ""
		if len(a) == 4 {
			if a[0].Type() == js.TypeNumber {
				code = a[0].Int()
			}
			if a[1].Type() == js.TypeString {
				reason = a[1].String()
			}
			clean = a[2].Truthy()
			if a[3].Type() == js.TypeString {
				errText = a[3].String()
			}
		}
		var err error = websocket.CloseError{Code: websocket.StatusCode(code), Reason: reason}
		if !clean {
			if errText != "" {
				err = fmt.Errorf("unclean connection close (%s): %w", errText, err)
			} else {
				err = fmt.Errorf("unclean connection close: %w", err)
			}
		}
		c.finish(err)
		return nil
	})
	h, err := safejs.Safe(mk).Invoke(u, c.wake, c.onOpen, c.onDone)
	if err != nil {
		c.release()
		return nil, true, fmt.Errorf("failed to WebSocket dial %q: %w", u, err)
	}
	if h.Type() == safejs.TypeString {
		msg, _ := h.String()
		c.release()
		return nil, true, fmt.Errorf("failed to WebSocket dial %q: %s", u, msg)
	}
	c.h = safejs.Unsafe(h)
	c.drainFn, c.sendFn = c.h.Get("drain"), c.h.Get("send")
	c.inBuf, c.outBuf = c.h.Get("buf"), c.h.Get("sbuf")
	select {
	case <-c.opened:
		return c, true, nil
	case <-c.closed:
		return nil, true, fmt.Errorf("failed to WebSocket dial %q: %w", u, c.err())
	case <-ctx.Done():
		_ = c.CloseNow()
		return nil, true, fmt.Errorf("failed to WebSocket dial %q: %w", u, ctx.Err())
	}
}

// finish records why the connection ended, once.
func (c *browserWS) finish(err error) {
	c.doneOnce.Do(func() {
		c.closeMu.Lock()
		if c.closeErr == nil {
			c.closeErr = err
		}
		c.closeMu.Unlock()
		close(c.closed)
		// The helper calls nothing more after ondone; the funcs go with
		// it. (A js.Func may be released while it runs.)
		c.release()
	})
}

func (c *browserWS) release() {
	c.wake.Release()
	c.onOpen.Release()
	c.onDone.Release()
}

func (c *browserWS) err() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closeErr == nil {
		return net.ErrClosed
	}
	return c.closeErr
}

// drain moves what JavaScript has queued into c.pending; it reports
// whether there was anything.
func (c *browserWS) drain() bool {
	if c.h.IsUndefined() {
		return false
	}
	r := c.drainFn.Invoke(drainMax).Int()
	n := r / 2
	if r&1 != 0 {
		c.inBuf = c.h.Get("buf")
	}
	if n == 0 {
		return false
	}
	buf := make([]byte, n)
	js.CopyBytesToGo(buf, c.inBuf)
	for len(buf) >= 5 {
		typ := websocket.MessageText
		if buf[0] == 2 {
			typ = websocket.MessageBinary
		}
		l := int(binary.LittleEndian.Uint32(buf[1:5]))
		if l > len(buf)-5 {
			break // cannot happen: the helper writes whole records
		}
		c.pending = append(c.pending, record{typ, buf[5 : 5+l : 5+l]})
		buf = buf[5+l:]
	}
	return len(c.pending) > 0
}

// Read returns the next message. Messages that arrived before the close
// come first; then the close, as a websocket.CloseError when it was clean.
func (c *browserWS) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	for {
		if len(c.pending) > 0 || c.drain() {
			r := c.pending[0]
			c.pending[0] = record{}
			c.pending = c.pending[1:]
			if len(c.pending) == 0 {
				c.pending = c.pending[:0:0]
			}
			if c.limit >= 0 && int64(len(r.data)) > c.limit {
				_ = c.CloseNow()
				return 0, nil, fmt.Errorf("failed to read: %w: read limited at %d bytes", websocket.ErrMessageTooBig, c.limit)
			}
			return r.typ, r.data, nil
		}
		select {
		case <-c.closed:
			if c.drain() {
				continue
			}
			return 0, nil, fmt.Errorf("failed to read: %w", c.err())
		default:
		}
		select {
		case <-c.signal:
		case <-c.closed:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

// Write sends one message; it does not block (the browser queues it).
func (c *browserWS) Write(_ context.Context, typ websocket.MessageType, p []byte) error {
	select {
	case <-c.closed:
		return fmt.Errorf("failed to write: %w", net.ErrClosed)
	default:
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(p) > c.outCap {
		c.h.Call("reserve", len(p))
		c.outBuf = c.h.Get("sbuf")
		c.outCap = c.outBuf.Length()
	}
	js.CopyBytesToJS(c.outBuf, p)
	if !c.sendFn.Invoke(typ == websocket.MessageText, len(p)).Truthy() {
		return errors.New("failed to write: the WebSocket refused the message")
	}
	return nil
}

// Close closes the WebSocket with code and waits for it to be closed. A
// browser allows only 1000 and 3000–4999 (coder/websocket's js Close throws
// for the others and leaves the socket open): other codes close with 1000.
func (c *browserWS) Close(code websocket.StatusCode, reason string) error {
	if code != websocket.StatusNormalClosure && (code < 3000 || code > 4999) {
		code = websocket.StatusNormalClosure
	}
	select {
	case <-c.closed:
		return fmt.Errorf("failed to close WebSocket: %w", net.ErrClosed)
	default:
	}
	c.closeMu.Lock()
	if c.closeErr == nil {
		c.closeErr = fmt.Errorf("sent close: %w", websocket.CloseError{Code: code, Reason: reason})
	}
	c.closeMu.Unlock()
	if msg := c.h.Call("close", int(code), reason).String(); msg != "" {
		return fmt.Errorf("failed to close WebSocket: %s", msg)
	}
	<-c.closed
	return nil
}

// CloseNow closes the WebSocket with 1000: a browser can neither close
// without the handshake nor send 1001, which coder/websocket's CloseNow
// tries under js.
func (c *browserWS) CloseNow() error { return c.Close(websocket.StatusNormalClosure, "") }

// SetReadLimit bounds the size of a message read; a bigger one closes the
// connection. Defaults to 32768 bytes, as coder/websocket's; -1 is none.
func (c *browserWS) SetReadLimit(n int64) { c.limit = n }
