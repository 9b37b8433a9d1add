//go:build js

package wasmclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// ExposeIO defines globalThis.__tsunagi, the bridge on which the loader
// (socket.io.js) builds socket.io-client's io(), Manager and Socket. The
// API itself (listeners, acks and their timeouts, flags, buffers, retries)
// is JavaScript in the loader; Go holds the connections. Values cross as
// JSON text made and read by the page's own JSON.stringify and JSON.parse,
// so key order, Dates and the errors of bad values are the page's; binary
// attachments cross as a list beside the text.
//
// __tsunagi.manager(url, optionsJSON, callback) returns a manager handle;
// its socket(nsp, callback) a socket handle. Go calls the callbacks with a
// kind number first (the kind* constants) and the values of that kind.
func ExposeIO() error {
	fn, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		h, err := newJSManager(args)
		if err != nil {
			return jsError(err)
		}
		return h
	})
	if err != nil {
		return err
	}
	obj, err := object()
	if err != nil {
		return err
	}
	if err := obj.Set("manager", fn.Value()); err != nil {
		return err
	}
	return safejs.Global().Set("__tsunagi", obj)
}

// What Go tells the loader, as the first argument of a callback. The
// loader (web/socket.io.js) has the same numbers.
const (
	// Socket callbacks.
	kindConnect      = 1 // (id, recovered, whether the server recovers sessions)
	kindConnectError = 2 // (message, dataJSON or undefined, description, refused)
	kindDisconnect   = 3 // (reason)
	kindEvent        = 4 // (json `["name",…]`, buffers or null, reply token or -1)
	kindAck          = 5 // (ack token, json `[…]`, buffers or null)

	// Manager callbacks.
	kindOpen           = 10 // (transport, engine id)
	kindClose          = 11 // (reason)
	kindReconnectTry   = 12 // (attempt)
	kindReconnect      = 13 // (attempt)
	kindReconnectError = 14 // (message, description)
	kindReconnectFail  = 15 // ()
	kindPing           = 16 // ()
	kindUpgrade        = 17 // (transport)
	kindError          = 18 // (message, description)
)

// jsManager is the Go side of one loader Manager.
type jsManager struct {
	m   *Manager
	cb  safejs.Value
	run *worker

	mu      sync.Mutex
	lastErr error       // the last connection error told as the manager's "error"
	sockets []*jsSocket // by the handle's number, n
}

// jsSocket is the Go side of one loader Socket.
type jsSocket struct {
	jm *jsManager
	s  *Socket
	cb safejs.Value

	mu        sync.Mutex
	named     map[string]func() // events the page listens to → removes the core handler
	anyOn     bool              // the page has onAny listeners
	replies   map[int]shared.AckFunc
	nextReply int
	asks      map[float64]*jsAsk // the page's ack token → the ack awaited
}

type jsAsk struct {
	id     int64
	cancel chan struct{}
}

// worker runs calls into the core in order, off the JavaScript event loop:
// a JS callback must never block.
type worker struct {
	mu   sync.Mutex
	q    []func()
	wake chan struct{}
}

func newWorker() *worker {
	w := &worker{wake: make(chan struct{}, 1)}
	go func() {
		for range w.wake {
			for {
				w.mu.Lock()
				if len(w.q) == 0 {
					w.mu.Unlock()
					break
				}
				fn := w.q[0]
				w.q[0] = nil
				w.q = w.q[1:]
				w.mu.Unlock()
				fn()
			}
		}
	}()
	return w
}

func (w *worker) do(fn func()) {
	w.mu.Lock()
	w.q = append(w.q, fn)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func object() (safejs.Value, error) {
	o, err := safejs.Global().Get("Object")
	if err != nil {
		return safejs.Value{}, err
	}
	return o.New()
}

func jsError(err error) safejs.Value {
	ctor, _ := safejs.Global().Get("Error")
	v, _ := ctor.New(err.Error())
	return v
}

func report(err error) {
	console, _ := safejs.Global().Get("console")
	_, _ = console.Call("error", err.Error())
}

func pageURL() string {
	loc, err := safejs.Global().Get("location")
	if err != nil || loc.IsUndefined() {
		return "http://localhost/"
	}
	href, _ := loc.Get("href")
	s, _ := href.String()
	return s
}

func str(args []safejs.Value, i int) string {
	if i >= len(args) || args[i].Type() != safejs.TypeString {
		return ""
	}
	s, _ := args[i].String()
	return s
}

func num(args []safejs.Value, i int) float64 {
	if i >= len(args) || args[i].Type() != safejs.TypeNumber {
		return math.NaN()
	}
	f, _ := args[i].Float()
	return f
}

// jsOptions are the options the loader's Manager hands over, as JSON:
// socket.io-client's, with its defaults applied by the loader; see
// Manager.prototype._options in web/socket.io.js. They are read from the
// codec's generic tree: encoding/json's reflection into a struct would add
// some 80 KB (brotli) to client.wasm.
type jsOptions map[string]any

func parseOptions(text string) (jsOptions, error) {
	v, err := jsoncodec.DecodeAny([]byte(text), false)
	if err != nil {
		return nil, fmt.Errorf("tsunagi: manager options: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("tsunagi: manager options: not an object")
	}
	return jsOptions(m), nil
}

func (j jsOptions) str(k string) string { s, _ := j[k].(string); return s }
func (j jsOptions) flag(k string) bool  { b, _ := j[k].(bool); return b }

// number is j[k], and whether it is a number (null is not).
func (j jsOptions) number(k string) (float64, bool) { f, ok := j[k].(float64); return f, ok }

// strings is j[k] as an object of strings.
func (j jsOptions) strings(k string) map[string]string {
	m, _ := j[k].(map[string]any)
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func ms(f float64) time.Duration {
	if f <= 0 || math.IsNaN(f) || f > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0
	}
	return time.Duration(f * float64(time.Millisecond))
}

func (j jsOptions) options() *Options {
	o := &Options{Path: j.str("path"), RememberUpgrade: j.flag("rememberUpgrade"), WithCredentials: j.flag("withCredentials")}
	if q := j.strings("query"); len(q) > 0 {
		o.Query = map[string][]string{}
		for k, v := range q {
			o.Query[k] = []string{v}
		}
	}
	ts, _ := j["transports"].([]any)
	for _, t := range ts {
		// webtransport, which tsunagi does not speak, is skipped.
		if t == TransportPolling || t == TransportWebSocket {
			o.Transports = append(o.Transports, t.(string))
		}
	}
	o.NoUpgrade = j["upgrade"] == false
	if h := j.strings("extraHeaders"); len(h) > 0 {
		o.Header = http.Header{}
		for k, v := range h {
			o.Header.Set(k, v)
		}
	}
	o.NoReconnection = !j.flag("reconnection")
	if a, ok := j.number("reconnectionAttempts"); ok && a < math.MaxInt32 { // null: Infinity
		if a <= 0 {
			o.NoReconnection = true
		} else {
			o.ReconnectionAttempts = int(a)
		}
	}
	d, _ := j.number("reconnectionDelay")
	o.ReconnectionDelay = ms(d)
	d, _ = j.number("reconnectionDelayMax")
	o.ReconnectionDelayMax = ms(d)
	o.RandomizationFactor, _ = j.number("randomizationFactor")
	if o.RandomizationFactor <= 0 {
		o.RandomizationFactor = -1 // none
	}
	if t, ok := j.number("timeout"); !ok { // null: false, none
		o.Timeout = time.Duration(math.MaxInt64)
	} else {
		o.Timeout = ms(t)
	}
	return o
}

// newJSManager implements __tsunagi.manager(url, optionsJSON, callback).
func newJSManager(args []safejs.Value) (safejs.Value, error) {
	if len(args) < 3 || args[2].Type() != safejs.TypeFunction {
		return safejs.Value{}, errors.New("tsunagi: manager(url, options, callback)")
	}
	u, err := ResolveURL(str(args, 0), pageURL())
	if err != nil {
		return safejs.Value{}, err
	}
	jo, err := parseOptions(str(args, 1))
	if err != nil {
		return safejs.Value{}, err
	}
	o := jo.options()
	o.OnError = report
	m, err := NewManager(u, o)
	if err != nil {
		return safejs.Value{}, err
	}
	jm := &jsManager{m: m, cb: args[2], run: newWorker()}
	m.OnOpen(func() { jm.call(kindOpen, m.Transport(), m.engineID()) })
	m.OnClose(func(reason string) { jm.call(kindClose, reason) })
	m.OnReconnectAttempt(func(n int) { jm.call(kindReconnectTry, n) })
	m.OnReconnect(func(n int) { jm.call(kindReconnect, n) })
	m.OnReconnectError(func(err error) {
		msg, desc := transportError(m, err)
		jm.call(kindReconnectError, msg, desc)
	})
	m.OnReconnectFailed(func() { jm.call(kindReconnectFail) })
	m.OnPing(func() { jm.call(kindPing) })
	m.OnUpgrade(func(t string) { jm.call(kindUpgrade, t) })

	obj, err := object()
	if err != nil {
		return obj, err
	}
	for name, fn := range map[string]func([]safejs.Value) any{
		"socket": func(a []safejs.Value) any {
			h, err := jm.socket(str(a, 0), a)
			if err != nil {
				return jsError(err)
			}
			return h
		},
		"set": func(a []safejs.Value) any {
			jo, err := parseOptions(str(a, 0))
			if err != nil {
				return jsError(err)
			}
			o := jo.options()
			jm.run.do(func() { m.setOptions(o) })
			return nil
		},
		// send(batch, buffers): what the page's sockets sent since the last
		// batch, in order; see sendBatch.
		"send": func(a []safejs.Value) any {
			if err := jm.sendBatch(a); err != nil {
				return jsError(err)
			}
			return nil
		},
		"transport": func([]safejs.Value) any { return m.Transport() },
		"id":        func([]safejs.Value) any { return m.engineID() },
		"close":     func([]safejs.Value) any { jm.run.do(m.Close); return nil },
	} {
		if err := method(obj, name, fn); err != nil {
			return obj, err
		}
	}
	return obj, nil
}

// call tells the loader's Manager; a listener that throws is reported.
func (jm *jsManager) call(args ...any) {
	if _, err := jm.cb.Invoke(args...); err != nil {
		report(fmt.Errorf("tsunagi: manager listener threw: %w", err))
	}
}

// transportError is the message socket.io-client gives a failed connection
// attempt ("timeout", or the TransportError of the first transport in the
// options, polling by default) and the error's text as its description.
func transportError(m *Manager, err error) (message, description string) {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		message = "timeout"
	case len(m.opts.Transports) > 0 && m.opts.Transports[0] == TransportWebSocket:
		message = "websocket error"
	default:
		message = "xhr poll error"
	}
	return message, err.Error()
}

// method defines obj[name] = fn; fn gets the call's arguments.
func method(obj safejs.Value, name string, fn func(args []safejs.Value) any) error {
	f, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any { return fn(args) })
	if err != nil {
		return err
	}
	return obj.Set(name, f.Value())
}

// socket implements handle.socket(nsp, callback).
func (jm *jsManager) socket(nsp string, args []safejs.Value) (safejs.Value, error) {
	if len(args) < 2 || args[1].Type() != safejs.TypeFunction {
		return safejs.Value{}, errors.New("tsunagi: socket(nsp, callback)")
	}
	s := jm.m.Socket(nsp)
	js := &jsSocket{jm: jm, s: s, cb: args[1], named: map[string]func(){}, replies: map[int]shared.AckFunc{}, asks: map[float64]*jsAsk{}}
	s.OnConnect(func() { js.call(kindConnect, s.ID(), s.Recovered(), s.hasSession()) })
	s.OnConnectError(func(err error) {
		if ce, ok := asError[*ConnectError](err); ok {
			var data any = safejs.Undefined()
			if len(ce.Data) > 0 {
				data = string(ce.Data)
			}
			js.call(kindConnectError, ce.Message, data, "", true)
			return
		}
		msg, desc := transportError(jm.m, err)
		jm.mu.Lock()
		first := jm.lastErr != err
		jm.lastErr = err
		jm.mu.Unlock()
		if first {
			jm.call(kindError, msg, desc)
		}
		js.call(kindConnectError, msg, safejs.Undefined(), desc, false)
	})
	s.OnDisconnect(func(reason string) { js.call(kindDisconnect, reason) })
	s.OnAny(func(event string, a shared.Args) {
		js.mu.Lock()
		deliver := js.anyOn && js.named[event] == nil
		js.mu.Unlock()
		if deliver {
			js.deliver(event, a, nil)
		}
	})
	obj, err := object()
	if err != nil {
		return obj, err
	}
	jm.mu.Lock()
	_ = obj.Set("n", len(jm.sockets))
	jm.sockets = append(jm.sockets, js)
	jm.mu.Unlock()
	run := jm.run
	for name, fn := range map[string]func([]safejs.Value) any{
		// open(authJSON): connect with that CONNECT payload.
		"open": func(a []safejs.Value) any {
			auth := authOf(a)
			run.do(func() { s.SetAuth(auth); s.openAfterClose() })
			return nil
		},
		// auth(authJSON): the payload of the next CONNECT.
		"auth": func(a []safejs.Value) any {
			auth := authOf(a)
			run.do(func() { s.SetAuth(auth) })
			return nil
		},
		"close": func([]safejs.Value) any { run.do(func() { s.Disconnect() }); return nil },
		// forget(ackToken): the page stopped waiting (its timeout).
		"forget": func(a []safejs.Value) any {
			tok := num(a, 0)
			js.mu.Lock()
			ask := js.asks[tok]
			delete(js.asks, tok)
			js.mu.Unlock()
			if ask != nil {
				close(ask.cancel)
			}
			return nil
		},
		// listen(name) / unlisten(name): whether the page has listeners for
		// an event (which then gets an ack function when asked for one).
		"listen": func(a []safejs.Value) any {
			name := str(a, 0)
			js.mu.Lock()
			if js.named[name] == nil {
				js.named[name] = s.On(name, func(args shared.Args, ack shared.AckFunc) error {
					js.deliver(name, args, ack)
					return nil
				})
			}
			js.mu.Unlock()
			return nil
		},
		"unlisten": func(a []safejs.Value) any {
			name := str(a, 0)
			js.mu.Lock()
			if off := js.named[name]; off != nil {
				off()
				delete(js.named, name)
			}
			js.mu.Unlock()
			return nil
		},
		// any(on): whether the page has onAny listeners.
		"any": func(a []safejs.Value) any {
			on := len(a) > 0 && truthy(a[0])
			js.mu.Lock()
			js.anyOn = on
			js.mu.Unlock()
			return nil
		},
	} {
		if err := method(obj, name, fn); err != nil {
			return obj, err
		}
	}
	return obj, nil
}

func authOf(a []safejs.Value) any {
	if t := str(a, 0); t != "" {
		return json.RawMessage(t)
	}
	return nil
}

func truthy(v safejs.Value) bool {
	b, _ := v.Truthy()
	return b
}

// call tells the loader's Socket; a listener that throws is reported.
func (js *jsSocket) call(args ...any) {
	if _, err := js.cb.Invoke(args...); err != nil {
		report(fmt.Errorf("tsunagi: listener threw: %w", err))
	}
}

// payloadOf reads a JSON text and its list of Uint8Array attachments from
// a[i] and a[i+1].
func payloadOf(a []safejs.Value, i int) (json.RawMessage, [][]byte, error) {
	if i >= len(a) || a[i].Type() != safejs.TypeString {
		return nil, nil, errors.New("tsunagi: no payload")
	}
	s, err := a[i].String()
	if err != nil {
		return nil, nil, err
	}
	var bufs [][]byte
	if i+1 < len(a) && a[i+1].Type() == safejs.TypeObject {
		n, err := a[i+1].Length()
		if err != nil {
			return nil, nil, err
		}
		bufs = make([][]byte, n)
		for k := range n {
			v, err := a[i+1].Index(k)
			if err != nil {
				return nil, nil, err
			}
			l, err := v.Length()
			if err != nil {
				return nil, nil, err
			}
			bufs[k] = make([]byte, l)
			if _, err := safejs.CopyBytesToGo(bufs[k], v); err != nil {
				return nil, nil, err
			}
		}
	}
	return json.RawMessage(s), bufs, nil
}

// sendBatch implements handle.send(batch, buffers): the packets the
// page's sockets wrote since the last batch (the loader gathers them until
// its microtasks run), so that a burst of emits costs one call and one run
// of the Go scheduler, not one per emit. batch is a header line of five
// integers per packet (socket n, volatile, ack token or -1, reply token or
// -1, number of attachments), then each packet's JSON text on a line of
// its own: JSON.stringify never writes a raw newline. buffers holds every
// packet's attachments, in order, as Uint8Arrays.
func (jm *jsManager) sendBatch(a []safejs.Value) error {
	text, bufs, err := payloadOf(a, 0)
	if err != nil {
		return err
	}
	nl := bytes.IndexByte(text, '\n')
	if nl < 0 {
		return errors.New("tsunagi: send: no header")
	}
	head, rest := text[:nl], text[nl+1:]
	var nums []int
	for f := range bytes.FieldsSeq(head) {
		n, err := strconv.Atoi(string(f))
		if err != nil {
			return fmt.Errorf("tsunagi: send: header: %w", err)
		}
		nums = append(nums, n)
	}
	if len(nums)%5 != 0 {
		return errors.New("tsunagi: send: header of the wrong length")
	}
	var steps []func()
	for k := 0; k < len(nums); k += 5 {
		n, volatile, tok, reply, nb := nums[k], nums[k+1] != 0, nums[k+2], nums[k+3], nums[k+4]
		var data json.RawMessage
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			data, rest = json.RawMessage(rest[:i]), rest[i+1:]
		} else {
			data, rest = json.RawMessage(rest), nil
		}
		if nb < 0 || nb > len(bufs) {
			return errors.New("tsunagi: send: attachments missing")
		}
		pb := bufs[:nb:nb]
		bufs = bufs[nb:]
		jm.mu.Lock()
		var js *jsSocket
		if n >= 0 && n < len(jm.sockets) {
			js = jm.sockets[n]
		}
		jm.mu.Unlock()
		if js == nil {
			return errors.New("tsunagi: send: no such socket")
		}
		var step func()
		if reply >= 0 {
			step, err = js.reply(reply, data, pb)
		} else {
			step = js.send(data, pb, volatile, tok)
		}
		if err != nil {
			return err
		}
		if step != nil {
			steps = append(steps, step)
		}
	}
	jm.run.do(func() {
		for _, step := range steps {
			step()
		}
	})
	return nil
}

// reply returns the sending of the page's ack, for a server's event that
// asked for one with token tok.
func (js *jsSocket) reply(tok int, data json.RawMessage, bufs [][]byte) (func(), error) {
	js.mu.Lock()
	ack := js.replies[tok]
	delete(js.replies, tok)
	js.mu.Unlock()
	if ack == nil {
		return nil, nil
	}
	vals, err := replyArgs(data, bufs)
	if err != nil {
		return nil, err
	}
	return func() {
		if err := ack(vals...); err != nil {
			report(err)
		}
	}, nil
}

// send returns the sending of an event; with a token (not -1), its ack
// comes back as kindAck.
func (js *jsSocket) send(data json.RawMessage, bufs [][]byte, volatile bool, tok int) func() {
	if tok < 0 {
		return func() {
			if _, err := js.s.sendRaw(data, bufs, volatile, nil); err != nil {
				report(err)
			}
		}
	}
	ask := &jsAsk{cancel: make(chan struct{})}
	js.mu.Lock()
	js.asks[float64(tok)] = ask
	js.mu.Unlock()
	return func() {
		select {
		case <-ask.cancel:
			return // timed out before it was sent
		default:
		}
		ch := make(chan shared.Args, 1)
		id, err := js.s.sendRaw(data, bufs, volatile, ch)
		if err != nil {
			report(err)
			return
		}
		go func() {
			defer js.s.forget(id)
			select {
			case res, ok := <-ch:
				js.mu.Lock()
				delete(js.asks, float64(tok))
				js.mu.Unlock()
				if ok {
					js.call(kindAck, tok, argsText("", res), buffersToJS(res.Buffers()))
				}
			case <-ask.cancel:
			}
		}()
	}
}

// deliver hands a received event to the page: its JSON text and its
// attachments, in one call.
func (js *jsSocket) deliver(name string, a shared.Args, ack shared.AckFunc) {
	tok := -1
	if ack != nil {
		js.mu.Lock()
		tok = js.nextReply
		js.nextReply++
		js.replies[tok] = ack
		js.mu.Unlock()
	}
	js.call(kindEvent, argsText(name, a), buffersToJS(a.Buffers()), tok)
}

// argsText is `["name",arg…]` (`[arg…]` when name is empty), the arguments
// as they came off the wire.
func argsText(name string, a shared.Args) string {
	n := 2 + len(name) + 2
	for i := range a.Len() {
		n += len(a.Raw(i)) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	if name != "" {
		b = appendJSONString(b, name)
	}
	for i := range a.Len() {
		if i > 0 || name != "" {
			b = append(b, ',')
		}
		b = append(b, a.Raw(i)...)
	}
	b = append(b, ']')
	return string(b)
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// buffersToJS is the attachments as an array of ArrayBuffers (as
// socket.io-client gives them in browsers), or null when there are none.
func buffersToJS(bufs [][]byte) any {
	if len(bufs) == 0 {
		return nil
	}
	g := safejs.Global()
	u8, _ := g.Get("Uint8Array")
	arrCtor, _ := g.Get("Array")
	arr, _ := arrCtor.New(len(bufs))
	for i, b := range bufs {
		v, _ := u8.New(len(b))
		_, _ = safejs.CopyBytesToJS(v, b)
		buf, _ := v.Get("buffer")
		_ = arr.SetIndex(i, buf)
	}
	return arr
}

// replyArgs turns the page's ack arguments (a JSON array and its
// attachments) into values for an AckFunc: each argument as its JSON text,
// an attachment as []byte. An argument that holds an attachment deeper
// down is decoded into a tree, whose objects the encoder writes with
// sorted keys: the AckFunc takes values, not a payload (see
// docs/facade-api.md).
func replyArgs(data json.RawMessage, bufs [][]byte) ([]any, error) {
	var vals []any
	var bad error
	err := wire.SplitArgs(data, func(e json.RawMessage) {
		if len(bufs) == 0 || !bytes.Contains(e, []byte(`"_placeholder"`)) {
			vals = append(vals, e)
			return
		}
		v, err := jsoncodec.DecodeAny(e, true)
		if err == nil {
			v, err = wire.ResolvePlaceholders(v, bufs)
		}
		if err != nil {
			bad = err
		}
		vals = append(vals, v)
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, fmt.Errorf("tsunagi: ack arguments: %w", err)
	}
	return vals, nil
}
