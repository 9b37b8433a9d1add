package devserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The environment a -run server finds its address in. TSUNAGI_ADDR is
// host:port on loopback; PORT is the port alone, as Heroku, Cloud Run and
// many frameworks read it (listening on ":"+PORT listens on every
// interface, so prefer TSUNAGI_ADDR).
//
// TSUNAGI_RECOVERY_FILE names a file in the devserver's own temporary
// folder, the same for every process: a server with connection state
// recovery on writes its state there in Shutdown and reads it back in
// server.New, so that open pages recover across a restart.
const (
	EnvAddr         = "TSUNAGI_ADDR"
	EnvPort         = "PORT"
	EnvRecoveryFile = "TSUNAGI_RECOVERY_FILE"
)

// How long a child has to stop after SIGINT before it is killed, and to
// start listening.
const (
	childStopTimeout  = 5 * time.Second
	childStartTimeout = 30 * time.Second
)

// child runs the -run server package as a process of its own, behind the
// devserver: it builds it, starts it with its address in the environment,
// restarts it when its code changes and proxies to it. A restart builds
// first, and only a good build stops the old process: a broken edit leaves
// the last good server running.
//
// Its state is under mu; proc.done is closed by the goroutine that waits
// for the process.
type child struct {
	pkg   string
	flags []string // more go build flags (-tags)
	addr  string   // 127.0.0.1:port, the same for every process
	dir   string   // the built binaries
	proxy *httputil.ReverseProxy
	// onExit is told when a process ends that was not stopped: a crash,
	// or a server that returned.
	onExit func(error)

	mu    sync.Mutex
	proc  *process
	n     int           // builds so far
	ready chan struct{} // closed once the current process listens (or is gone)
}

type process struct {
	cmd      *exec.Cmd
	bin      string
	done     chan struct{}
	err      error       // how it ended, once done is closed
	stopping atomic.Bool // stopped by us: its end is no crash
}

func newChild(pkg string, flags []string, inject func(*http.Response) error, onExit func(error)) (*child, error) {
	// A free port, kept for the life of the devserver: pages and the proxy
	// find each new process where the old one was.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "tsunagi-run-")
	if err != nil {
		return nil, err
	}
	c := &child{pkg: pkg, flags: flags, addr: addr, dir: dir, onExit: onExit, ready: make(chan struct{})}
	target := &url.URL{Scheme: "http", Host: addr}
	c.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the server checks Origin against the Host the page used
			if strings.Contains(r.In.Header.Get("Accept"), "text/html") {
				r.Out.Header.Del("Accept-Encoding") // a page comes plain, to add the reload script
			}
			r.SetXForwarded()
		},
		FlushInterval:  -1, // long-polling and streams pass at once
		ModifyResponse: inject,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, fmt.Sprintf("devserver: %s is not answering: %v", c.pkg, err), http.StatusBadGateway)
		},
	}
	return c, nil
}

// Build builds the server into a new binary. A failed build is a
// *buildError with the compiler's output.
func (c *child) Build(ctx context.Context) (string, error) {
	c.mu.Lock()
	c.n++
	bin := filepath.Join(c.dir, fmt.Sprintf("server-%d", c.n))
	c.mu.Unlock()
	args := append([]string{"build", "-o", bin}, c.flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, c.pkg)...)
	cmd.Env = hostEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &buildError{what: c.pkg, output: out.String(), err: err}
	}
	return bin, nil
}

// Start stops the running server, if any, and starts bin in its place; it
// returns once the new one listens, exits or takes too long. Meanwhile
// requests wait for the new process rather than fail on the old.
func (c *child) Start(ctx context.Context, bin string) error {
	c.mu.Lock()
	old := c.proc
	select {
	case <-c.ready:
		c.ready = make(chan struct{})
	default: // the first start: requests wait already
	}
	ready := c.ready
	c.mu.Unlock()
	defer close(ready)
	if old != nil {
		old.stop()
		os.Remove(old.bin)
	}

	cmd := exec.Command(bin)
	cmd.Env = append(hostEnv(), EnvAddr+"="+c.addr, EnvPort+"="+portOf(c.addr), EnvRecoveryFile+"="+filepath.Join(c.dir, "recovery.json"))
	name := path.Base(c.pkg)
	stdout := &prefixWriter{w: os.Stdout, prefix: "[" + name + "] "}
	stderr := &prefixWriter{w: os.Stderr, prefix: "[" + name + "] "}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	childProcAttr(cmd)
	p := &process{cmd: cmd, bin: bin, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.pkg, err)
	}
	go func() {
		p.err = cmd.Wait()
		stdout.Flush()
		stderr.Flush()
		close(p.done)
		if !p.stopping.Load() && c.onExit != nil {
			c.onExit(p.err)
		}
	}()
	c.mu.Lock()
	c.proc = p
	c.mu.Unlock()
	return p.waitListening(ctx, c.addr)
}

// down lets the requests waiting for a first process through (to a 502):
// none is coming until the code changes.
func (c *child) down() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
}

// current is the process started last, nil before the first.
func (c *child) current() *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc
}

// waitListening polls addr until the process accepts a connection there.
func (p *process) waitListening(ctx context.Context, addr string) error {
	deadline := time.NewTimer(childStartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before listening on %s (%s): %v", addr, EnvAddr, p.err)
		case <-deadline.C:
			return fmt.Errorf("not listening on %s (%s) after %v", addr, EnvAddr, childStartTimeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop asks the process to stop with SIGINT and kills it after
// childStopTimeout.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.stopping.Store(true)
	interruptProc(p.cmd)
	t := time.NewTimer(childStopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		log.Printf("%s did not stop within %v of SIGINT: killing it", p.cmd.Path, childStopTimeout)
		killProc(p.cmd)
		<-p.done
	}
}

// Stop stops the server for good and removes its binaries.
func (c *child) Stop() {
	if p := c.current(); p != nil {
		p.stop()
	}
	os.RemoveAll(c.dir)
}

// ServeHTTP proxies to the server, HTTP and WebSocket alike; a request that
// comes while it (re)starts waits for it.
func (c *child) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	ready := c.ready
	c.mu.Unlock()
	t := time.NewTimer(childStartTimeout)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	c.proxy.ServeHTTP(w, r)
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// hostEnv is the environment without GOOS and GOARCH, so that the server
// is built for this machine.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOOS=") && !strings.HasPrefix(kv, "GOARCH=") {
			env = append(env, kv)
		}
	}
	return env
}

// prefixWriter writes each line with a prefix, whole lines at a time.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.w.Write(append([]byte(p.prefix), p.buf[:i+1]...))
		p.buf = p.buf[i+1:]
	}
	if len(p.buf) > 64<<10 { // a very long line: out with it
		p.w.Write(append(append([]byte(p.prefix), p.buf...), '\n'))
		p.buf = p.buf[:0]
	}
	return len(b), nil
}

// Flush writes a last line that has no newline.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		p.w.Write(append(append([]byte(p.prefix), p.buf...), '\n'))
		p.buf = nil
	}
}

// buildError is a failed go build of what, with the compiler's output.
type buildError struct {
	what   string
	output string
	err    error
}

func (e *buildError) Error() string {
	return fmt.Sprintf("building %s: %v\n%s", e.what, e.err, strings.TrimSpace(e.output))
}

func (e *buildError) Unwrap() error { return e.err }

// buildOutput is the compiler's output of a failed build, or err's text.
func buildOutput(err error) string {
	var be *buildError
	if errors.As(err, &be) {
		return be.Error()
	}
	return err.Error()
}
