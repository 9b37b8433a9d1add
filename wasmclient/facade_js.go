//go:build js

package wasmclient

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/tsunagi/tsunagi/shared"
)

// ExposeIO defines the global function that the loader (socket.io.js)
// turns into io(): globalThis.__tsunagi.io(url, opts) returns an object
// shaped like socket.io-client's Socket.
func ExposeIO() error {
	fn, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		sock, err := newJSSocket(args)
		if err != nil {
			return jsError(err)
		}
		return sock
	})
	if err != nil {
		return err
	}
	obj, err := object()
	if err != nil {
		return err
	}
	if err := obj.Set("io", fn.Value()); err != nil {
		return err
	}
	return safejs.Global().Set("__tsunagi", obj)
}

// jsSocket is the state behind one JavaScript socket object.
type jsSocket struct {
	s   *Socket
	obj safejs.Value
	run *worker

	mu        sync.Mutex
	listeners map[string][]*jsListener // event → JS functions
	offCore   map[string]func()        // event → removes the core handler
	anyIn     []*jsListener
	anyOut    []*jsListener
}

type jsListener struct {
	fn   safejs.Value
	once bool
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

func pageURL() string {
	loc, err := safejs.Global().Get("location")
	if err != nil || loc.IsUndefined() {
		return "http://localhost/"
	}
	href, _ := loc.Get("href")
	s, _ := href.String()
	return s
}

// newJSSocket implements io(url, opts).
func newJSSocket(args []safejs.Value) (safejs.Value, error) {
	raw := ""
	var opts safejs.Value = safejs.Undefined()
	if len(args) > 0 && args[0].Type() == safejs.TypeString {
		raw, _ = args[0].String()
		if len(args) > 1 {
			opts = args[1]
		}
	} else if len(args) > 0 {
		opts = args[0]
	}
	u, err := ResolveURL(raw, pageURL())
	if err != nil {
		return safejs.Value{}, err
	}
	o := &Options{}
	autoConnect, forceNew := true, false
	if opts.Type() == safejs.TypeObject {
		if v, _ := opts.Get("forceNew"); v.Type() == safejs.TypeBoolean {
			forceNew, _ = v.Bool()
		}
		if v, _ := opts.Get("multiplex"); v.Type() == safejs.TypeBoolean {
			if mux, _ := v.Bool(); !mux {
				forceNew = true
			}
		}
		if v, _ := opts.Get("auth"); v.Type() == safejs.TypeObject {
			o.Auth, _ = toGo(v)
		}
		if v, _ := opts.Get("path"); v.Type() == safejs.TypeString {
			o.Path, _ = v.String()
		}
		if v, _ := opts.Get("ackTimeout"); v.Type() == safejs.TypeNumber {
			ms, _ := v.Float()
			o.AckTimeout = time.Duration(ms) * time.Millisecond
		}
		if v, _ := opts.Get("query"); v.Type() == safejs.TypeObject {
			q, _ := toGo(v)
			if m, ok := q.(map[string]any); ok {
				o.Query = map[string][]string{}
				for k, x := range m {
					o.Query[k] = []string{fmt.Sprint(x)}
				}
			}
		}
		if v, _ := opts.Get("autoConnect"); v.Type() == safejs.TypeBoolean {
			autoConnect, _ = v.Bool()
		}
		if v, _ := opts.Get("reconnection"); v.Type() == safejs.TypeBoolean {
			on, _ := v.Bool()
			o.NoReconnection = !on
		}
		if v, _ := opts.Get("reconnectionAttempts"); v.Type() == safejs.TypeNumber {
			n, _ := v.Float()
			if n < math.MaxInt32 {
				o.ReconnectionAttempts = max(int(n), 0)
				if n == 0 {
					o.NoReconnection = true
				}
			}
		}
		if v, _ := opts.Get("transports"); v.Type() == safejs.TypeObject {
			if n, err := v.Length(); err == nil {
				for i := range min(n, 8) {
					t, _ := v.Index(i)
					// webtransport, which tsunagi does not speak, is skipped.
					if name, _ := t.String(); name == TransportPolling || name == TransportWebSocket {
						o.Transports = append(o.Transports, name)
					}
				}
			}
		}
		if v, _ := opts.Get("upgrade"); v.Type() == safejs.TypeBoolean {
			on, _ := v.Bool()
			o.NoUpgrade = !on
		}
		if v, _ := opts.Get("rememberUpgrade"); v.Type() == safejs.TypeBoolean {
			o.RememberUpgrade, _ = v.Bool()
		}
		if v, _ := opts.Get("withCredentials"); v.Type() == safejs.TypeBoolean {
			o.WithCredentials, _ = v.Bool()
		}
		if v, _ := opts.Get("extraHeaders"); v.Type() == safejs.TypeObject {
			h, _ := toGo(v)
			if m, ok := h.(map[string]any); ok {
				o.Header = http.Header{}
				for k, x := range m {
					o.Header.Set(k, fmt.Sprint(x))
				}
			}
		}
		o.ReconnectionDelay = msOption(opts, "reconnectionDelay")
		o.ReconnectionDelayMax = msOption(opts, "reconnectionDelayMax")
		o.Timeout = msOption(opts, "timeout")
		if v, _ := opts.Get("randomizationFactor"); v.Type() == safejs.TypeNumber {
			o.RandomizationFactor, _ = v.Float()
			if o.RandomizationFactor == 0 {
				o.RandomizationFactor = -1 // none
			}
		}
	}
	var js *jsSocket
	o.OnError = func(err error) {
		if js != nil {
			js.emitLocal("error", []safejs.Value{jsError(err)})
		}
	}
	s, err := lookup(u, o, forceNew)
	if err != nil {
		return safejs.Value{}, err
	}
	s.SetAuth(o.Auth)
	obj, err := object()
	if err != nil {
		return safejs.Value{}, err
	}
	js = &jsSocket{s: s, obj: obj, run: newWorker(), listeners: map[string][]*jsListener{}, offCore: map[string]func(){}}
	s.OnConnect(func() { js.emitLocal("connect", nil) })
	s.OnConnectError(func(err error) { js.emitLocal("connect_error", []safejs.Value{connectErrorValue(err)}) })
	s.OnDisconnect(func(reason string) { js.emitLocal("disconnect", []safejs.Value{mustValue(reason)}) })
	s.OnAny(func(event string, args shared.Args) { js.callAny(js.snapshotAny(false), event, args) })
	s.OnAnyOutgoing(func(event string, args shared.Args) { js.callAny(js.snapshotAny(true), event, args) })
	if err := js.install(); err != nil {
		return safejs.Value{}, err
	}
	if autoConnect {
		s.Open()
	}
	return obj, nil
}

// managers are shared by the io() calls to one server, as in
// socket.io-client: its namespaces travel over one connection. A second
// io() to a namespace the manager already has gets a connection of its own.
var (
	managersMu sync.Mutex
	managers   = map[string]*Manager{}
)

func lookup(rawURL string, o *Options, forceNew bool) (*Socket, error) {
	u, err := parseLink(rawURL)
	if err != nil {
		return nil, err
	}
	nsp := u.path
	if nsp == "" {
		nsp = "/"
	}
	key := u.scheme + "://" + u.host + "|" + o.Path
	managersMu.Lock()
	defer managersMu.Unlock()
	m := managers[key]
	if forceNew || m == nil || m.socket(nsp) != nil {
		if m, err = NewManager(rawURL, o); err != nil {
			return nil, err
		}
		if !forceNew {
			managers[key] = m
		}
	}
	return m.Socket(nsp), nil
}

func mustValue(x any) safejs.Value {
	v, _ := safejs.ValueOf(x)
	return v
}

func connectErrorValue(err error) safejs.Value {
	v := jsError(err)
	if ce, ok := asError[*ConnectError](err); ok {
		_ = v.Set("message", ce.Message)
		if len(ce.Data) > 0 {
			if d, err := parseJSON(ce.Data); err == nil {
				_ = v.Set("data", d)
			}
		}
	}
	return v
}

// method defines obj[name] = fn; fn gets the call's arguments.
func (js *jsSocket) method(obj safejs.Value, name string, fn func(args []safejs.Value) any) error {
	f, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any { return fn(args) })
	if err != nil {
		return err
	}
	return obj.Set(name, f.Value())
}

func (js *jsSocket) getter(name string, fn func() any) error {
	f, err := safejs.FuncOf(func(safejs.Value, []safejs.Value) any { return fn() })
	if err != nil {
		return err
	}
	desc, err := object()
	if err != nil {
		return err
	}
	_ = desc.Set("get", f.Value())
	_ = desc.Set("configurable", true)
	o, _ := safejs.Global().Get("Object")
	_, err = o.Call("defineProperty", js.obj, name, desc)
	return err
}

func (js *jsSocket) install() error {
	self := js.obj
	steps := []struct {
		name string
		fn   func([]safejs.Value) any
	}{
		{"on", func(a []safejs.Value) any { js.on(a, false); return self }},
		{"addEventListener", func(a []safejs.Value) any { js.on(a, false); return self }},
		{"once", func(a []safejs.Value) any { js.on(a, true); return self }},
		{"off", func(a []safejs.Value) any { js.off(a); return self }},
		{"removeListener", func(a []safejs.Value) any { js.off(a); return self }},
		{"removeAllListeners", func(a []safejs.Value) any { js.off(a); return self }},
		{"listeners", func(a []safejs.Value) any { return js.listenersOf(a) }},
		{"hasListeners", func(a []safejs.Value) any { return len(js.listenersOf(a)) > 0 }},
		{"emit", func(a []safejs.Value) any { js.emit(a, 0); return self }},
		{"send", func(a []safejs.Value) any {
			js.emit(append([]safejs.Value{mustValue("message")}, a...), 0)
			return self
		}},
		{"emitWithAck", func(a []safejs.Value) any { return js.emitWithAck(a, 0) }},
		{"timeout", func(a []safejs.Value) any { return js.timeout(a) }},
		{"onAny", func(a []safejs.Value) any { js.addAny(a, false, false); return self }},
		{"prependAny", func(a []safejs.Value) any { js.addAny(a, false, true); return self }},
		{"offAny", func(a []safejs.Value) any { js.removeAny(a, false); return self }},
		{"onAnyOutgoing", func(a []safejs.Value) any { js.addAny(a, true, false); return self }},
		{"prependAnyOutgoing", func(a []safejs.Value) any { js.addAny(a, true, true); return self }},
		{"offAnyOutgoing", func(a []safejs.Value) any { js.removeAny(a, true); return self }},
		{"connect", func([]safejs.Value) any { js.s.Open(); return self }},
		{"open", func([]safejs.Value) any { js.s.Open(); return self }},
		{"disconnect", func([]safejs.Value) any { js.run.do(func() { js.s.Disconnect() }); return self }},
		{"close", func([]safejs.Value) any { js.run.do(func() { js.s.Disconnect() }); return self }},
	}
	for _, st := range steps {
		if err := js.method(self, st.name, st.fn); err != nil {
			return err
		}
	}
	if err := js.getter("connected", func() any { return js.s.Connected() }); err != nil {
		return err
	}
	if err := js.getter("disconnected", func() any { return !js.s.Connected() }); err != nil {
		return err
	}
	if err := js.getter("active", func() any { return js.s.Active() }); err != nil {
		return err
	}
	if err := js.getter("recovered", func() any { return js.s.Recovered() }); err != nil {
		return err
	}
	mgr, err := js.managerObject()
	if err != nil {
		return err
	}
	if err := self.Set("io", mgr); err != nil {
		return err
	}
	if err := js.getter("id", func() any {
		if id := js.s.ID(); id != "" {
			return id
		}
		return safejs.Undefined()
	}); err != nil {
		return err
	}
	return self.Set("nsp", js.s.Namespace())
}

func msOption(opts safejs.Value, name string) time.Duration {
	v, _ := opts.Get(name)
	if v.Type() != safejs.TypeNumber {
		return 0
	}
	ms, _ := v.Float()
	if ms <= 0 || ms > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// managerObject is socket.io: the Manager's events (reconnect_attempt,
// reconnect, reconnect_error, reconnect_failed, open, close) for on/off.
func (js *jsSocket) managerObject() (safejs.Value, error) {
	obj, err := object()
	if err != nil {
		return obj, err
	}
	var mu sync.Mutex
	listeners := map[string][]safejs.Value{}
	fire := func(name string, args ...any) {
		mu.Lock()
		ls := append([]safejs.Value(nil), listeners[name]...)
		mu.Unlock()
		for _, fn := range ls {
			if _, err := fn.Invoke(args...); err != nil {
				js.report(fmt.Errorf("tsunagi: %s listener threw: %w", name, err))
			}
		}
	}
	m := js.s.Manager()
	m.OnReconnectAttempt(func(n int) { fire("reconnect_attempt", n) })
	m.OnReconnect(func(n int) { fire("reconnect", n) })
	m.OnReconnectError(func(err error) { fire("reconnect_error", jsError(err)) })
	m.OnReconnectFailed(func() { fire("reconnect_failed") })
	m.OnOpen(func() { fire("open") })
	m.OnClose(func(reason string) { fire("close", reason) })
	engine, err := js.engineObject(m)
	if err != nil {
		return obj, err
	}
	_ = obj.Set("engine", engine)
	_ = js.method(obj, "on", func(a []safejs.Value) any {
		if len(a) >= 2 && a[1].Type() == safejs.TypeFunction {
			name, _ := a[0].String()
			mu.Lock()
			listeners[name] = append(listeners[name], a[1])
			mu.Unlock()
		}
		return obj
	})
	_ = js.method(obj, "off", func(a []safejs.Value) any {
		mu.Lock()
		defer mu.Unlock()
		if len(a) == 0 {
			listeners = map[string][]safejs.Value{}
			return obj
		}
		name, _ := a[0].String()
		if len(a) < 2 {
			delete(listeners, name)
			return obj
		}
		ls := listeners[name]
		for i, fn := range ls {
			if fn.Equal(a[1]) {
				listeners[name] = append(ls[:i:i], ls[i+1:]...)
				break
			}
		}
		return obj
	})
	return obj, nil
}

// engineObject is socket.io.engine: transport.name (the current
// transport), and on/off for "upgrade", which fires after the move from
// polling to WebSocket with the new transport.
func (js *jsSocket) engineObject(m *Manager) (safejs.Value, error) {
	obj, err := object()
	if err != nil {
		return obj, err
	}
	var mu sync.Mutex
	var upgrade []safejs.Value
	transport := func() safejs.Value {
		t, _ := object()
		_ = t.Set("name", m.Transport())
		return t
	}
	m.OnUpgrade(func(string) {
		mu.Lock()
		ls := append([]safejs.Value(nil), upgrade...)
		mu.Unlock()
		for _, fn := range ls {
			if _, err := fn.Invoke(transport()); err != nil {
				js.report(fmt.Errorf("tsunagi: upgrade listener threw: %w", err))
			}
		}
	})
	f, err := safejs.FuncOf(func(safejs.Value, []safejs.Value) any { return transport() })
	if err != nil {
		return obj, err
	}
	desc, err := object()
	if err != nil {
		return obj, err
	}
	_ = desc.Set("get", f.Value())
	_ = desc.Set("configurable", true)
	o, _ := safejs.Global().Get("Object")
	if _, err := o.Call("defineProperty", obj, "transport", desc); err != nil {
		return obj, err
	}
	_ = js.method(obj, "on", func(a []safejs.Value) any {
		if len(a) >= 2 && a[1].Type() == safejs.TypeFunction {
			if name, _ := a[0].String(); name == "upgrade" {
				mu.Lock()
				upgrade = append(upgrade, a[1])
				mu.Unlock()
			}
		}
		return obj
	})
	_ = js.method(obj, "off", func(a []safejs.Value) any {
		mu.Lock()
		defer mu.Unlock()
		if len(a) < 2 {
			upgrade = nil
			return obj
		}
		for i, fn := range upgrade {
			if fn.Equal(a[1]) {
				upgrade = append(upgrade[:i:i], upgrade[i+1:]...)
				break
			}
		}
		return obj
	})
	return obj, nil
}

// localEvents are emitted by the socket itself, not received from the server.
func localEvent(name string) bool {
	switch name {
	case "connect", "connect_error", "disconnect", "error":
		return true
	}
	return false
}

func (js *jsSocket) on(args []safejs.Value, once bool) {
	if len(args) < 2 || args[1].Type() != safejs.TypeFunction {
		return
	}
	name, _ := args[0].String()
	js.mu.Lock()
	js.listeners[name] = append(js.listeners[name], &jsListener{fn: args[1], once: once})
	needCore := !localEvent(name) && js.offCore[name] == nil
	if needCore {
		js.offCore[name] = js.s.On(name, func(a shared.Args, ack shared.AckFunc) error {
			return js.deliver(name, a, ack)
		})
	}
	js.mu.Unlock()
}

func (js *jsSocket) off(args []safejs.Value) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if len(args) == 0 || args[0].IsUndefined() {
		for name, off := range js.offCore {
			off()
			delete(js.offCore, name)
		}
		js.listeners = map[string][]*jsListener{}
		return
	}
	name, _ := args[0].String()
	if len(args) > 1 && args[1].Type() == safejs.TypeFunction {
		ls := js.listeners[name]
		for i, l := range ls {
			if l.fn.Equal(args[1]) {
				js.listeners[name] = append(ls[:i:i], ls[i+1:]...)
				break
			}
		}
	} else {
		delete(js.listeners, name)
	}
	if len(js.listeners[name]) == 0 {
		delete(js.listeners, name)
		if off := js.offCore[name]; off != nil {
			off()
			delete(js.offCore, name)
		}
	}
}

func (js *jsSocket) listenersOf(args []safejs.Value) []any {
	if len(args) == 0 {
		return nil
	}
	name, _ := args[0].String()
	js.mu.Lock()
	defer js.mu.Unlock()
	out := make([]any, 0, len(js.listeners[name]))
	for _, l := range js.listeners[name] {
		out = append(out, safejs.Unsafe(l.fn))
	}
	return out
}

// take returns the listeners of name, removing the once listeners.
func (js *jsSocket) take(name string) []*jsListener {
	js.mu.Lock()
	defer js.mu.Unlock()
	ls := js.listeners[name]
	keep := ls[:0:0]
	for _, l := range ls {
		if !l.once {
			keep = append(keep, l)
		}
	}
	if len(keep) != len(ls) {
		js.listeners[name] = keep
	}
	return ls
}

func (js *jsSocket) emitLocal(name string, args []safejs.Value) {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a
	}
	for _, l := range js.take(name) {
		if _, err := l.fn.Invoke(vals...); err != nil {
			js.report(fmt.Errorf("tsunagi: %s listener threw: %w", name, err))
		}
	}
}

func (js *jsSocket) report(err error) {
	console, _ := safejs.Global().Get("console")
	_, _ = console.Call("error", err.Error())
}

// deliver calls the JS listeners of an incoming event.
func (js *jsSocket) deliver(name string, a shared.Args, ack shared.AckFunc) error {
	vals, err := argsToJS(a)
	if err != nil {
		return &shared.DecodeError{Event: name, Err: err}
	}
	if ack != nil {
		vals = append(vals, js.ackFunc(ack))
	}
	for _, l := range js.take(name) {
		if _, err := l.fn.Invoke(vals...); err != nil {
			js.report(fmt.Errorf("tsunagi: listener of %q threw: %w", name, err))
		}
	}
	return nil
}

// ackFunc wraps an AckFunc for JavaScript; it releases itself when called.
func (js *jsSocket) ackFunc(ack shared.AckFunc) any {
	var f safejs.Func
	f, _ = safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		vals, err := argsFromJS(args)
		if err != nil {
			js.report(err)
			return nil
		}
		js.run.do(func() {
			if err := ack(vals...); err != nil {
				js.report(err)
			}
		})
		f.Release()
		return nil
	})
	return f.Value()
}

func (js *jsSocket) snapshotAny(out bool) []*jsListener {
	js.mu.Lock()
	defer js.mu.Unlock()
	if out {
		return append([]*jsListener(nil), js.anyOut...)
	}
	return append([]*jsListener(nil), js.anyIn...)
}

func (js *jsSocket) callAny(ls []*jsListener, event string, a shared.Args) {
	if len(ls) == 0 {
		return
	}
	vals, err := argsToJS(a)
	if err != nil {
		js.report(err)
		return
	}
	vals = append([]any{event}, vals...)
	for _, l := range ls {
		if _, err := l.fn.Invoke(vals...); err != nil {
			js.report(fmt.Errorf("tsunagi: onAny listener threw: %w", err))
		}
	}
}

func (js *jsSocket) addAny(args []safejs.Value, out, prepend bool) {
	if len(args) == 0 || args[0].Type() != safejs.TypeFunction {
		return
	}
	l := &jsListener{fn: args[0]}
	js.mu.Lock()
	defer js.mu.Unlock()
	list := &js.anyIn
	if out {
		list = &js.anyOut
	}
	if prepend {
		*list = append([]*jsListener{l}, *list...)
	} else {
		*list = append(*list, l)
	}
}

func (js *jsSocket) removeAny(args []safejs.Value, out bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	list := &js.anyIn
	if out {
		list = &js.anyOut
	}
	if len(args) == 0 || args[0].Type() != safejs.TypeFunction {
		*list = nil
		return
	}
	for i, l := range *list {
		if l.fn.Equal(args[0]) {
			*list = append((*list)[:i:i], (*list)[i+1:]...)
			return
		}
	}
}

// emit implements socket.emit(event, ...args[, ack]); with timeout > 0 the
// ack is called as ack(err) on timeout and ack(null, ...args) otherwise.
func (js *jsSocket) emit(args []safejs.Value, timeout time.Duration) {
	if len(args) == 0 {
		return
	}
	name, _ := args[0].String()
	rest := args[1:]
	var cb safejs.Value
	hasAck := len(rest) > 0 && rest[len(rest)-1].Type() == safejs.TypeFunction
	if hasAck {
		cb = rest[len(rest)-1]
		rest = rest[:len(rest)-1]
	}
	vals, err := argsFromJS(rest)
	if err != nil {
		js.report(err)
		return
	}
	if !hasAck {
		js.run.do(func() {
			if err := js.s.Emit(name, vals...); err != nil {
				js.report(err)
			}
		})
		return
	}
	js.run.do(func() {
		go func() {
			var ctx context.Context = context.Background()
			if timeout > 0 {
				sig := newSignal(timeout)
				defer sig.stop()
				ctx = sig
			}
			res, err := js.s.EmitWithAck(ctx, name, vals...)
			if err != nil {
				if timeout > 0 {
					_, _ = cb.Invoke(jsError(err))
				} else {
					js.report(err)
				}
				return
			}
			out, err := argsToJS(res)
			if err != nil {
				js.report(err)
				return
			}
			if timeout > 0 {
				out = append([]any{nil}, out...)
			}
			if _, err := cb.Invoke(out...); err != nil {
				js.report(fmt.Errorf("tsunagi: ack callback threw: %w", err))
			}
		}()
	})
}

// emitWithAck returns a Promise of the first ack argument.
func (js *jsSocket) emitWithAck(args []safejs.Value, timeout time.Duration) any {
	promise, _ := safejs.Global().Get("Promise")
	var exec safejs.Func
	exec, _ = safejs.FuncOf(func(_ safejs.Value, pa []safejs.Value) any {
		resolve, reject := pa[0], pa[1]
		eff := timeout
		if eff == 0 {
			// Without a timeout the Promise would wait for ever on a lost
			// ack; reject on disconnect instead, through the timeout form.
			eff = time.Duration(math.MaxInt64)
		}
		var cb safejs.Func
		cb, _ = safejs.FuncOf(func(_ safejs.Value, ra []safejs.Value) any {
			defer cb.Release()
			if len(ra) > 0 && !ra[0].IsNull() && !ra[0].IsUndefined() {
				_, _ = reject.Invoke(ra[0])
				return nil
			}
			if len(ra) > 0 {
				ra = ra[1:]
			}
			var first any = safejs.Undefined()
			if len(ra) > 0 {
				first = ra[0]
			}
			_, _ = resolve.Invoke(first)
			return nil
		})
		js.emit(append(append([]safejs.Value(nil), args...), cb.Value()), eff)
		return nil
	})
	p, _ := promise.New(exec.Value())
	exec.Release()
	return p
}

// timeout implements socket.timeout(ms): an object with emit and emitWithAck.
func (js *jsSocket) timeout(args []safejs.Value) any {
	ms := 0.0
	if len(args) > 0 {
		ms, _ = args[0].Float()
	}
	d := time.Duration(ms * float64(time.Millisecond))
	if d <= 0 {
		d = time.Nanosecond
	}
	obj, _ := object()
	_ = js.method(obj, "emit", func(a []safejs.Value) any { js.emit(a, d); return js.obj })
	_ = js.method(obj, "emitWithAck", func(a []safejs.Value) any { return js.emitWithAck(a, d) })
	return obj
}

// argsFromJS converts JavaScript arguments to Go values for the encoder.
func argsFromJS(args []safejs.Value) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		v, err := toGo(a)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func toGo(v safejs.Value) (any, error) {
	switch v.Type() {
	case safejs.TypeUndefined, safejs.TypeNull, safejs.TypeFunction, safejs.TypeSymbol:
		return nil, nil
	case safejs.TypeBoolean:
		return v.Bool()
	case safejs.TypeNumber:
		return v.Float()
	case safejs.TypeString:
		return v.String()
	}
	g := safejs.Global()
	if b, ok := bytesOf(v); ok {
		return b, nil
	}
	arrayCtor, _ := g.Get("Array")
	isArr, _ := arrayCtor.Call("isArray", v)
	if ok, _ := isArr.Bool(); ok {
		n, _ := v.Length()
		out := make([]any, n)
		for i := 0; i < n; i++ {
			e, _ := v.Index(i)
			x, err := toGo(e)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	if tj, _ := v.Get("toJSON"); tj.Type() == safejs.TypeFunction {
		r, err := v.Call("toJSON")
		if err != nil {
			return nil, err
		}
		if r.Type() != safejs.TypeObject {
			return toGo(r)
		}
		v = r
	}
	objCtor, _ := g.Get("Object")
	keys, err := objCtor.Call("keys", v)
	if err != nil {
		return nil, err
	}
	n, _ := keys.Length()
	out := make(map[string]any, n)
	for i := 0; i < n; i++ {
		k, _ := keys.Index(i)
		ks, _ := k.String()
		e, _ := v.Get(ks)
		if e.Type() == safejs.TypeUndefined || e.Type() == safejs.TypeFunction {
			continue
		}
		x, err := toGo(e)
		if err != nil {
			return nil, err
		}
		out[ks] = x
	}
	return out, nil
}

// bytesOf copies an ArrayBuffer or a typed array view into Go.
func bytesOf(v safejs.Value) ([]byte, bool) {
	g := safejs.Global()
	u8, _ := g.Get("Uint8Array")
	ab, _ := g.Get("ArrayBuffer")
	if ok, _ := v.InstanceOf(ab); ok {
		view, err := u8.New(v)
		if err != nil {
			return nil, false
		}
		v = view
	} else if isView, _ := ab.Call("isView", v); !truthy(isView) {
		return nil, false
	} else if ok, _ := v.InstanceOf(u8); !ok {
		buf, _ := v.Get("buffer")
		off, _ := v.Get("byteOffset")
		n, _ := v.Get("byteLength")
		view, err := u8.New(buf, off, n)
		if err != nil {
			return nil, false
		}
		v = view
	}
	n, _ := v.Length()
	b := make([]byte, n)
	_, err := safejs.CopyBytesToGo(b, v)
	return b, err == nil
}

func truthy(v safejs.Value) bool {
	b, _ := v.Truthy()
	return b
}

// argsToJS converts received arguments for JavaScript: JSON values as
// JSON.parse makes them, binary attachments as ArrayBuffer (as
// socket.io-client does in browsers).
func argsToJS(a shared.Args) ([]any, error) {
	out := make([]any, a.Len())
	if len(a.Buffers()) == 0 {
		for i := range out {
			v, err := parseJSON(a.Raw(i))
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	vals, err := a.Values()
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		out[i] = toJS(v)
	}
	return out, nil
}

func parseJSON(raw json.RawMessage) (safejs.Value, error) {
	j, _ := safejs.Global().Get("JSON")
	return j.Call("parse", string(raw))
}

func toJS(v any) any {
	switch t := v.(type) {
	case []byte:
		u8, _ := safejs.Global().Get("Uint8Array")
		arr, _ := u8.New(len(t))
		_, _ = safejs.CopyBytesToJS(arr, t)
		buf, _ := arr.Get("buffer")
		return buf
	case []any:
		arrCtor, _ := safejs.Global().Get("Array")
		arr, _ := arrCtor.New(len(t))
		for i, x := range t {
			_ = arr.SetIndex(i, toJS(x))
		}
		return arr
	case map[string]any:
		obj, _ := object()
		for k, x := range t {
			_ = obj.Set(k, toJS(x))
		}
		return obj
	}
	return v
}
