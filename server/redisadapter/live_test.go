//go:build !js

package redisadapter_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server/redisadapter"
)

// TestLiveNodeRedisAdapter checks the codec against the real thing: a Node
// socket.io 4.8.4 server with @socket.io/redis-adapter 8.3.0 (ioredis) and a
// socket.io-client in room "r", over a real redis-server on loopback. Go
// decodes what Node publishes for io.to("r").emit(...), and Node's client
// receives what Go publishes.
func TestLiveNodeRedisAdapter(t *testing.T) {
	modules := testenv.NodeModules(t)
	for _, pkg := range []string{"@socket.io/redis-adapter", "ioredis"} {
		if _, err := os.Stat(filepath.Join(modules, pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s not found in %s: run scripts/test, which installs it (or set TSUNAGI_NODE_MODULES)", pkg, modules)
		}
	}
	port := startRedis(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	cmd := exec.Command(testenv.Node(t), filepath.Join("testdata", "node_server.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "REDIS_PORT="+strconv.Itoa(port))
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	node := testenv.Start(t, cmd)
	t.Cleanup(func() { stdin.Close() })
	nodeUID := node.WaitOutput(t, wait.Deadline(), `ready uid=(\S+)\n`)[1]

	ctl := dialRESP(t, addr)
	// The adapter PSUBSCRIBEs without waiting for the reply: wait until
	// Redis has Node's pattern, before Go's own is added.
	wait.For(t, "Node's PSUBSCRIBE socket.io#/#*", func() bool {
		n, err := ctl.do("PUBSUB", "NUMPAT")
		return err == nil && n == int64(1)
	})

	const goUID = "gouid1"
	ch := redisadapter.NewChannels("", "/", goUID)
	sub := dialRESP(t, addr)
	if err := sub.send("PSUBSCRIBE", ch.Pattern); err != nil {
		t.Fatal(err)
	}
	msgs := make(chan []any, 16)
	go func() {
		defer close(msgs)
		for {
			v, err := sub.read(false)
			if err != nil {
				return
			}
			if a, ok := v.([]any); ok {
				msgs <- a
			}
		}
	}()
	if got := wait.Recv(t, "the PSUBSCRIBE reply", msgs); len(got) != 3 || got[0] != "psubscribe" || got[1] != ch.Pattern {
		t.Fatalf("PSUBSCRIBE reply = %q", got)
	}

	// (a) Node → Go.
	if _, err := io.WriteString(stdin, "broadcast\n"); err != nil {
		t.Fatal(err)
	}
	got := wait.Recv(t, "Node's broadcast", msgs)
	if len(got) != 4 || got[0] != "pmessage" {
		t.Fatalf("got %q, want a pmessage", got)
	}
	channel, payload := got[2].(string), []byte(got[3].(string))
	if channel != ch.Room("r") {
		t.Errorf("channel = %q, want %q", channel, ch.Room("r"))
	}
	msg, err := redisadapter.DecodeBroadcastMessage(payload)
	if err != nil {
		t.Fatalf("DecodeBroadcastMessage(%x): %v", payload, err)
	}
	if msg.UID != nodeUID || msg.Packet.Nsp != "/" {
		t.Errorf("uid, nsp = %q, %q; want %q, /", msg.UID, msg.Packet.Nsp, nodeUID)
	}
	if want := (redisadapter.BroadcastOptions{Rooms: []string{"r"}}); !reflect.DeepEqual(msg.Opts, want) {
		t.Errorf("opts = %+v, want %+v", msg.Opts, want)
	}
	var data struct {
		_msgpack struct{} `msgpack:",as_array"`
		Event    string
		Obj      map[string]int
		Bin      []byte
	}
	var args []any
	if err := msg.Packet.Data.Decode(&args); err != nil || len(args) != 3 {
		t.Fatalf("data %x: %d values, %v; want 3", []byte(msg.Packet.Data), len(args), err)
	}
	if err := msg.Packet.Data.Decode(&data); err != nil {
		t.Fatalf("decode data %x: %v", []byte(msg.Packet.Data), err)
	}
	if data.Event != "hello" || !reflect.DeepEqual(data.Obj, map[string]int{"a": 1}) || !bytes.Equal(data.Bin, []byte{1, 2, 3}) {
		t.Errorf("data = %q %v %v, want hello map[a:1] [1 2 3]", data.Event, data.Obj, data.Bin)
	}
	// Go writes what Node wrote, byte for byte.
	if again, err := msg.Encode(); err != nil || !bytes.Equal(again, payload) {
		t.Errorf("Encode(Decode(Node's message)) = %x, %v; want Node's %x", again, err, payload)
	}

	// (b) Go → Node.
	goData, err := redisadapter.EventData("fromgo", "from Go", []byte{4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	out := redisadapter.BroadcastMessage{
		UID:    goUID,
		Packet: redisadapter.Packet{Data: goData, Nsp: "/"},
		Opts:   redisadapter.BroadcastOptions{Rooms: []string{"r"}},
	}
	b, err := out.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Node's pattern and Go's own receive it.
	if n, err := ctl.do("PUBLISH", ch.BroadcastChannel(out.Opts.Rooms), string(b)); err != nil || n != int64(2) {
		t.Fatalf("PUBLISH = %v, %v; want 2 receivers", n, err)
	}
	if m := node.WaitOutput(t, wait.Deadline(), `fromgo (.*)\n`)[1]; m != `["from Go",{"bin":[4,5,6]}]` {
		t.Errorf("Node's client got fromgo %s, want [\"from Go\",{\"bin\":[4,5,6]}]", m)
	}
}

// startRedis starts a redis-server for the test and returns its port.
func startRedis(t *testing.T) int { return testenv.StartRedis(t).Port }

// respConn is a minimal RESP2 client: enough for PUBLISH, PUBSUB and
// PSUBSCRIBE.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRESP(t *testing.T, addr string) *respConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait.Deadline())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &respConn{c: c, r: bufio.NewReader(c)}
}

func (c *respConn) send(args ...string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.c.SetWriteDeadline(time.Now().Add(wait.Deadline()))
	_, err := c.c.Write(b.Bytes())
	return err
}

// do sends a command and reads its reply within wait.Deadline().
func (c *respConn) do(args ...string) (any, error) {
	if err := c.send(args...); err != nil {
		return nil, err
	}
	return c.read(true)
}

// read reads one reply: a string (simple or bulk, binary safe), an int64,
// nil, or a []any. An error reply is an error. With deadline, it fails
// after wait.Deadline(); without, it blocks until the connection closes.
func (c *respConn) read(deadline bool) (any, error) {
	if deadline {
		c.c.SetReadDeadline(time.Now().Add(wait.Deadline()))
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("bad RESP line %q", line)
	}
	kind, rest := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return rest, nil
	case '-':
		return nil, errors.New(rest)
	case ':':
		return strconv.ParseInt(rest, 10, 64)
	case '$', '*':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 || n > 1<<20 {
			return nil, fmt.Errorf("bad RESP length %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		if kind == '$' {
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				return nil, err
			}
			return string(buf[:n]), nil
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = c.read(deadline); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("bad RESP type %q", line)
}
