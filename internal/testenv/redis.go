//go:build !js

package testenv

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// Redis is a redis-server started for one test: on a free port of
// 127.0.0.1, with no persistence, killed when the test ends. Stop and Start
// take it down and bring it back on the same port, for fault tests.
type Redis struct {
	// Addr is host:port, for a Redis client's Addr option.
	Addr string
	// Port is the TCP port it listens on.
	Port int

	t    testing.TB
	bin  string
	args []string
	proc *Process
}

// URL is redis://Addr.
func (r *Redis) URL() string { return "redis://" + r.Addr }

// StartRedis starts a redis-server from PATH (scripts/test installs it).
// args are extra server arguments, such as "--cluster-enabled", "yes". The
// port is found by listening on 127.0.0.1:0 and closing; another process
// may take it in between, so a failed bind is retried a few times.
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("testenv: redis-server not found on PATH: run scripts/test, which installs it")
	}
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		r := &Redis{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, t: t, bin: bin}
		r.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)
		if r.start() {
			return r
		}
		if attempt == 5 {
			t.Fatalf("testenv: redis-server could not bind a free port in %d attempts:\n%s", attempt, r.proc.Output())
		}
	}
}

// start runs the server and reports whether it bound its port.
func (r *Redis) start() bool {
	r.t.Helper()
	r.proc = Start(r.t, exec.Command(r.bin, r.args...))
	m := r.proc.WaitOutput(r.t, wait.Deadline(), `Ready to accept connections|(?i:address already in use)`)
	if strings.HasPrefix(m[0], "Ready") {
		return true
	}
	r.proc.WaitExit(r.t, "a failed bind")
	return false
}

// Stop kills the server (SIGKILL, as a crash would) and waits for it to exit.
func (r *Redis) Stop() {
	r.t.Helper()
	killProcessGroup(r.proc.Cmd)
	r.proc.WaitExit(r.t, "SIGKILL")
}

// Start brings a stopped server back on the same port, empty. The test
// fails when the port was taken meanwhile.
func (r *Redis) Start() {
	r.t.Helper()
	for attempt := 1; !r.start(); attempt++ {
		if attempt == 5 {
			r.t.Fatalf("testenv: redis-server could not bind %s again:\n%s", r.Addr, r.proc.Output())
		}
		// The kernel may hold the port for a moment after the kill.
		wait.Until(func() bool {
			l, err := net.Listen("tcp", r.Addr)
			if err == nil {
				l.Close()
			}
			return err == nil
		})
	}
}

// Process is the running server's process.
func (r *Redis) Process() *Process { return r.proc }
