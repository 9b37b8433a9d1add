package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

// peer is a raw Socket.IO client: one WebSocket, joined to some namespaces,
// that records what it receives exactly as it arrives.
type peer struct {
	t   *testing.T
	ws  *websocket.Conn
	sid map[string]string // namespace → socket id
}

// newPeer connects to url and joins nsps over one connection.
func newPeer(t *testing.T, url string, nsps ...string) *peer {
	t.Helper()
	p := &peer{t: t, ws: rawDial(t, url), sid: map[string]string{}}
	readText(t, p.ws) // open
	for _, nsp := range nsps {
		p.connect(nsp, "")
	}
	return p
}

// connectPacket is CONNECT to nsp with an auth payload.
func connectPacket(nsp, auth string) string {
	if nsp == "/" {
		return "40" + auth
	}
	return "40" + nsp + "," + auth
}

// connect joins nsp and returns the server's reply; it fails the test
// unless the reply accepts.
func (p *peer) connect(nsp, auth string) {
	p.t.Helper()
	if reply := p.tryConnect(nsp, auth); !strings.HasPrefix(reply, "40") {
		p.t.Fatalf("CONNECT %s: %q", nsp, reply)
	}
}

// tryConnect sends CONNECT and returns the reply (40… or 44…).
func (p *peer) tryConnect(nsp, auth string) string {
	p.t.Helper()
	writeText(p.t, p.ws, connectPacket(nsp, auth))
	reply := p.next()
	prefix := "40"
	if nsp != "/" {
		prefix = "40" + nsp + ","
	}
	if rest, ok := strings.CutPrefix(reply, prefix); ok {
		var hs struct{ SID string }
		if err := json.Unmarshal([]byte(rest), &hs); err != nil || hs.SID == "" {
			p.t.Fatalf("CONNECT %s: reply %q", nsp, reply)
		}
		p.sid[nsp] = hs.SID
	}
	return reply
}

// next returns the next text message, answering pings.
func (p *peer) next() string {
	p.t.Helper()
	for {
		msg := readText(p.t, p.ws)
		if msg == "2" {
			writeText(p.t, p.ws, "3")
			continue
		}
		return msg
	}
}

// until reads up to the event named end (on "/") and returns what came
// before it as "nsp event" strings, in order; other packets as they are.
func (p *peer) until(end string) []string {
	p.t.Helper()
	var got []string
	for {
		msg := p.next()
		nsp, event := parseEvent(msg)
		if event == "" {
			got = append(got, msg)
			continue
		}
		if nsp == "/" && event == end {
			return got
		}
		got = append(got, nsp+" "+event)
	}
}

// parseEvent splits an EVENT message into its namespace and event name.
func parseEvent(msg string) (nsp, event string) {
	rest, ok := strings.CutPrefix(msg, "42")
	if !ok {
		return "", ""
	}
	nsp = "/"
	if strings.HasPrefix(rest, "/") {
		i := strings.IndexByte(rest, ',')
		nsp, rest = rest[:i], rest[i+1:]
	}
	rest = strings.TrimLeft(rest, "0123456789")
	var arr []json.RawMessage
	if json.Unmarshal([]byte(rest), &arr) != nil || len(arr) == 0 {
		return "", ""
	}
	var name string
	json.Unmarshal(arr[0], &name)
	return nsp, name
}

// registry maps socket ids to the server's sockets, from OnConnection.
type registry struct {
	mu    sync.Mutex
	socks map[string]*server.Socket
}

func (r *registry) add(s *server.Socket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.socks == nil {
		r.socks = map[string]*server.Socket{}
	}
	r.socks[s.ID()] = s
}

func (r *registry) get(t *testing.T, p *peer, nsp string) *server.Socket {
	t.Helper()
	var s *server.Socket
	wait.For(t, "the server socket of "+p.sid[nsp]+" on "+nsp, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		s = r.socks[p.sid[nsp]]
		return s != nil
	})
	return s
}

func ids(socks []*server.Socket) []string {
	out := make([]string, 0, len(socks))
	for _, s := range socks {
		out = append(out, s.ID())
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestBroadcastSemantics checks who receives what for each target form,
// with real sockets: four on "/" in rooms r1 {a, b} and r2 {b, c}, d in
// none, and e on "/" and, over the same connection, on "/other" where it
// is in a room also named r1. Each peer reads up to an end marker sent
// after the operation, so what it did not receive is known, and a
// duplicate would show.
func TestBroadcastSemantics(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	other := srv.Of("/other")
	var reg registry
	srv.OnConnection(reg.add)
	other.OnConnection(reg.add)

	a := newPeer(t, url, "/")
	b := newPeer(t, url, "/")
	c := newPeer(t, url, "/")
	d := newPeer(t, url, "/")
	e := newPeer(t, url, "/", "/other")
	A, B, C := reg.get(t, a, "/"), reg.get(t, b, "/"), reg.get(t, c, "/")
	E := reg.get(t, e, "/other")
	A.Join("r1")
	B.Join("r1", "r2")
	C.Join("r2")
	E.Join("r1")
	peers := map[string]*peer{"a": a, "b": b, "c": c, "d": d, "e": e}
	mains := map[string]*server.Socket{}
	for name, p := range peers {
		mains[name] = reg.get(t, p, "/")
	}

	x := func(t *server.Broadcast) func() error { return func() error { return t.Emit("x", 1) } }
	all := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		name string
		op   func() error
		main []string // peers that get "x" on "/"
		oth  []string // peers that get "x" on "/other"
	}{
		{"io.Emit", func() error { return srv.Emit("x") }, all, nil},
		{"To(r1)", x(srv.To("r1")), []string{"a", "b"}, nil},
		{"In(r1)", x(srv.In("r1")), []string{"a", "b"}, nil},
		{"To(r1, r2): union, once each", x(srv.To("r1", "r2")), []string{"a", "b", "c"}, nil},
		{"To(r1).To(r2): chained", x(srv.To("r1").To("r2")), []string{"a", "b", "c"}, nil},
		{"To(r1, r1)", x(srv.To("r1", "r1")), []string{"a", "b"}, nil},
		{"Except(r2)", x(srv.Except("r2")), []string{"a", "d", "e"}, nil},
		{"To(r1).Except(r2)", x(srv.To("r1").Except("r2")), []string{"a"}, nil},
		{"Except(r2).To(r1): order does not matter", x(srv.Except("r2").To("r1")), []string{"a"}, nil},
		{"To(r1).Except(b's id)", x(srv.To("r1").Except(B.ID())), []string{"a"}, nil},
		{"To(c's id): a socket id is a room", x(srv.To(C.ID())), []string{"c"}, nil},
		{"To(unknown room)", x(srv.To("nobody")), nil, nil},
		{"To(r1, r2).Except(r1, r2)", x(srv.To("r1", "r2").Except("r1", "r2")), nil, nil},
		{"socket.To(r1): all but the sender", x(A.To("r1")), []string{"b"}, nil},
		{"socket.To(r2) from outside the room", x(A.To("r2")), []string{"b", "c"}, nil},
		{"socket.Broadcast()", x(A.Broadcast()), []string{"b", "c", "d", "e"}, nil},
		{"socket.Except(r2)", x(A.Except("r2")), []string{"d", "e"}, nil},
		{"socket.Broadcast().To(r1).Except(r2)", x(A.Broadcast().To("r1").Except("r2")), nil, nil},
		{"Of(/other).Emit: namespace isolation", x(other.To()), nil, []string{"e"}},
		{"Of(/other).To(r1): rooms are per namespace", x(other.To("r1")), nil, []string{"e"}},
		{"Of(/other).To(r2)", x(other.To("r2")), nil, nil},
		{"socket on /other: Broadcast() excludes itself", x(E.Broadcast()), nil, nil},
		{"Volatile with empty queues", x(srv.Of("/").Volatile()), all, nil},
		{"Local", x(srv.Of("/").Local()), all, nil},
		{"Compress(false)", x(srv.Of("/").Compress(false)), all, nil},
		{"a kept target is not changed by what is chained on it", func() error {
			t1 := srv.To("r1")
			_ = t1.Except("r1").To("r2")
			return t1.Emit("x")
		}, []string{"a", "b"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); err != nil {
				t.Fatal(err)
			}
			for _, name := range all {
				if err := mains[name].Emit("end"); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range all {
				var want []string
				if slices.Contains(tc.main, name) {
					want = append(want, "/ x")
				}
				if slices.Contains(tc.oth, name) {
					want = append(want, "/other x")
				}
				if got := peers[name].until("end"); !slices.Equal(got, want) {
					t.Errorf("%s received %q, want %q", name, got, want)
				}
			}
		})
	}
}

// TestBroadcastTargets: on a target, Sockets, FetchSockets (with each
// socket's Data), Join, Leave and Disconnect act on the targeted sockets only.
func TestBroadcastTargets(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	var reg registry
	reasons := make(chan string, 8)
	srv.OnConnection(func(s *server.Socket) {
		reg.add(s)
		s.OnDisconnect(func(r string) { reasons <- s.ID() + " " + r })
	})
	a, b, c := newPeer(t, url, "/"), newPeer(t, url, "/"), newPeer(t, url, "/")
	A, B, C := reg.get(t, a, "/"), reg.get(t, b, "/"), reg.get(t, c, "/")
	A.Join("r1")
	B.Join("r1", "r2")
	C.Join("r2")
	A.SetData("data of a")
	B.SetData(map[string]int{"b": 2})

	if got, want := ids(srv.To("r1").Sockets()), sorted(A.ID(), B.ID()); !slices.Equal(got, want) {
		t.Errorf("To(r1).Sockets() = %v, want %v", got, want)
	}
	if got, want := ids(srv.Except("r1").Sockets()), sorted(C.ID()); !slices.Equal(got, want) {
		t.Errorf("Except(r1).Sockets() = %v, want %v", got, want)
	}
	if got := len(srv.Of("/").Sockets()); got != 3 {
		t.Errorf("Sockets() has %d, want 3", got)
	}

	fetched, err := srv.To("r1").FetchSockets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{}
	for _, rs := range fetched {
		data[rs.ID] = rs.Data
		if want := sorted(reg.get(t, map[string]*peer{A.ID(): a, B.ID(): b}[rs.ID], "/").Rooms()...); !slices.Equal(sorted(rs.Rooms...), want) {
			t.Errorf("%s: Rooms %v, want %v", rs.ID, rs.Rooms, want)
		}
		if rs.Handshake.Address == "" || rs.Handshake.Time.IsZero() {
			t.Errorf("%s: handshake %+v", rs.ID, rs.Handshake)
		}
	}
	if len(fetched) != 2 || data[A.ID()] != "data of a" || fmt.Sprint(data[B.ID()]) != "map[b:2]" {
		t.Errorf("FetchSockets: %v", data)
	}
	if C.Data() != nil {
		t.Errorf("c's Data = %v, want nil: Data is per socket", C.Data())
	}

	// Join and Leave on a target.
	srv.To("r2").Join("r3", "r4")
	if got, want := ids(srv.To("r3").Sockets()), sorted(B.ID(), C.ID()); !slices.Equal(got, want) {
		t.Errorf("after To(r2).Join(r3): r3 = %v, want %v", got, want)
	}
	srv.In("r1").Leave("r2", "r4")
	if got, want := ids(srv.To("r2").Sockets()), sorted(C.ID()); !slices.Equal(got, want) {
		t.Errorf("after In(r1).Leave(r2): r2 = %v, want %v", got, want)
	}
	if got, want := sorted(B.Rooms()...), sorted(B.ID(), "r1", "r3"); !slices.Equal(got, want) {
		t.Errorf("b's rooms = %v, want %v", got, want)
	}
	fetched[0].Join("r5") // a RemoteSocket acts on its own socket
	if got := srv.To("r5").Sockets(); len(got) != 1 || got[0].ID() != fetched[0].ID {
		t.Errorf("RemoteSocket.Join: r5 = %v", ids(got))
	}

	// Disconnect on a target: c only, and its client hears DISCONNECT.
	srv.To("r2").Except("r1").Disconnect(false)
	if r := recv(t, reasons); r != C.ID()+" "+server.ReasonServerDisconnect {
		t.Errorf("disconnect: %q", r)
	}
	if got := c.next(); got != "41" {
		t.Errorf("c received %q, want DISCONNECT", got)
	}
	if got, want := ids(srv.Of("/").Sockets()), sorted(A.ID(), B.ID()); !slices.Equal(got, want) {
		t.Errorf("after Disconnect: %v, want %v", got, want)
	}
	if got := C.Rooms(); len(got) != 0 {
		t.Errorf("a disconnected socket is still in %v", got)
	}
	C.Join("late")
	if got := srv.To("late").Sockets(); len(got) != 0 {
		t.Errorf("a disconnected socket joined a room")
	}
}

// TestBroadcastEmitWithAck: one reply per targeted socket; a socket that
// does not answer makes it end at the deadline with ErrAckTimeout and the
// replies it got; one that leaves ends it early with ErrDisconnected.
func TestBroadcastEmitWithAck(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	var reg registry
	srv.OnConnection(reg.add)
	var peers []*peer
	for i := range 3 {
		p := newPeer(t, url, "/")
		peers = append(peers, p)
		reg.get(t, p, "/").Join("r")
		go answer(p, strconv.Itoa(i))
	}
	silent := newPeer(t, url, "/")
	S := reg.get(t, silent, "/")

	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	replies, err := srv.To("r").EmitWithAck(ctx, "q", "hi")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range replies {
		var s string
		r.Decode(0, &s)
		got = append(got, s)
	}
	if slices.Sort(got); !slices.Equal(got, []string{"0 hi", "1 hi", "2 hi"}) {
		t.Errorf("replies %q", got)
	}

	// Nobody targeted: at once, no error.
	if replies, err := srv.To("empty").EmitWithAck(ctx, "q"); err != nil || len(replies) != 0 {
		t.Errorf("empty target: %v, %v", replies, err)
	}

	// One silent socket: the others' replies and ErrAckTimeout, at the
	// deadline under test (1 s), which is not a wait.
	S.Join("r")
	short, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	replies, err = srv.To("r").EmitWithAck(short, "q", "again")
	if !errors.Is(err, shared.ErrAckTimeout) || len(replies) != 3 {
		t.Errorf("with a silent socket: %d replies, %v", len(replies), err)
	}

	// The silent socket leaves: the broadcast ends before its deadline.
	done := make(chan error, 1)
	go func() {
		_, err := srv.To("r").EmitWithAck(context.Background(), "q", "bye")
		done <- err
	}()
	// Once the silent client has the "bye", the broadcast waits on it.
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatal("the silent client did not get the broadcast")
		}
		if strings.Contains(silent.next(), `"bye"`) {
			break
		}
	}
	S.Disconnect(false)
	if err := wait.Recv(t, "EmitWithAck to end when the socket it waits on leaves", done); !errors.Is(err, shared.ErrDisconnected) {
		t.Errorf("after the silent socket left: %v", err)
	}
}

// answer replies to each acked event p receives with "<tag> <first arg>".
func answer(p *peer, tag string) {
	for {
		_, msg, err := p.ws.Read(context.Background())
		if err != nil {
			return
		}
		s := string(msg)
		if s == "2" {
			p.ws.Write(context.Background(), websocket.MessageText, []byte("3"))
			continue
		}
		rest, ok := strings.CutPrefix(s, "42")
		if !ok {
			continue
		}
		i := strings.IndexByte(rest, '[')
		id := rest[:i]
		if id == "" {
			continue
		}
		var arr []string
		json.Unmarshal([]byte(rest[i:]), &arr)
		reply, _ := json.Marshal([]string{tag + " " + arr[1]})
		p.ws.Write(context.Background(), websocket.MessageText, []byte("43"+id+string(reply)))
	}
}

// TestNamespacesOverOneConnection: one client joins three namespaces over
// one WebSocket; each namespace has its own handlers, middleware and
// rooms, and a broadcast in one never reaches the others.
func TestNamespacesOverOneConnection(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, nil)
	var reg registry
	srv.OnConnection(reg.add)
	admin := srv.Of("/admin")
	admin.Use(func(s *server.Socket) error {
		var auth struct{ Role string }
		json.Unmarshal(s.Handshake().Auth, &auth)
		if auth.Role != "admin" {
			return &server.ConnectError{Message: "admins only", Data: map[string]string{"need": "role"}}
		}
		return nil
	})
	admin.OnConnection(func(s *server.Socket) {
		reg.add(s)
		s.Emit("welcome", "admin")
	})
	chat := srv.Of("/chat")
	chat.OnConnection(func(s *server.Socket) {
		reg.add(s)
		s.On("say", func(a shared.Args, ack shared.AckFunc) error {
			var m string
			a.Decode(0, &m)
			if err := s.Broadcast().Emit("said", m); err != nil {
				return err
			}
			return ack()
		})
	})

	p := newPeer(t, url, "/")
	if got := p.tryConnect("/admin", `{"role":"guest"}`); got != `44/admin,{"message":"admins only","data":{"need":"role"}}` {
		t.Fatalf("refused CONNECT: %q", got)
	}
	if got := p.tryConnect("/nowhere", ""); got != `44/nowhere,{"message":"Invalid namespace"}` {
		t.Fatalf("unknown namespace: %q", got)
	}
	p.connect("/admin", `{"role":"admin"}`)
	if got := p.next(); got != `42/admin,["welcome","admin"]` {
		t.Fatalf("welcome: %q", got)
	}
	p.connect("/chat", "")
	if len(p.sid) != 3 || p.sid["/"] == p.sid["/admin"] || p.sid["/admin"] == p.sid["/chat"] {
		t.Fatalf("socket ids %v: one per namespace", p.sid)
	}
	q := newPeer(t, url, "/chat")

	srv.Of("/admin").Emit("x")
	srv.Of("/chat").Emit("x")
	writeText(t, q.ws, `42/chat,5["say","hello"]`)
	if got := q.next(); got != `42/chat,["x"]` {
		t.Fatalf("q: %q", got)
	}
	if got := q.next(); got != "43/chat,5[]" {
		t.Fatalf("say's ack: %q", got)
	}
	reg.get(t, p, "/").Emit("end")
	if got, want := p.until("end"), []string{"/admin x", "/chat x", "/chat said"}; !slices.Equal(got, want) {
		t.Errorf("p received %q, want %q", got, want)
	}
	// Rooms are per namespace even on one connection.
	reg.get(t, p, "/admin").Join("ops")
	if n := len(srv.To("ops").Sockets()); n != 0 {
		t.Errorf("a room of /admin shows in /: %d sockets", n)
	}
	// Leaving one namespace keeps the others.
	writeText(t, p.ws, "41/admin,")
	wait.For(t, "the /admin socket gone after DISCONNECT", func() bool { return len(srv.Of("/admin").Sockets()) == 0 })
	srv.Of("/admin").Emit("y")
	srv.Of("/chat").Emit("y")
	reg.get(t, p, "/").Emit("end")
	if got, want := p.until("end"), []string{"/chat y"}; !slices.Equal(got, want) {
		t.Errorf("after leaving /admin, p received %q, want %q", got, want)
	}
}

// TestDynamicNamespaces: a regexp and a function create child namespaces
// on first CONNECT; each child runs the parent's middleware and handlers,
// names that match nothing get "Invalid namespace", static namespaces win,
// and the parent reaches every child.
func TestDynamicNamespaces(t *testing.T) {
	t.Parallel()
	srv, url, _ := start(t, &server.Options{CleanupEmptyChildNamespaces: true})
	var reg registry
	srv.Of("/dyn-7").OnConnection(func(s *server.Socket) { reg.add(s); s.Emit("static") })
	dyn := srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
	dyn.Use(func(s *server.Socket) error {
		if s.Handshake().Query.Get("key") != "k" {
			return errors.New("no key")
		}
		return nil
	})
	dyn.OnConnection(func(s *server.Socket) {
		reg.add(s)
		s.Emit("hello", s.Namespace().Name())
	})
	byTenant := srv.OfFunc(func(name string, hs server.Handshake) bool {
		var auth struct{ Tenant string }
		json.Unmarshal(hs.Auth, &auth)
		return name == "/tenant-"+auth.Tenant
	})
	byTenant.OnConnection(func(s *server.Socket) { reg.add(s) })

	ws := rawDialQuery(t, url, "key=k")
	pk := &peer{t: t, ws: ws, sid: map[string]string{}}
	readText(t, ws)
	pk.connect("/dyn-1", "")
	if got := pk.next(); got != `42/dyn-1,["hello","/dyn-1"]` {
		t.Errorf("child's handler: %q", got)
	}
	pk.connect("/dyn-22", "")
	pk.next()
	if got := pk.tryConnect("/dyn-x", ""); got != `44/dyn-x,{"message":"Invalid namespace"}` {
		t.Errorf("no match: %q", got)
	}
	pk.connect("/dyn-7", "") // static wins over the pattern
	if got := pk.next(); got != `42/dyn-7,["static"]` {
		t.Errorf("static namespace: %q", got)
	}
	// The parent's middleware runs for its children.
	nokey := newPeer(t, url)
	if got := nokey.tryConnect("/dyn-3", ""); got != `44/dyn-3,{"message":"no key"}` {
		t.Errorf("parent middleware: %q", got)
	}
	// A function sees the handshake.
	if got := nokey.tryConnect("/tenant-acme", `{"tenant":"other"}`); !strings.HasPrefix(got, "44") {
		t.Errorf("OfFunc refused nothing: %q", got)
	}
	nokey.connect("/tenant-acme", `{"tenant":"acme"}`)

	names := func(nss []*server.Namespace) []string {
		var out []string
		for _, ns := range nss {
			out = append(out, ns.Name())
		}
		slices.Sort(out)
		return out
	}
	if got := names(dyn.Children()); !slices.Equal(got, []string{"/dyn-1", "/dyn-22"}) {
		t.Errorf("children %v", got)
	}
	if got := names(byTenant.Children()); !slices.Equal(got, []string{"/tenant-acme"}) {
		t.Errorf("children %v", got)
	}
	// The parent reaches every child; a child is a namespace of its own.
	dyn.Emit("all")
	srv.Of("/dyn-22").Emit("one")
	reg.get(t, pk, "/dyn-1").Emit("end") // on /dyn-1: read up to it by hand
	var got []string
	for {
		msg := pk.next()
		if msg == `42/dyn-1,["end"]` {
			break
		}
		nsp, ev := parseEvent(msg)
		got = append(got, nsp+" "+ev)
	}
	slices.Sort(got) // children in any order
	if want := []string{"/dyn-1 all", "/dyn-22 all", "/dyn-22 one"}; !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
	// With CleanupEmptyChildNamespaces, an empty child goes, and comes
	// back on the next CONNECT.
	old := reg.get(t, pk, "/dyn-1").Namespace()
	writeText(t, ws, "41/dyn-1,")
	wait.For(t, "the empty child removed", func() bool { return !slices.Contains(names(dyn.Children()), "/dyn-1") })
	pk.connect("/dyn-1", "")
	pk.next()
	if ns := reg.get(t, pk, "/dyn-1").Namespace(); ns == old || ns.Parent() != dyn {
		t.Errorf("the child was not created anew")
	}
}

func rawDialQuery(t *testing.T, url, query string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket&"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}
