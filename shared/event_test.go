package shared

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// loopback is both ends of a connection in one value. Emit and EmitWithAck
// encode a packet as a real end does (Encoder, Packet.Message); the message
// goes through DecodeEIO and a Decoder, is split by ParseEvent and dispatched
// to the handlers of a Registry, and acks travel back the same way. So the
// typed events are tested over the real wire encoding.
type loopback struct {
	reg Registry
	dec wire.Decoder

	mu     sync.Mutex
	wire   []string // Engine.IO text messages, in order
	binary [][]byte // binary messages, in order
	errs   []error  // errors returned by handlers
	acks   map[int64]chan Args
	nextID int64
}

var (
	_ Emitter  = (*loopback)(nil)
	_ Caller   = (*loopback)(nil)
	_ Listener = (*loopback)(nil)
)

func (l *loopback) On(event string, h Handler) (off func()) { return l.reg.On(event, h) }
func (l *loopback) Off(event string)                        { l.reg.Off(event) }

func (l *loopback) Emit(event string, args ...any) error {
	return l.emit(event, wire.NoID, args)
}

func (l *loopback) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	ch := make(chan Args, 1)
	l.mu.Lock()
	id := l.nextID
	l.nextID++
	if l.acks == nil {
		l.acks = map[int64]chan Args{}
	}
	l.acks[id] = ch
	l.mu.Unlock()
	if err := l.emit(event, id, args); err != nil {
		return Args{}, err
	}
	select {
	case a := <-ch:
		return a, nil
	case <-ctx.Done():
		l.mu.Lock()
		delete(l.acks, id)
		l.mu.Unlock()
		return Args{}, ErrAckTimeout
	}
}

func (l *loopback) emit(event string, id int64, args []any) error {
	var enc jsoncodec.Encoder
	if err := enc.AppendArgs(event, args); err != nil {
		return err
	}
	p := wire.Packet{Type: wire.EventPacket, Namespace: "/", ID: id, Data: enc.Buf, Buffers: enc.Buffers}
	if len(enc.Buffers) > 0 {
		p.Type = wire.BinaryEvent
	}
	if out := l.reg.AnyOutgoing(); out != nil {
		_, a, err := ParseEvent(p.Data, p.Buffers)
		if err != nil {
			return err
		}
		for _, fn := range out {
			fn(event, a)
		}
	}
	return l.send(p.Message(), p.Buffers...)
}

// send delivers one text message and its binary messages to the other end.
func (l *loopback) send(msg []byte, bufs ...[]byte) error {
	l.mu.Lock()
	l.wire = append(l.wire, string(msg))
	l.binary = append(l.binary, bufs...)
	l.mu.Unlock()
	typ, data, err := wire.DecodeEIO(msg)
	if err != nil {
		return err
	}
	if typ != wire.EIOMessage {
		return fmt.Errorf("unexpected Engine.IO packet %v", typ)
	}
	p, complete, err := l.dec.Text(data)
	for _, b := range bufs {
		if err != nil {
			break
		}
		p, complete, err = l.dec.Binary(b)
	}
	if err != nil {
		return err
	}
	if !complete {
		return fmt.Errorf("%d attachments missing", l.dec.Waiting())
	}
	l.dispatch(p)
	return nil
}

func (l *loopback) dispatch(p wire.Packet) {
	switch p.Type {
	case wire.EventPacket, wire.BinaryEvent:
		name, args, err := ParseEvent(p.Data, p.Buffers)
		if err != nil {
			l.fail(err)
			return
		}
		for _, fn := range l.reg.incoming() {
			fn(name, args)
		}
		var ack AckFunc
		if p.ID != wire.NoID {
			var once sync.Once
			ack = func(args ...any) (err error) {
				err = errors.New("ack sent twice")
				once.Do(func() {
					var enc jsoncodec.Encoder
					if err = enc.AppendArgs("", args); err != nil {
						return
					}
					a := wire.Packet{Type: wire.Ack, Namespace: p.Namespace, ID: p.ID, Data: enc.Buf, Buffers: enc.Buffers}
					if len(enc.Buffers) > 0 {
						a.Type = wire.BinaryAck
					}
					err = l.send(a.Message(), a.Buffers...)
				})
				return err
			}
		}
		for _, h := range l.reg.handlersOf(name) {
			if err := h(args, ack); err != nil {
				l.fail(err)
			}
		}
	case wire.Ack, wire.BinaryAck:
		args, err := ParseArgs(p.Data, p.Buffers)
		if err != nil {
			l.fail(err)
			return
		}
		l.mu.Lock()
		ch := l.acks[p.ID]
		delete(l.acks, p.ID)
		l.mu.Unlock()
		if ch != nil {
			ch <- args
		}
	}
}

func (l *loopback) fail(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

// takeErrs returns and clears the handler errors.
func (l *loopback) takeErrs() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.errs
	l.errs = nil
	return e
}

func (l *loopback) lastWire() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.wire) == 0 {
		return ""
	}
	return l.wire[len(l.wire)-1]
}

// inject sends a raw text message, as another client could.
func (l *loopback) inject(t *testing.T, msg string, bufs ...[]byte) []error {
	t.Helper()
	if err := l.send([]byte(msg), bufs...); err != nil {
		t.Fatalf("inject %s: %v", msg, err)
	}
	return l.takeErrs()
}

type News struct {
	Hello string `json:"hello"`
}

type MyData struct {
	My string `json:"my"`
}

type Upload struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

var (
	NewsEvent    = NewEvent[News]("news")
	MyOtherEvent = NewEvent[MyData]("my other event")
	UploadEvent  = NewEvent[Upload]("upload")
	RawEvent     = NewEvent[[]byte]("raw")
	PairEvent    = NewEvent2[string, int]("pair")
	Echo         = NewRequest[string, string]("echo")
)

func TestEventEmitOn(t *testing.T) {
	l := &loopback{}
	var got []string
	off1 := NewsEvent.On(l, func(n News) { got = append(got, "1:"+n.Hello) })
	NewsEvent.On(l, func(n News) { got = append(got, "2:"+n.Hello) })
	MyOtherEvent.On(l, func(d MyData) { got = append(got, "other:"+d.My) })

	if err := NewsEvent.Emit(l, News{Hello: "world"}); err != nil {
		t.Fatal(err)
	}
	if w := l.lastWire(); w != `42["news",{"hello":"world"}]` {
		t.Fatalf("wire %s", w)
	}
	if err := MyOtherEvent.Emit(l, MyData{My: "data"}); err != nil {
		t.Fatal(err)
	}
	if w := l.lastWire(); w != `42["my other event",{"my":"data"}]` {
		t.Fatalf("wire %s", w)
	}
	off1()
	off1() // idempotent
	NewsEvent.Emit(l, News{Hello: "again"})
	NewsEvent.Off(l)
	NewsEvent.Emit(l, News{Hello: "nobody"})
	want := []string{"1:world", "2:world", "other:data", "2:again"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if l.reg.has("news") || !l.reg.has("my other event") {
		t.Fatal("Off removed the wrong handlers")
	}
	if errs := l.takeErrs(); errs != nil {
		t.Fatal(errs)
	}
	if NewsEvent.Name() != "news" || PairEvent.Name() != "pair" || Echo.Name() != "echo" {
		t.Fatal("Name")
	}
}

func TestEventOnce(t *testing.T) {
	l := &loopback{}
	var got []string
	NewsEvent.Once(l, func(n News) { got = append(got, "once:"+n.Hello) })
	NewsEvent.On(l, func(n News) { got = append(got, "on:"+n.Hello) })
	offNever := NewsEvent.Once(l, func(n News) { got = append(got, "never") })
	offNever()
	NewsEvent.Emit(l, News{Hello: "a"})
	NewsEvent.Emit(l, News{Hello: "b"})
	want := []string{"once:a", "on:a", "on:b"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if n := len(l.reg.handlersOf("news")); n != 1 {
		t.Fatalf("%d handlers left, want 1", n)
	}

	// A Once handler that emits the same event from inside runs only once.
	l2 := &loopback{}
	calls := 0
	NewsEvent.Once(l2, func(n News) {
		calls++
		NewsEvent.Emit(l2, News{Hello: "nested"})
	})
	NewsEvent.Emit(l2, News{Hello: "x"})
	if calls != 1 || l2.reg.has("news") {
		t.Fatalf("calls = %d, has = %v", calls, l2.reg.has("news"))
	}

	// Off removes Once handlers too.
	NewsEvent.Once(l2, func(News) { t.Error("called after Off") })
	NewsEvent.Off(l2)
	NewsEvent.Emit(l2, News{})
}

// A listener that runs a handler while its On is still registering it (a
// replay of buffered events, say) must still see Once fire only once.
type eagerListener struct {
	Registry
	replay Args
}

func (e *eagerListener) On(event string, h Handler) func() {
	off := e.Registry.On(event, h)
	h(e.replay, nil)
	h(e.replay, nil)
	return off
}

func TestEventOnceDuringOn(t *testing.T) {
	args, err := ParseArgs(json.RawMessage(`[{"hello":"replayed"}]`), nil)
	if err != nil {
		t.Fatal(err)
	}
	l := &eagerListener{replay: args}
	calls := 0
	NewsEvent.Once(l, func(n News) {
		if n.Hello != "replayed" {
			t.Errorf("got %+v", n)
		}
		calls++
	})
	if calls != 1 {
		t.Fatalf("calls = %d", calls)
	}
	if l.has("news") {
		t.Fatal("Once handler still registered")
	}
}

func TestEventUndecodable(t *testing.T) {
	l := &loopback{}
	called := 0
	NewsEvent.On(l, func(News) { called++ })
	for _, msg := range []string{
		`42["news",{"hello":42}]`,
		`42["news","a string"]`,
		`42["news",[1,2]]`,
		`42["news",true]`,
		`451-["news",{"_placeholder":true,"num":0}]`,
	} {
		var bufs [][]byte
		if strings.HasPrefix(msg, "45") {
			bufs = [][]byte{[]byte("bin")}
		}
		errs := l.inject(t, msg, bufs...)
		if len(errs) != 1 {
			t.Fatalf("%s: errors %v", msg, errs)
		}
		var de *DecodeError
		if !errors.As(errs[0], &de) || de.Event != "news" || de.Index != 0 {
			t.Fatalf("%s: error %v (%T), want a *DecodeError for news argument 0", msg, errs[0], errs[0])
		}
		var te *json.UnmarshalTypeError
		if !errors.As(errs[0], &te) {
			t.Errorf("%s: %v does not unwrap to the json error", msg, errs[0])
		}
	}
	if called != 0 {
		t.Fatalf("handler called %d times with undecodable payloads", called)
	}
	// A missing argument decodes as null: the zero value.
	var got []News
	NewsEvent.Off(l)
	NewsEvent.On(l, func(n News) { got = append(got, n) })
	if errs := l.inject(t, `42["news"]`); errs != nil {
		t.Fatal(errs)
	}
	if errs := l.inject(t, `42["news",null]`); errs != nil {
		t.Fatal(errs)
	}
	// Extra arguments and unknown fields are ignored.
	if errs := l.inject(t, `42["news",{"hello":"x","other":1},"extra"]`); errs != nil {
		t.Fatal(errs)
	}
	if want := []News{{}, {}, {Hello: "x"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// The Once variant fails the same way.
	l2 := &loopback{}
	NewsEvent.Once(l2, func(News) { t.Error("Once handler called with an undecodable payload") })
	errs := l2.inject(t, `42["news",{"hello":1}]`)
	var de *DecodeError
	if len(errs) != 1 || !errors.As(errs[0], &de) {
		t.Fatalf("Once: %v", errs)
	}
}

func TestEventBinary(t *testing.T) {
	l := &loopback{}
	var got []Upload
	UploadEvent.On(l, func(u Upload) { got = append(got, u) })
	var raws [][]byte
	RawEvent.On(l, func(b []byte) { raws = append(raws, b) })

	if err := UploadEvent.Emit(l, Upload{Name: "f.bin", Data: []byte{0, 1, 2, 255}}); err != nil {
		t.Fatal(err)
	}
	if w := l.lastWire(); w != `451-["upload",{"name":"f.bin","data":{"_placeholder":true,"num":0}}]` {
		t.Fatalf("wire %s", w)
	}
	// Without bytes it is a plain EVENT.
	UploadEvent.Emit(l, Upload{Name: "empty"})
	if w := l.lastWire(); w != `42["upload",{"name":"empty","data":null}]` {
		t.Fatalf("wire %s", w)
	}
	if err := RawEvent.Emit(l, []byte("raw bytes")); err != nil {
		t.Fatal(err)
	}
	if w := l.lastWire(); w != `451-["raw",{"_placeholder":true,"num":0}]` {
		t.Fatalf("wire %s", w)
	}
	// From a JavaScript client: an ArrayBuffer in an object.
	if errs := l.inject(t, `451-["upload",{"name":"js","data":{"_placeholder":true,"num":0}}]`, []byte("from js")); errs != nil {
		t.Fatal(errs)
	}
	want := []Upload{{"f.bin", []byte{0, 1, 2, 255}}, {"empty", nil}, {"js", []byte("from js")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if len(raws) != 1 || string(raws[0]) != "raw bytes" {
		t.Fatalf("raw: %q", raws)
	}
	if errs := l.takeErrs(); errs != nil {
		t.Fatal(errs)
	}
}

func TestEvent2(t *testing.T) {
	l := &loopback{}
	type pair struct {
		A string
		B int
	}
	var got []pair
	PairEvent.On(l, func(a string, b int) { got = append(got, pair{a, b}) })
	if err := PairEvent.Emit(l, "x", 42); err != nil {
		t.Fatal(err)
	}
	if w := l.lastWire(); w != `42["pair","x",42]` {
		t.Fatalf("wire %s", w)
	}
	for _, tc := range []struct {
		msg   string
		index int
	}{
		{`42["pair",1,2]`, 0},
		{`42["pair","a","b"]`, 1},
		{`42["pair","a",1.5]`, 1},
	} {
		errs := l.inject(t, tc.msg)
		var de *DecodeError
		if len(errs) != 1 || !errors.As(errs[0], &de) || de.Event != "pair" || de.Index != tc.index {
			t.Errorf("%s: %v, want a *DecodeError for argument %d", tc.msg, errs, tc.index)
		}
	}
	if errs := l.inject(t, `42["pair","only"]`); errs != nil {
		t.Fatal(errs)
	}
	if want := []pair{{"x", 42}, {"only", 0}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	PairEvent.Off(l)
	PairEvent.Emit(l, "y", 1)
	if len(got) != 2 {
		t.Fatal("Off did not remove the handler")
	}
}

func TestRequest(t *testing.T) {
	ctx := context.Background()
	l := &loopback{}
	var seen []string
	Echo.Handle(l, func(s string) (string, error) {
		seen = append(seen, s)
		if s == "fail" {
			return "", errors.New("boom")
		}
		return strings.ToUpper(s), nil
	})

	res, err := Echo.Call(ctx, l, "hi")
	if err != nil || res != "HI" {
		t.Fatalf("Call = %q, %v", res, err)
	}
	l.mu.Lock()
	wire := append([]string(nil), l.wire...)
	l.mu.Unlock()
	if want := []string{`420["echo","hi"]`, `430["HI"]`}; !reflect.DeepEqual(wire, want) {
		t.Fatalf("wire %q, want %q", wire, want)
	}

	res, err = Echo.Call(ctx, l, "fail")
	var re *RemoteError
	if !errors.As(err, &re) || re.Message != "boom" || res != "" {
		t.Fatalf("Call = %q, %v (%T); want a *RemoteError boom", res, err, err)
	}
	if w := l.lastWire(); w != `431[null,{"message":"boom"}]` {
		t.Fatalf("wire %s", w)
	}
	if re.Error() != "tsunagi: remote error: boom" {
		t.Fatalf("Error() = %q", re.Error())
	}

	// A request that does not decode: the handler is not called, the caller
	// gets an error reply, and the handler's end gets the *DecodeError.
	l.takeErrs()
	badEcho := NewRequest[int, string]("echo")
	res, err = badEcho.Call(ctx, l, 42)
	if !errors.As(err, &re) || !strings.Contains(re.Message, `event "echo" argument 0`) || !strings.Contains(re.Message, "cannot unmarshal number") {
		t.Fatalf("bad request: %q, %v", res, err)
	}
	errs := l.takeErrs()
	var de *DecodeError
	if len(errs) != 1 || !errors.As(errs[0], &de) || de.Event != "echo" {
		t.Fatalf("handler errors %v", errs)
	}

	// A reply that does not decode into Res.
	intEcho := NewRequest[string, int]("echo")
	n, err := intEcho.Call(ctx, l, "x")
	if !errors.As(err, &de) || de.Event != "" || de.Index != 0 || n != 0 {
		t.Fatalf("bad reply: %d, %v (%T)", n, err, err)
	}
	if !strings.HasPrefix(err.Error(), "tsunagi: ack argument 0: ") {
		t.Fatalf("bad reply error %q", err)
	}

	// Without an ack requested, the handler runs and its error stays on its end.
	if err := l.Emit("echo", "fail"); err != nil {
		t.Fatal(err)
	}
	if errs := l.takeErrs(); len(errs) != 1 || errs[0].Error() != "boom" {
		t.Fatalf("no ack: %v", errs)
	}
	if errs := l.inject(t, `42["echo",1]`); len(errs) != 1 || !errors.As(errs[0], &de) {
		t.Fatalf("no ack, bad request: %v", errs)
	}
	if want := []string{"hi", "fail", "x", "fail"}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("handler saw %q, want %q", seen, want)
	}

	// No handler: the call ends with the context.
	Echo.Off(l)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Echo.Call(cctx, l, "nobody"); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("no handler: %v", err)
	}
}

func TestRequestBinary(t *testing.T) {
	l := &loopback{}
	Reverse := NewRequest[[]byte, Upload]("reverse")
	Reverse.Handle(l, func(b []byte) (Upload, error) {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return Upload{Name: "reversed", Data: r}, nil
	})
	res, err := Reverse.Call(context.Background(), l, []byte{1, 2, 3})
	if err != nil || res.Name != "reversed" || string(res.Data) != "\x03\x02\x01" {
		t.Fatalf("Call = %+v, %v", res, err)
	}
	if w := l.lastWire(); w != `461-0[{"name":"reversed","data":{"_placeholder":true,"num":0}}]` {
		t.Fatalf("wire %s", w)
	}
}

// stubCaller answers every call with fixed ack arguments.
type stubCaller struct {
	reply string
	err   error
	event string
	args  []any
}

func (s *stubCaller) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	s.event, s.args = event, args
	if s.err != nil {
		return Args{}, s.err
	}
	return ParseArgs(json.RawMessage(s.reply), nil)
}

// Replies as other Socket.IO servers send them.
func TestRequestReplies(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		reply   string
		res     string
		remote  string // RemoteError message, "" for success
		decode  bool   // a *DecodeError
		callErr error
	}{
		{reply: `["ok"]`, res: "ok"},
		{reply: `["ok",null]`, res: "ok"},
		{reply: `[]`, res: ""},
		{reply: `[null]`, res: ""},
		{reply: `[null,{"message":"nope"}]`, remote: "nope"},
		{reply: `["partial",{"message":"nope","code":3}]`, remote: "nope"},
		{reply: `[null,"plain string"]`, remote: `"plain string"`},
		{reply: `[null,{"code":1}]`, remote: `{"code":1}`},
		{reply: `[null,{"message":""}]`, remote: `{"message":""}`},
		{reply: `[null,42]`, remote: `42`},
		{reply: `[1]`, decode: true},
		{reply: `[{"a":1}]`, decode: true},
		{callErr: ErrAckTimeout},
		{callErr: ErrDisconnected},
	} {
		c := &stubCaller{reply: tc.reply, err: tc.callErr}
		res, err := Echo.Call(ctx, c, "req")
		if c.event != "echo" || len(c.args) != 1 || c.args[0] != "req" {
			t.Errorf("%s: sent %q %v", tc.reply, c.event, c.args)
		}
		var re *RemoteError
		var de *DecodeError
		switch {
		case tc.callErr != nil:
			if !errors.Is(err, tc.callErr) {
				t.Errorf("call error: %v, want %v", err, tc.callErr)
			}
		case tc.remote != "":
			if !errors.As(err, &re) || re.Message != tc.remote {
				t.Errorf("%s: %v, want RemoteError %q", tc.reply, err, tc.remote)
			}
		case tc.decode:
			if !errors.As(err, &de) {
				t.Errorf("%s: %v, want a *DecodeError", tc.reply, err)
			}
		default:
			if err != nil || res != tc.res {
				t.Errorf("%s: %q, %v; want %q", tc.reply, res, err, tc.res)
			}
		}
	}
}

func TestNewEventPanics(t *testing.T) {
	mustPanic := func(what string, want string, f func()) {
		t.Helper()
		defer func() {
			t.Helper()
			r := recover()
			if r == nil {
				t.Errorf("%s did not panic", what)
			} else if !strings.Contains(fmt.Sprint(r), want) {
				t.Errorf("%s panicked with %v, want %q", what, r, want)
			}
		}()
		f()
	}
	for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		want := fmt.Sprintf("%q is reserved", name)
		mustPanic("NewEvent("+name+")", want, func() { NewEvent[News](name) })
		mustPanic("NewEvent2("+name+")", want, func() { NewEvent2[int, int](name) })
		mustPanic("NewRequest("+name+")", want, func() { NewRequest[int, int](name) })
	}
	mustPanic(`NewEvent("")`, "empty event name", func() { NewEvent[News]("") })
	mustPanic(`NewEvent2("")`, "empty event name", func() { NewEvent2[int, int]("") })
	mustPanic(`NewRequest("")`, "empty event name", func() { NewRequest[int, int]("") })
	// Close to reserved is fine.
	for _, name := range []string{"Connect", "connected", "disconnect ", "message", "error", "ünïcode", `with "quotes"`} {
		if e := NewEvent[int](name); e.Name() != name {
			t.Errorf("Name() = %q, want %q", e.Name(), name)
		}
	}
}

func TestRegistryRemoveDuringDispatch(t *testing.T) {
	var r Registry
	var log []string
	var offB, offC func()
	r.On("e", func(Args, AckFunc) error {
		log = append(log, "A")
		offB() // B still runs in this dispatch: the list is a snapshot
		r.On("e", func(Args, AckFunc) error { log = append(log, "D"); return nil })
		return nil
	})
	offB = r.On("e", func(Args, AckFunc) error { log = append(log, "B"); return nil })
	offC = r.On("e", func(Args, AckFunc) error {
		log = append(log, "C")
		offC() // a handler removing itself
		return nil
	})
	dispatch := func() {
		for _, h := range r.handlersOf("e") {
			h(Args{}, nil)
		}
		log = append(log, "|")
	}
	dispatch()
	dispatch()
	want := "A B C | A D |"
	if got := strings.Join(log, " "); got != want {
		t.Fatalf("dispatch order %q, want %q", got, want)
	}
	// Removing twice, or after Off, leaves the others alone.
	offB()
	offC()
	if n := len(r.handlersOf("e")); n != 3 { // A, D, D
		t.Fatalf("%d handlers, want 3", n)
	}
	r.Off("e")
	offB()
	if r.has("e") || len(r.handlersOf("e")) != 0 {
		t.Fatal("Off left handlers")
	}
	// The same func added twice is two registrations.
	h := func(Args, AckFunc) error { return nil }
	off1 := r.On("x", h)
	r.On("x", h)
	off1()
	if n := len(r.handlersOf("x")); n != 1 {
		t.Fatalf("%d handlers, want 1", n)
	}
	if r.has("missing") || len(r.handlersOf("missing")) != 0 {
		t.Fatal("missing event")
	}
}

func TestRegistryAny(t *testing.T) {
	l := &loopback{}
	var in, out []string
	offIn := l.reg.OnAny(func(event string, args Args) {
		v, _ := args.Values()
		in = append(in, fmt.Sprint(event, v))
	})
	l.reg.OnAny(func(event string, args Args) { in = append(in, "second:"+event) })
	offOut := l.reg.OnAnyOutgoing(func(event string, args Args) {
		v, _ := args.Values()
		out = append(out, fmt.Sprint(event, v))
	})
	if len(l.reg.incoming()) != 2 || len(l.reg.AnyOutgoing()) != 1 {
		t.Fatal("Any lists")
	}
	NewsEvent.Emit(l, News{Hello: "w"}) // no handler: catch-alls still see it
	PairEvent.Emit(l, "p", 1)
	if want := []string{"news[map[hello:w]]", "second:news", "pair[p 1]", "second:pair"}; !reflect.DeepEqual(in, want) {
		t.Fatalf("incoming %q, want %q", in, want)
	}
	if want := []string{"news[map[hello:w]]", "pair[p 1]"}; !reflect.DeepEqual(out, want) {
		t.Fatalf("outgoing %q, want %q", out, want)
	}
	offIn()
	offIn()
	NewsEvent.Emit(l, News{})
	if len(in) != 5 || in[4] != "second:news" || len(out) != 3 {
		t.Fatalf("after offIn: %q %q", in, out)
	}
	l.reg.OffAny()
	if l.reg.incoming() != nil || len(l.reg.AnyOutgoing()) != 1 {
		t.Fatal("OffAny removed the wrong listeners")
	}
	NewsEvent.Emit(l, News{})
	if len(in) != 5 || len(out) != 4 {
		t.Fatalf("after OffAny: %q %q", in, out)
	}
	offOut()
	l.reg.OnAnyOutgoing(func(string, Args) { out = append(out, "new") })
	l.reg.OffAnyOutgoing()
	NewsEvent.Emit(l, News{})
	if len(out) != 4 || l.reg.AnyOutgoing() != nil {
		t.Fatalf("after OffAnyOutgoing: %q", out)
	}
	// A catch-all removing itself during dispatch.
	var offSelf func()
	calls := 0
	offSelf = l.reg.OnAny(func(string, Args) { calls++; offSelf() })
	NewsEvent.Emit(l, News{})
	NewsEvent.Emit(l, News{})
	if calls != 1 {
		t.Fatalf("self-removing catch-all called %d times", calls)
	}
}

func TestRegistryConcurrent(t *testing.T) {
	var r Registry
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := fmt.Sprint("e", g%2)
			for range 200 {
				off := r.On(ev, func(Args, AckFunc) error { return nil })
				offAny := r.OnAny(func(string, Args) {})
				offOut := r.OnAnyOutgoing(func(string, Args) {})
				for _, h := range r.handlersOf(ev) {
					h(Args{}, nil)
				}
				_ = r.has(ev)
				_ = r.incoming()
				_ = r.AnyOutgoing()
				off()
				offAny()
				offOut()
			}
			r.Off(ev)
			r.OffAny()
			r.OffAnyOutgoing()
		}()
	}
	wg.Wait()
	if r.has("e0") || r.has("e1") || r.incoming() != nil || r.AnyOutgoing() != nil {
		t.Fatal("handlers left")
	}
}

// Once must fire exactly once even when the end dispatches concurrently.
func TestEventOnceConcurrent(t *testing.T) {
	var r Registry
	var mu sync.Mutex
	calls := 0
	NewsEvent.Once(&r, func(News) { mu.Lock(); calls++; mu.Unlock() })
	args, _ := ParseArgs(json.RawMessage(`[{"hello":"x"}]`), nil)
	hs := r.handlersOf("news")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, h := range hs {
				h(args, nil)
			}
		}()
	}
	wg.Wait()
	if calls != 1 || r.has("news") {
		t.Fatalf("calls = %d, has = %v", calls, r.has("news"))
	}
}
