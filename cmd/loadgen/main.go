// Command loadgen is the load generator of scripts/bench: a lean Socket.IO
// v5 client (coder/websocket and the shared package, one goroutine per
// connection) that drives a server speaking the benchmark's two events,
// echo and broadcast, and prints what it measured as one RESULT line.
//
// Modes:
//
//	ack        -clients C -inflight K: each client keeps K echo calls in flight;
//	           acks/s, ack round trip p50/p99, server CPU per ack
//	broadcast  -clients C -inflight K: client 0 emits broadcast (seq, timestamp);
//	           at most K broadcasts are not yet received by every client;
//	           deliveries/s, delivery latency p50/p99, server CPU per delivery
//	idle       -clients C: connect C clients, -concurrency dials at a time, then
//	           hold them answering heartbeats; connects/s and server RSS per connection
//	max        -clients C: connect until C or the first failure, then hold
//	           them for -hold with heartbeats running; how many stay connected
//	upgrade    -clients S: S polling sessions, -concurrency at a time, each
//	           upgraded to WebSocket as socket.io-client does it (2probe,
//	           3probe, the held GET returns, 5), then one echo call over it;
//	           handshake-to-upgraded p50/p99
//	fetch      -addr2 only: each client of the first server keeps at most
//	           -inflight fetch calls in flight (fetchSockets over the cluster);
//	           fetch round trip p50/p99, and how many answers missed a socket
//
// -addr2 makes a cluster of two servers (cluster.go): half the -clients
// connect to -addr, half to -addr2; broadcast sends from a client of -addr
// and counts deliveries on both, those on -addr2 (through the cluster's
// Redis) apart; -pid2 and -redis-pid add their CPU to the RESULT line.
//
// -transport polling runs ack and idle over Engine.IO long-polling instead
// of WebSocket (polling.go): a held GET, at most one POST in flight, and
// what is queued meanwhile joined in the next POST. idle then counts
// sessions that joined "/" and hold a GET.
//
// Every mode stops by itself: phases are bounded by -warmup, -duration and
// -hold, and -timeout ends the process whatever happens.
//
//	loadgen -addr 127.0.0.1:8125 -pid $(pgrep benchserver) -mode ack -clients 100 -inflight 16
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsunagi/tsunagi/shared/wire"
)

type config struct {
	addr        string
	label       string
	mode        string
	clients     int
	inflight    int
	concurrency int
	warmup      time.Duration
	duration    time.Duration
	hold        time.Duration
	settle      time.Duration
	dialTimeout time.Duration
	pid         int
	sources     []net.IP
	transport   string
	addr2       string // second server of a cluster (cluster.go)
	pid2        int
	redisPid    int
}

func main() {
	var cfg config
	var src string
	var timeout time.Duration
	var cpuprofile string
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8125", "server address (host:port); the endpoint is /socket.io/")
	flag.StringVar(&cfg.label, "label", "", "name of the server, repeated in the RESULT line")
	flag.StringVar(&cfg.mode, "mode", "ack", "ack, broadcast, idle, max or upgrade")
	flag.StringVar(&cfg.transport, "transport", "websocket", "ack, idle: websocket or polling")
	flag.IntVar(&cfg.clients, "clients", 100, "connections")
	flag.IntVar(&cfg.inflight, "inflight", 1, "ack: calls in flight per client; broadcast: broadcasts in flight")
	flag.IntVar(&cfg.concurrency, "concurrency", 100, "dials in flight while connecting")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "ack, broadcast: load before measuring")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "ack, broadcast: measured time")
	flag.DurationVar(&cfg.hold, "hold", 40*time.Second, "max: longest time to hold the connections, waiting for each to see a heartbeat")
	flag.DurationVar(&cfg.settle, "settle", 3*time.Second, "idle: wait after connecting before reading the server's RSS")
	flag.DurationVar(&cfg.dialTimeout, "dial-timeout", 10*time.Second, "bound on one connect (TCP, WebSocket and Socket.IO handshakes)")
	flag.IntVar(&cfg.pid, "pid", 0, "server process id, for its CPU time and RSS (from /proc)")
	flag.StringVar(&cfg.addr2, "addr2", "", "broadcast, fetch: a second server of the same cluster; half the clients connect to it")
	flag.IntVar(&cfg.pid2, "pid2", 0, "the second server's process id, for its CPU time")
	flag.IntVar(&cfg.redisPid, "redis-pid", 0, "the cluster's redis-server process id, for its CPU time")
	flag.StringVar(&src, "src", "", "source addresses, comma separated, ranges allowed: 127.0.0.2-127.0.0.5")
	flag.DurationVar(&timeout, "timeout", 3*time.Minute, "end the process after this long, whatever happens")
	flag.StringVar(&cpuprofile, "cpuprofile", "", "write this generator's CPU profile to a file")
	flag.Parse()

	var err error
	if cfg.sources, err = parseSources(src); err != nil {
		fatal(err)
	}
	if cfg.clients < 1 || cfg.inflight < 1 || cfg.concurrency < 1 {
		fatal(errors.New("-clients, -inflight and -concurrency must be positive"))
	}
	time.AfterFunc(timeout, func() {
		fmt.Fprintf(os.Stderr, "loadgen: -timeout %v reached, exiting\n", timeout)
		os.Exit(3)
	})
	// Garbage here is small and short-lived; collecting less often leaves
	// more of this core to the connections.
	debug.SetGCPercent(400)
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer pprof.StopCPUProfile()
	}

	r := &run{
		cfg:   cfg,
		d:     newDialer("ws://"+cfg.addr+"/socket.io/?EIO=4&transport=websocket", cfg.sources, cfg.dialTimeout),
		start: time.Now(),
	}
	r.pd = &pollDialer{d: r.d, addr: cfg.addr, once: cfg.mode == "idle"}
	r.dial = r.d.dial
	if cfg.addr2 != "" {
		if cfg.transport != "websocket" || (cfg.mode != "broadcast" && cfg.mode != "fetch") {
			fatal(errors.New("-addr2 runs -mode broadcast or fetch over websocket"))
		}
		if cfg.clients < 2 {
			fatal(errors.New("-addr2 needs -clients 2 or more (half on each server)"))
		}
		r.d2 = newDialer("ws://"+cfg.addr2+"/socket.io/?EIO=4&transport=websocket", cfg.sources, cfg.dialTimeout)
		r.res.add("addr2", cfg.addr2)
	} else if cfg.mode == "fetch" {
		fatal(errors.New("-mode fetch needs -addr2 (a cluster of two servers)"))
	}
	r.res.add("label", cfg.label)
	r.res.add("mode", cfg.mode)
	if cfg.mode == "upgrade" {
		r.res.add("transport", "polling-to-websocket")
	} else {
		r.res.add("transport", cfg.transport)
	}
	r.res.add("clients", cfg.clients)
	switch cfg.transport {
	case "websocket":
	case "polling":
		if cfg.mode != "ack" && cfg.mode != "idle" {
			fatal(fmt.Errorf("-transport polling runs -mode ack or idle (upgrade always starts on polling)"))
		}
		r.dial = r.pd.dial
	default:
		fatal(fmt.Errorf("unknown -transport %q: want websocket or polling", cfg.transport))
	}
	switch cfg.mode {
	case "ack":
		err = r.ack()
	case "broadcast":
		if r.d2 != nil {
			err = r.clusterBroadcast()
		} else {
			err = r.broadcast()
		}
	case "fetch":
		err = r.fetch()
	case "idle":
		err = r.idle()
	case "max":
		err = r.max()
	case "upgrade":
		err = r.upgrade()
	default:
		err = fmt.Errorf("unknown -mode %q", cfg.mode)
	}
	r.closeAll()
	if err != nil {
		r.res.add("failed", 1)
		r.res.addNote(err.Error())
	}
	fmt.Println(&r.res)
	if err != nil {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(2)
}

// parseSources reads "127.0.0.2-127.0.0.5,127.0.0.9".
func parseSources(s string) ([]net.IP, error) {
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, b := net.ParseIP(lo).To4(), net.ParseIP(hi).To4()
		if !isRange {
			b = a
		}
		if a == nil || b == nil || a[0] != b[0] || a[1] != b[1] || a[2] != b[2] || a[3] > b[3] {
			return nil, fmt.Errorf("bad -src %q (want a.b.c.d or a.b.c.d-a.b.c.e)", part)
		}
		for x := int(a[3]); x <= int(b[3]); x++ {
			out = append(out, net.IPv4(a[0], a[1], a[2], byte(x)).To4())
		}
	}
	return out, nil
}

// result is the RESULT line: key=value pairs (durations in µs), then the
// one free-text field, "note", which runs to the end of the line.
type result struct {
	kv   []string
	note string
}

func (r *result) add(k string, v any) {
	s := fmt.Sprint(v)
	switch x := v.(type) {
	case float64:
		s = strconv.FormatFloat(x, 'f', 1, 64)
	case time.Duration:
		s = strconv.FormatFloat(float64(x)/1e3, 'f', 1, 64)
	}
	r.kv = append(r.kv, k, strings.ReplaceAll(s, " ", "_"))
}

// addNote records why a run stopped or failed; the first note wins.
func (r *result) addNote(s string) {
	if r.note == "" {
		r.note = strings.ReplaceAll(s, "\n", " ")
	}
}

func (r *result) String() string {
	var b strings.Builder
	b.WriteString("RESULT")
	for i := 0; i+1 < len(r.kv); i += 2 {
		fmt.Fprintf(&b, " %s=%s", r.kv[i], r.kv[i+1])
	}
	if r.note != "" {
		b.WriteString(" note=" + r.note)
	}
	return b.String()
}

// run is one benchmark run: its connections and counters.
type run struct {
	cfg   config
	d     *dialer
	d2    *dialer // -addr2's, or nil
	pd    *pollDialer
	dial  func(context.Context) (sioConn, error) // -transport's
	start time.Time                              // origin of the timestamps carried in broadcasts
	res   result

	mu      sync.Mutex
	clients []sioConn
	loops   sync.WaitGroup

	measuring atomic.Bool  // count what arrives
	stopping  atomic.Bool  // send nothing new
	closing   atomic.Bool  // connections are being closed on purpose
	lost      atomic.Int64 // connections that ended before closing
	count     atomic.Int64 // acks or deliveries while measuring
	lat       hist
}

// connect opens n connections, at most -concurrency dials at a time, and
// runs loop on each once it is connected. It stops dialing at the first
// failure and returns it with the number of connections made.
func (r *run) connect(n int, loop func(sioConn)) (ok int, elapsed time.Duration, firstErr error) {
	return r.connectVia(r.dial, n, loop)
}

// connectVia is connect with the given dial; ok counts every connection
// made so far, by earlier calls too.
func (r *run) connectVia(dial func(context.Context) (sioConn, error), n int, loop func(sioConn)) (ok int, elapsed time.Duration, firstErr error) {
	t0 := time.Now()
	sem := make(chan struct{}, r.cfg.concurrency)
	var dials sync.WaitGroup
	var failed atomic.Bool
	var errOnce sync.Once
	for i := 0; i < n && !failed.Load(); i++ {
		sem <- struct{}{}
		if failed.Load() {
			break
		}
		dials.Add(1)
		go func() {
			c, err := dial(context.Background())
			<-sem
			if err != nil {
				errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i+1, err) })
				failed.Store(true)
				dials.Done()
				return
			}
			r.mu.Lock()
			r.clients = append(r.clients, c)
			r.mu.Unlock()
			r.loops.Add(1)
			dials.Done()
			defer r.loops.Done()
			loop(c)
			if !r.closing.Load() {
				r.lost.Add(1)
			}
			c.close()
		}()
	}
	dials.Wait()
	elapsed = time.Since(t0)
	r.mu.Lock()
	ok = len(r.clients)
	r.mu.Unlock()
	return ok, elapsed, firstErr
}

// closeAll closes every connection and waits (boundedly) for their loops.
func (r *run) closeAll() {
	r.closing.Store(true)
	r.stopping.Store(true)
	r.mu.Lock()
	cs := r.clients
	r.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
	if err := waitBounded(&r.loops, 5*time.Second, "some connections did not close within 5 s"); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
	}
}

// waitBounded waits for wg, or returns an error after d.
func waitBounded(wg *sync.WaitGroup, d time.Duration, what string) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return errors.New(what)
	}
}

// idleLoop answers heartbeats until the connection ends.
func idleLoop(c sioConn) {
	for {
		if _, err := c.next(); err != nil {
			return
		}
	}
}

// measure runs the warmup, then counts for the measured duration.
func (r *run) measure() usage {
	time.Sleep(r.cfg.warmup)
	m := startCPU(r.cfg.pid)
	r.count.Store(0)
	r.measuring.Store(true)
	time.Sleep(r.cfg.duration)
	r.measuring.Store(false)
	u := m.stop()
	r.stopping.Store(true)
	return u
}

func (r *run) report(u usage, what, one string) {
	n := r.count.Load()
	r.res.add(what, n)
	r.res.add(what+"_per_s", float64(n)/u.wall.Seconds())
	r.res.add("p50_us", r.lat.quantile(0.50))
	r.res.add("p99_us", r.lat.quantile(0.99))
	if r.cfg.pid > 0 && n > 0 {
		r.res.add("server_cpu_us_per_"+one, float64(u.srv.Microseconds())/float64(n))
		r.res.add("server_cpu_pct", u.pct(u.srv))
		if u.writes > 0 {
			r.res.add("server_writes_per_"+one, strconv.FormatFloat(float64(u.writes)/float64(n), 'f', 3, 64))
			r.res.add("server_reads_per_"+one, strconv.FormatFloat(float64(u.reads)/float64(n), 'f', 3, 64))
		}
	}
	r.reportCPU(u)
}

// reportCPU adds the generator's CPU use and that of everything else: when
// other processes compete for the CPUs, rates drop but CPU per op holds.
func (r *run) reportCPU(u usage) {
	r.res.add("loadgen_cpu_pct", u.pct(u.gen))
	r.res.add("other_cpu_pct", u.pct(u.other))
	r.res.add("lost", r.lost.Load())
}

const echoArgs = `"0123456789abcdef"`

// ack: every client keeps -inflight echo calls outstanding.
func (r *run) ack() error {
	k := r.cfg.inflight
	r.res.add("inflight", k)
	begin := make(chan struct{}) // all connected: start together
	defer func() {
		select {
		case <-begin:
		default:
			close(begin)
		}
	}()
	var busy sync.WaitGroup // clients with calls in flight after the window
	_, _, err := r.connect(r.cfg.clients, func(c sioConn) {
		busy.Add(1)
		drained := sync.OnceFunc(busy.Done)
		defer drained()
		<-begin
		sent := make(map[int64]time.Time, k)
		var id int64
		for ; id < int64(k); id++ {
			sent[id] = time.Now()
			if c.emit(id, "echo", echoArgs) != nil {
				return
			}
		}
		for {
			p, err := c.next()
			if err != nil {
				return
			}
			if p.Type != wire.Ack {
				continue
			}
			t0, ok := sent[p.ID]
			if !ok {
				continue
			}
			delete(sent, p.ID)
			now := time.Now()
			if r.measuring.Load() {
				r.count.Add(1)
				r.lat.add(now.Sub(t0))
			}
			if r.stopping.Load() {
				if len(sent) == 0 {
					// Nothing left in flight: read on until closed, answering pings.
					drained()
					idleLoop(c)
					return
				}
				continue
			}
			sent[id] = now
			if c.emit(id, "echo", echoArgs) != nil {
				return
			}
			id++
		}
	})
	if err != nil {
		return err
	}
	close(begin)
	r.report(r.measure(), "acks", "ack")
	return waitBounded(&busy, 5*time.Second, "calls still in flight 5 s after the window")
}

// broadcast: client 0 emits broadcast(seq, sent-at) with at most -inflight
// broadcasts not yet received by every client; each client records the
// latency of every bcast it receives.
func (r *run) broadcast() error {
	n := r.cfg.clients
	w := r.cfg.inflight
	r.res.add("inflight", w)
	const ring = 1 << 12
	if w >= ring {
		return fmt.Errorf("-inflight must be below %d", ring)
	}
	var got [ring]atomic.Int32
	done := make(chan int64, ring)
	_, _, err := r.connect(n, func(c sioConn) {
		var v [2]int64
		for {
			p, err := c.next()
			if err != nil {
				return
			}
			if p.Type != wire.EventPacket || parseInts(p.Data, v[:]) != 2 {
				continue
			}
			now := time.Since(r.start)
			if r.measuring.Load() {
				r.count.Add(1)
				r.lat.add(now - time.Duration(v[1]))
			}
			if got[v[0]%ring].Add(1) == int32(n) {
				done <- v[0]
			}
		}
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	sender := r.clients[0]
	r.mu.Unlock()

	sendErr := make(chan error, 1)
	go func() {
		var args []byte
		stall := time.NewTimer(time.Hour)
		outstanding := 0
		for seq := int64(0); ; seq++ {
			for outstanding >= w || (r.stopping.Load() && outstanding > 0) {
				stall.Reset(5 * time.Second)
				select {
				case <-done:
					outstanding--
				case <-stall.C:
					sendErr <- fmt.Errorf("broadcast %d: not every client received it within 5 s", seq-int64(outstanding))
					return
				}
			}
			if r.stopping.Load() {
				sendErr <- nil
				return
			}
			got[seq%ring].Store(0)
			args = appendInt(args[:0], seq)
			args = append(args, ',')
			args = appendInt(args, int64(time.Since(r.start)))
			if err := sender.emit(seq, "broadcast", string(args)); err != nil {
				sendErr <- err
				return
			}
			outstanding++
		}
	}()
	measured := make(chan struct{})
	var u usage
	go func() { u = r.measure(); close(measured) }()
	select {
	case <-measured:
		err = <-sendErr
	case err = <-sendErr:
		r.stopping.Store(true)
		<-measured
	}
	r.report(u, "deliveries", "delivery")
	return err
}

// idle: connect -clients at -concurrency, then read the server's RSS.
func (r *run) idle() error {
	rss0, _ := rss(r.cfg.pid)
	m := startCPU(r.cfg.pid)
	ok, elapsed, err := r.connect(r.cfg.clients, idleLoop)
	u := m.stop()
	r.res.add("connected", ok)
	if err != nil {
		return err
	}
	r.res.add("connect_s", strconv.FormatFloat(elapsed.Seconds(), 'f', 2, 64))
	r.res.add("connects_per_s", float64(ok)/elapsed.Seconds())
	if r.cfg.pid > 0 {
		r.res.add("server_cpu_us_per_connect", float64(u.srv.Microseconds())/float64(ok))
		r.res.add("server_cpu_pct", u.pct(u.srv))
	}
	r.res.add("loadgen_cpu_pct", u.pct(u.gen))
	r.res.add("other_cpu_pct", u.pct(u.other))
	time.Sleep(r.cfg.settle)
	if r.cfg.pid > 0 {
		rss1, err := rss(r.cfg.pid)
		if err != nil {
			return err
		}
		r.res.add("rss_before_kb", rss0/1024)
		r.res.add("rss_after_kb", rss1/1024)
		r.res.add("bytes_per_conn", (rss1-rss0)/int64(ok))
	}
	return nil
}

// max: connect until -clients or the first failure, then hold the
// connections until each has answered a heartbeat (or -hold passes).
func (r *run) max() error {
	ok, elapsed, firstErr := r.connect(r.cfg.clients, idleLoop)
	r.res.add("reached", ok)
	r.res.add("connect_s", strconv.FormatFloat(elapsed.Seconds(), 'f', 2, 64))
	if firstErr != nil {
		r.res.addNote("stopped by " + firstErr.Error())
	}
	r.mu.Lock()
	cs := r.clients
	r.mu.Unlock()
	deadline := time.Now().Add(r.cfg.hold)
	var alive, pinged int
	for {
		alive, pinged = 0, 0
		for _, sc := range cs {
			if c := sc.(*client); !c.closed.Load() {
				alive++
				if c.pings.Load() > 0 {
					pinged++
				}
			}
		}
		if (alive > 0 && pinged == alive) || alive == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	r.res.add("alive", alive)
	r.res.add("heartbeats_answered", pinged)
	if r.cfg.pid > 0 {
		if v, err := rss(r.cfg.pid); err == nil {
			r.res.add("server_rss_kb", v/1024)
		}
	}
	return nil
}

// upgrade: -clients polling sessions, -concurrency at a time, each upgraded
// to WebSocket and then closed; the time from the handshake GET to "5"
// written, and to the first ack over the WebSocket.
func (r *run) upgrade() error {
	var up, ack hist
	sem := make(chan struct{}, r.cfg.concurrency)
	var wg sync.WaitGroup
	var done, failed atomic.Int64
	var errOnce sync.Once
	var firstErr error
	m := startCPU(r.cfg.pid)
	for i := 0; i < r.cfg.clients; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u, a, err := r.upgradeOne(context.Background())
			if err != nil {
				failed.Add(1)
				errOnce.Do(func() { firstErr = fmt.Errorf("session %d: %w", i+1, err) })
				return
			}
			done.Add(1)
			up.add(u)
			ack.add(a)
		}()
	}
	wg.Wait()
	u := m.stop()
	n := done.Load()
	r.res.add("concurrency", r.cfg.concurrency)
	r.res.add("upgraded", n)
	r.res.add("failed_sessions", failed.Load())
	r.res.add("upgraded_p50_us", up.quantile(0.50))
	r.res.add("upgraded_p99_us", up.quantile(0.99))
	r.res.add("first_ack_p50_us", ack.quantile(0.50))
	r.res.add("first_ack_p99_us", ack.quantile(0.99))
	r.res.add("sessions_per_s", float64(n)/u.wall.Seconds())
	if r.cfg.pid > 0 && n > 0 {
		r.res.add("server_cpu_us_per_session", float64(u.srv.Microseconds())/float64(n))
		r.res.add("server_cpu_pct", u.pct(u.srv))
	}
	r.res.add("loadgen_cpu_pct", u.pct(u.gen))
	r.res.add("other_cpu_pct", u.pct(u.other))
	if firstErr != nil {
		r.res.addNote("first failure: " + firstErr.Error())
	}
	if n == 0 {
		return errors.New("no session upgraded")
	}
	return nil
}
