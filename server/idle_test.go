package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
)

// idleClientsEnv makes the test binary a process of idle clients for
// TestIdleConnectionMemory: "URL N". Run apart, their memory does not
// blur the server's.
const idleClientsEnv = "TSUNAGI_IDLE_CLIENTS"

// TestIdleConnectionMemory holds N idle connections, heartbeats running,
// and reports the server's memory (heap and goroutine stacks in use) and
// goroutines per connection. The clients run in a child process.
//
//	go test -run TestIdleConnectionMemory -v ./server/
func TestIdleConnectionMemory(t *testing.T) {
	if os.Getenv(idleClientsEnv) != "" {
		t.Skip("child process")
	}
	n := 2000
	if raceEnabled || testing.Short() {
		n = 200
	}
	ping := time.Second
	_, url, _ := start(t, &server.Options{PingInterval: ping, PingTimeout: 5 * time.Second})

	before := sampleServer()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientProcess$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", idleClientsEnv, url, n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the clients hang up
		if err := cmd.Wait(); err != nil {
			t.Errorf("client process: %v", err)
		}
	}()
	// The child's lines: "ready", then "round k" once each of its clients
	// has answered its k-th ping.
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // the test framework's output, unread
			}
		}
	}()
	awaitLine := func(want string, within time.Duration) {
		t.Helper()
		timer := time.NewTimer(within)
		defer timer.Stop()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("client process ended before saying %q", want)
				}
				if l == want {
					return
				}
			case <-timer.C:
				t.Fatalf("client process did not say %q in %v", want, within)
			}
		}
	}
	awaitLine("ready", 2*time.Minute+wait.Deadline()) // 2,000 dials

	// Let every connection answer two pings, then take the median of five
	// samples, one after each ping round: every connection then is quiet
	// again, its pong read.
	var samples []idleSample
	for round := 2; round < 7; round++ {
		awaitLine("round "+strconv.Itoa(round), wait.Deadline())
		samples = append(samples, sampleServer().minus(before))
	}
	slices.SortFunc(samples, func(a, b idleSample) int { return int(a.heap + a.stack - b.heap - b.stack) })
	s := samples[len(samples)/2]
	perConn := float64(s.heap+s.stack) / float64(n)
	gPerConn := float64(s.goroutines) / float64(n)
	t.Logf("%d idle connections: %.0f bytes/conn (heap %.0f, stacks %.0f), %.2f goroutines/conn",
		n, perConn, float64(s.heap)/float64(n), float64(s.stack)/float64(n), gPerConn)
	// On Linux the server's idler holds quiet connections without a
	// goroutine; elsewhere each keeps its reader.
	wantG, maxPerConn := 1.0, 18<<10
	if runtime.GOOS == "linux" {
		// 37.8 KB before idle connections shed their writer and dispatcher
		// goroutines, the HTTP server's goroutine and request, and 6 KB of
		// buffers; 13.8 KB before the idler and the pooled read buffer, 7.9 KB
		// before Handshake was made on demand and one-member room sets, 7.0
		// KB before readers parked after CONNECT and headers were packed, 5.2
		// KB before the heartbeats shared one timer, 4.8 KB before handlers in a
		// slice and a 16-byte write buffer.
		wantG, maxPerConn = 0, 6<<10
	}
	if gPerConn > wantG+0.1 {
		t.Errorf("%.2f goroutines per idle connection, want %.0f", gPerConn, wantG)
	}
	if !raceEnabled && perConn > float64(maxPerConn) {
		t.Errorf("%.0f bytes per idle connection, want at most %d", perConn, maxPerConn)
	}
}

type idleSample struct{ heap, stack, goroutines int64 }

func (a idleSample) minus(b idleSample) idleSample {
	return idleSample{a.heap - b.heap, a.stack - b.stack, a.goroutines - b.goroutines}
}

func sampleServer() idleSample {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return idleSample{int64(m.HeapInuse), int64(m.StackInuse), int64(runtime.NumGoroutine())}
}

// TestIdleClientProcess is the child of TestIdleConnectionMemory: it
// connects N clients to the main namespace, prints "ready", answers pings
// until its stdin closes, then hangs up.
func TestIdleClientProcess(t *testing.T) {
	arg := os.Getenv(idleClientsEnv)
	if arg == "" {
		t.Skip("run by TestIdleConnectionMemory")
	}
	url, ns, _ := strings.Cut(arg, " ")
	n, err := strconv.Atoi(ns)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	// answered[k] counts the clients that answered their k-th ping; the
	// last of a round says so.
	var mu sync.Mutex
	answered := map[int]int{}
	pong := func(k int) {
		mu.Lock()
		defer mu.Unlock()
		if answered[k]++; answered[k] == n {
			fmt.Println("round", k)
		}
	}
	for range n {
		ws := rawDial(t, url)
		readText(t, ws) // open
		writeText(t, ws, "40")
		if msg := readText(t, ws); !strings.HasPrefix(msg, "40") {
			t.Fatalf("CONNECT reply %q", msg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ws.CloseNow()
			pings := 0
			for {
				_, b, err := ws.Read(ctx)
				if err != nil {
					return
				}
				if string(b) == "2" {
					if err := ws.Write(ctx, websocket.MessageText, []byte("3")); err != nil {
						return
					}
					pings++
					pong(pings)
				}
			}
		}()
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString(0) // until EOF
}

// Frames a client sends right behind its upgrade request, in the same
// segment, reach the server: they sit in the HTTP server's read buffer,
// which the connection does not keep.
func TestFramesSentWithTheUpgrade(t *testing.T) {
	t.Parallel()
	_, url, _ := start(t, nil)
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), wait.Deadline())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(wait.Deadline()))
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	connect := []byte{0x81, 0x80 | 2, 0, 0, 0, 0, '4', '0'} // "40", masked with zeros
	if _, err := conn.Write(append([]byte(req), connect...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %s", resp.Status)
	}
	for _, want := range []string{"0{", "40{"} {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("waiting for %q: %v", want, err)
		}
		msg := make([]byte, h[1]&0x7f) // short unmasked text frames
		if _, err := io.ReadFull(br, msg); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(msg), want) {
			t.Fatalf("got %q, want %s…", msg, want)
		}
	}
}
