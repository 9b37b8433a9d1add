// Command browser measures, for scripts/bench (BENCH_ONLY=browser), the
// browser client in headless Chromium against one tsunagi server, three
// pages in the same run:
//
//	a  tsunagi's loader and client.wasm (the facade, socket.io-client's API)
//	b  the official socket.io.min.js 4.8.4, transports: ["websocket"]
//	c  a Go wasm page on wasmclient with typed handlers (bench/browser/gopage)
//
// Pages a and b run the same script (page.js). The server runs in this
// process, pinned to CPU 0 (taskset); Chromium runs on CPU 1. DevTools'
// Network domain, which chromedp enables on every target, is disabled
// again before the first load: it costs the page about half its rate,
// which -network-check shows by measuring page b once with it on.
//
// Each rep starts a fresh Chromium (an empty profile) per page: its first
// load is cold, the next ones warm; the figures are measured on the last
// load, and each is the median over the reps:
//
//   - events/s received, n small events (an int) and n × 1 KB (a string);
//   - events/s emitted (n events, then an ack counting them);
//   - acks/s with 1 and with 16 in flight;
//   - the renderer's main-thread time per small event received
//     (Performance.getMetrics TaskDuration and ScriptDuration);
//   - memory after the small events: the JS heap after a collection plus the
//     wasm instances' linear memory;
//   - page load (navigation start) to the first event, cold and warm;
//   - the bytes the page's code took on the wire on the cold load.
//
// Every phase is bounded by -limit; a phase that reaches it counts what
// arrived by then. With -profile DIR, pages c and a (development builds,
// with function names) are profiled with the Profiler domain while they
// receive and emit; the .cpuprofile files are written there and the
// functions with the most self time printed.
//
//	go run ./bench/browser                          # builds, then measures
//	go run ./bench/browser -build-only DIR          # builds into DIR
//	go run ./bench/browser -from DIR -md out.md     # measures DIR's builds; the table into out.md
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"

	dev "github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/web"
)

var (
	//go:embed page.js
	pageJS string
	//go:embed prelude.js
	preludeJS string
	//go:embed gopage.js
	gopageJS string
)

type config struct {
	chromium    string
	reps        int
	loads       int
	n           int // events received per phase
	emits       int
	acks1       int
	acks16      int
	limit       time.Duration
	pages       []string
	serverCPU   string
	browserCPU  string
	netCheck    bool
	profileDir  string
	compareDir  string
	md          string
	siojs       string
	fromDir     string
	buildOnly   string
	buildFlags  string
	totalBudget time.Duration
}

func main() {
	var c config
	var pages string
	flag.StringVar(&c.chromium, "chromium", "/usr/bin/chromium", "Chromium binary")
	flag.IntVar(&c.reps, "reps", 3, "reps: each figure is the median over them")
	flag.IntVar(&c.loads, "loads", 4, "page loads per rep: the first is cold, the median of the others is warm")
	flag.IntVar(&c.n, "n", 100000, "events received per receive phase")
	flag.IntVar(&c.emits, "emits", 100000, "events emitted in the emit phase")
	flag.IntVar(&c.acks1, "acks1", 3000, "acks with 1 in flight")
	flag.IntVar(&c.acks16, "acks16", 20000, "acks with 16 in flight")
	flag.DurationVar(&c.limit, "limit", 40*time.Second, "bound on each phase: what arrived by then counts")
	flag.StringVar(&pages, "pages", "a,b,c", "pages to measure, in order")
	flag.StringVar(&c.serverCPU, "server-cpu", "0", "CPU list this process (the server) is pinned to with taskset; empty: not pinned")
	flag.StringVar(&c.browserCPU, "browser-cpu", "1", "CPU list Chromium is pinned to; empty: not pinned")
	flag.BoolVar(&c.netCheck, "network-check", true, "also measure page b receiving small events with DevTools' Network domain on")
	flag.StringVar(&c.profileDir, "profile", "", "profile pages c and a (development builds) into this directory")
	flag.StringVar(&c.md, "md", "", "write the table, in Markdown, to this file")
	flag.StringVar(&c.siojs, "socketio-js", filepath.Join(os.Getenv("HOME"), ".cache/tsunagi/node/node_modules/socket.io-client/dist/socket.io.min.js"), "the official client for page b")
	flag.StringVar(&c.fromDir, "from", "", "the builds from -build-only, instead of building")
	flag.StringVar(&c.compareDir, "compare", "", "other builds from -build-only, served on a port of their own as pages a2 and c2 (add them to -pages)")
	flag.StringVar(&c.buildOnly, "build-only", "", "build the wasm programs into this directory and exit")
	flag.StringVar(&c.buildFlags, "build-flags", "", "more go build flags for client.wasm and gopage.wasm (e.g. -tags=tsunagi_coderws)")
	flag.DurationVar(&c.totalBudget, "timeout", 30*time.Minute, "bound on the whole run")
	flag.Parse()
	c.pages = strings.Split(pages, ",")
	log.SetFlags(log.Ltime)
	if err := run(c); err != nil {
		fmt.Printf("RESULT label=browser mode=bench failed=1 note=%v\n", err)
		os.Exit(1)
	}
}

// builds are the programs the pages load, production and development.
type builds struct {
	client, clientDev, gopage, gopageDev, wasmExec []byte
}

var buildNames = []string{"client.wasm", "client-dev.wasm", "gopage.wasm", "gopage-dev.wasm", "wasm_exec.js"}

func (b *builds) files() []*[]byte {
	return []*[]byte{&b.client, &b.clientDev, &b.gopage, &b.gopageDev, &b.wasmExec}
}

func build(ctx context.Context, flags string) (*builds, error) {
	var b builds
	var fl []string
	if flags != "" {
		fl = strings.Fields(flags)
	}
	for _, x := range []struct {
		pkg  string
		prod bool
		out  *[]byte
	}{
		{dev.DefaultWasm, true, &b.client},
		{dev.DefaultWasm, false, &b.clientDev},
		{"./bench/browser/gopage", true, &b.gopage},
		{"./bench/browser/gopage", false, &b.gopageDev},
	} {
		a, err := web.BuildWasm(ctx, x.pkg, &web.BuildOptions{Production: x.prod, Flags: fl})
		if err != nil {
			return nil, err
		}
		*x.out = a.Wasm.Raw
		b.wasmExec = a.WasmExec.Raw
	}
	return &b, nil
}

// site is what the server serves: the current programs, switched to the
// development builds while profiling.
type site struct {
	client *web.Assets
	gopage *web.Precompressed
}

func newSite(client, gopage, wasmExec []byte, brotli bool) (*site, error) {
	a, err := web.NewAssets(client, wasmExec)
	if err != nil {
		return nil, err
	}
	g, err := web.NewPrecompressed(web.TypeWasm, gopage)
	if err != nil {
		return nil, err
	}
	if brotli {
		// As a devserver that has been up a while serves them (cached by
		// content hash under the user's cache directory).
		if err := errors.Join(a.AddBrotli(), g.AddBrotli()); err != nil {
			return nil, err
		}
	}
	return &site{client: a, gopage: g}, nil
}

func pageHTML(name string) string {
	var body string
	switch name {
	case "a":
		body = `<script src="/socket.io/socket.io.js"></script>` + "\n<script>" + pageJS + "</script>"
	case "b":
		body = `<script src="/b/socket.io.min.js"></script>` + "\n<script>" + pageJS + "</script>"
	case "c":
		body = `<script src="/wasm_exec.js"></script>` + "\n<script>" + gopageJS + "</script>"
	}
	return "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>bench " + name + "</title>\n<script>" +
		preludeJS + "</script>\n" + body + "\n</head><body></body></html>\n"
}

func newServer() *server.Server {
	io := server.New(&server.Options{
		OriginPatterns: dev.LoopbackOrigins,
		// The server queues a whole flood at once: the page, not the
		// server's queue, sets the pace.
		MaxQueue:     1 << 20,
		WriteTimeout: 2 * time.Minute,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	bigArg := json.RawMessage(strconv.Quote(strings.Repeat("x", 1024)))
	io.OnConnection(func(s *server.Socket) {
		_ = s.Emit("news", map[string]string{"hello": "world"})
		var sunk atomic.Int64
		s.On("flood", func(a shared.Args, _ shared.AckFunc) error {
			var kind string
			var n int
			if a.Decode(0, &kind) != nil || a.Decode(1, &n) != nil || n < 0 || n > 10_000_000 {
				return errors.New("flood: want (kind, n)")
			}
			for i := range n {
				var err error
				if kind == "big" {
					err = s.Emit("big", bigArg)
				} else {
					err = s.Emit("small", i)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		s.On("sink", func(shared.Args, shared.AckFunc) error { sunk.Add(1); return nil })
		s.On("sinkdone", func(_ shared.Args, ack shared.AckFunc) error {
			if ack == nil {
				return nil
			}
			return ack(sunk.Swap(0))
		})
		s.On("echo", func(a shared.Args, ack shared.AckFunc) error {
			if ack == nil || a.Len() == 0 {
				return nil
			}
			return ack(json.RawMessage(a.Raw(0)))
		})
	})
	return io
}

func run(c config) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.totalBudget)
	defer cancel()

	var b *builds
	if c.fromDir != "" {
		b = &builds{}
		for i, f := range b.files() {
			raw, err := os.ReadFile(filepath.Join(c.fromDir, buildNames[i]))
			if err != nil {
				return err
			}
			*f = raw
		}
	} else {
		var err error
		if b, err = build(ctx, c.buildFlags); err != nil {
			return err
		}
	}
	prod, err := newSite(b.client, b.gopage, b.wasmExec, true)
	if err != nil {
		return err
	}
	if c.buildOnly != "" {
		if err := os.MkdirAll(c.buildOnly, 0o755); err != nil {
			return err
		}
		for i, f := range b.files() {
			if err := os.WriteFile(filepath.Join(c.buildOnly, buildNames[i]), *f, 0o644); err != nil {
				return err
			}
		}
		fmt.Printf("built into %s (client.wasm %d bytes, brotli %d)\n", c.buildOnly, len(b.client), len(prod.client.Wasm.BR()))
		return nil
	}
	sio, err := os.ReadFile(c.siojs)
	if err != nil {
		return fmt.Errorf("page b needs the official client: %w", err)
	}
	sioAsset, err := web.NewPrecompressed(web.TypeJS, sio)
	if err != nil {
		return err
	}
	if err := sioAsset.AddBrotli(); err != nil {
		return err
	}
	var cur atomic.Pointer[site]
	cur.Store(prod)

	if c.serverCPU != "" {
		// Every thread of this process: the server's, and the ones the Go
		// runtime starts later inherit it.
		if out, err := exec.Command("taskset", "-a", "-p", "-c", c.serverCPU, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
			return fmt.Errorf("taskset: %v: %s", err, out)
		}
	}

	io := newServer()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = io.Shutdown(sctx)
	}()
	base, stopServe, err := serve(io, &cur, sioAsset)
	if err != nil {
		return err
	}
	defer stopServe()
	br := &browser{c: c, base: base}
	defer br.cleanup()
	if c.compareDir != "" {
		// The other builds, on a listener of their own: the loader loads
		// client.wasm from the root of its server.
		var b2 builds
		for i, f := range b2.files() {
			raw, err := os.ReadFile(filepath.Join(c.compareDir, buildNames[i]))
			if err != nil {
				return err
			}
			*f = raw
		}
		other, err := newSite(b2.client, b2.gopage, b2.wasmExec, true)
		if err != nil {
			return err
		}
		var cur2 atomic.Pointer[site]
		cur2.Store(other)
		base2, stop2, err := serve(io, &cur2, sioAsset)
		if err != nil {
			return err
		}
		defer stop2()
		br.base2 = base2
	}

	if c.profileDir != "" {
		devSite, err := newSite(b.clientDev, b.gopageDev, b.wasmExec, false)
		if err != nil {
			return err
		}
		cur.Store(devSite)
		for _, p := range []string{"c", "a"} {
			if err := br.profile(ctx, p); err != nil {
				return fmt.Errorf("profile %s: %w", p, err)
			}
		}
		cur.Store(prod)
		if c.md == "" && c.reps == 0 {
			return nil
		}
	}

	all := map[string][]*sample{}
	for rep := range c.reps {
		for _, p := range c.pages {
			s, err := br.measure(ctx, p, false)
			if err != nil {
				return fmt.Errorf("rep %d, page %s: %w", rep+1, p, err)
			}
			fmt.Printf("RESULT label=browser page=%s rep=%d %s\n", p, rep+1, s)
			all[p] = append(all[p], s)
		}
	}
	var netOn *sample
	if c.netCheck && slices.Contains(c.pages, "b") {
		if netOn, err = br.measure(ctx, "b", true); err != nil {
			return fmt.Errorf("network check: %w", err)
		}
		fmt.Printf("RESULT label=browser page=b network=on recv_small_per_s=%.0f\n", netOn.recvSmall)
	}
	med := map[string]*sample{}
	for _, p := range c.pages {
		med[p] = median(all[p])
		fmt.Printf("RESULT label=browser page=%s median=1 %s\n", p, med[p])
	}
	if c.md != "" {
		md := table(c, med, netOn)
		if c.compareDir != "" {
			md += "\n" + compareTable(c, med)
		}
		return os.WriteFile(c.md, []byte(md), 0o644)
	}
	return nil
}

// compareTable sets the -compare builds (pages a2, c2) beside the others.
func compareTable(c config, m map[string]*sample) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| figure | (a) | (a) %s | ratio | (c) | (c) %s | ratio |\n|---|---:|---:|---:|---:|---:|---:|\n", c.compareDir, c.compareDir)
	cell := func(p string, f func(*sample) float64) (float64, string) {
		s, ok := m[p]
		if !ok {
			return 0, "–"
		}
		return f(s), strconv.FormatFloat(f(s), 'f', 1, 64)
	}
	for _, r := range []struct {
		title string
		f     func(*sample) float64
	}{
		{"events/s received, small", func(s *sample) float64 { return s.recvSmall }},
		{"events/s received, 1 KB", func(s *sample) float64 { return s.recvBig }},
		{"events/s emitted", func(s *sample) float64 { return s.emit }},
		{"acks/s, 1 in flight", func(s *sample) float64 { return s.ack1 }},
		{"acks/s, 16 in flight", func(s *sample) float64 { return s.ack16 }},
		{"µs per small event received (TaskDuration)", func(s *sample) float64 { return s.taskUS }},
		{"wasm memory after the small events, bytes", func(s *sample) float64 { return s.wasm }},
		{"warm load → first event, ms", func(s *sample) float64 { return s.warmMS }},
	} {
		fmt.Fprintf(&sb, "| %s |", r.title)
		for _, p := range []string{"a", "c"} {
			x, xs := cell(p, r.f)
			y, ys := cell(p+"2", r.f)
			ratio := "–"
			if y != 0 {
				ratio = fmt.Sprintf("%.2f", x/y)
			}
			fmt.Fprintf(&sb, " %s | %s | %s |", xs, ys, ratio)
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// serve serves the pages, cur's programs and the Socket.IO endpoint on a
// loopback port of its own; it returns the base URL.
func serve(io *server.Server, cur *atomic.Pointer[site], sioAsset *web.Precompressed) (string, func(), error) {
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.HandleFunc("GET /socket.io/socket.io.js", func(w http.ResponseWriter, r *http.Request) { cur.Load().client.Loader.ServeHTTP(w, r) })
	mux.HandleFunc("GET /client.wasm", func(w http.ResponseWriter, r *http.Request) { cur.Load().client.Wasm.ServeHTTP(w, r) })
	mux.HandleFunc("GET /wasm_exec.js", func(w http.ResponseWriter, r *http.Request) { cur.Load().client.WasmExec.ServeHTTP(w, r) })
	mux.HandleFunc("GET /c/gopage.wasm", func(w http.ResponseWriter, r *http.Request) { cur.Load().gopage.ServeHTTP(w, r) })
	mux.Handle("GET /b/socket.io.min.js", sioAsset)
	for _, p := range []string{"a", "b", "c"} {
		html := pageHTML(p)
		mux.HandleFunc("GET /"+p+"/{$}", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write([]byte(html))
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	return "http://" + ln.Addr().String(), func() { hs.Close() }, nil
}

// sample is one rep of one page.
type sample struct {
	recvSmall, recvBig, emit, ack1, ack16 float64 // per second
	taskUS, scriptUS                      float64 // renderer time per small event received
	heap, wasm                            float64 // bytes after the small events
	coldMS, warmMS                        float64
	pageBytes, codeBytes                  float64 // on the cold load
	short                                 []string
}

func (s *sample) String() string {
	return fmt.Sprintf("recv_small_per_s=%.0f recv_1k_per_s=%.0f emit_per_s=%.0f acks1_per_s=%.0f acks16_per_s=%.0f task_us_per_event=%.1f script_us_per_event=%.1f js_heap=%.0f wasm_mem=%.0f cold_ms=%.0f warm_ms=%.0f page_bytes=%.0f code_bytes=%.0f%s",
		s.recvSmall, s.recvBig, s.emit, s.ack1, s.ack16, s.taskUS, s.scriptUS, s.heap, s.wasm, s.coldMS, s.warmMS, s.pageBytes, s.codeBytes,
		func() string {
			if len(s.short) == 0 {
				return ""
			}
			return " short=" + strings.Join(s.short, ",")
		}())
}

func median(ss []*sample) *sample {
	m := &sample{}
	fields := func(s *sample) []*float64 {
		return []*float64{&s.recvSmall, &s.recvBig, &s.emit, &s.ack1, &s.ack16, &s.taskUS, &s.scriptUS, &s.heap, &s.wasm, &s.coldMS, &s.warmMS, &s.pageBytes, &s.codeBytes}
	}
	out := fields(m)
	for i := range out {
		var vs []float64
		for _, s := range ss {
			vs = append(vs, *fields(s)[i])
		}
		*out[i] = med(vs)
	}
	for _, s := range ss {
		m.short = append(m.short, s.short...)
	}
	return m
}

func med(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Clone(vs)
	sort.Float64s(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// browser starts Chromium sessions, each with an empty profile.
type browser struct {
	c       config
	base    string
	base2   string // the -compare builds' server
	wrapper string
	dirs    []string
}

func (b *browser) cleanup() {
	for _, d := range b.dirs {
		os.RemoveAll(d)
	}
}

// session is one Chromium with one tab; stop ends it.
func (b *browser) session(ctx context.Context, networkOn bool) (context.Context, func(), error) {
	exe := b.c.chromium
	if b.c.browserCPU != "" {
		if b.wrapper == "" {
			d, err := os.MkdirTemp("", "tsunagi-bench-browser-")
			if err != nil {
				return nil, nil, err
			}
			b.dirs = append(b.dirs, d)
			w := filepath.Join(d, "chromium")
			script := "#!/bin/sh\nexec taskset -c " + b.c.browserCPU + " " + strconv.Quote(b.c.chromium) + " \"$@\"\n"
			if err := os.WriteFile(w, []byte(script), 0o755); err != nil {
				return nil, nil, err
			}
			b.wrapper = w
		}
		exe = b.wrapper
	}
	userData, err := os.MkdirTemp("", "tsunagi-bench-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userData),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	stop := func() {
		cancelBrowser()
		cancelAlloc()
		os.RemoveAll(userData)
	}
	// chromedp enables the Network domain on the tab; it halves the rates.
	err = chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, performance.Enable, performance.EnableParams{}); err != nil {
			return err
		}
		if !networkOn {
			_, err := cdp.Call(ctx, t, network.Disable, cdp.Empty{})
			return err
		}
		return nil
	}))
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("start chromium: %w", err)
	}
	return bctx, stop, nil
}

// load navigates to page p and waits for its first event; it returns the
// time from navigation start to it.
func (b *browser) load(ctx context.Context, p string, i int) (float64, error) {
	base := b.base
	if len(p) == 2 && p[1] == '2' {
		base, p = b.base2, p[:1]
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/%s/?load=%d", base, p, i))); err != nil {
		return 0, err
	}
	first, err := chromedp.Run(ctx, chromedp.Poll[float64](`window.__firstEvent`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		return 0, fmt.Errorf("no first event within 30 s: %w", err)
	}
	return first, nil
}

type phaseResult struct {
	N    float64 `json:"n"`
	MS   float64 `json:"ms"`
	Sent float64 `json:"sent"`
}

func (r phaseResult) rate() float64 {
	if r.MS <= 0 {
		return 0
	}
	return r.N * 1000 / r.MS
}

// eval runs expr, a promise of a phaseResult, bounded by the phase limit
// and a margin.
func (b *browser) eval(ctx context.Context, expr string) (phaseResult, error) {
	ctx, cancel := context.WithTimeout(ctx, b.c.limit+60*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[phaseResult](expr, chromedp.EvalAwaitPromise))
}

// call runs one protocol command on the tab of ctx.
func call[P, R any](ctx context.Context, cmd cdp.Command[P, R], p P) (R, error) {
	return chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (R, error) { return cdp.Call(ctx, t, cmd, p) })
}

func metrics(ctx context.Context) (map[string]float64, error) {
	res, err := call(ctx, performance.GetMetrics, cdp.Empty{})
	out := map[string]float64{}
	for _, m := range res.Metrics {
		out[m.Name] = m.Value
	}
	return out, err
}

func (b *browser) measure(ctx context.Context, p string, networkOn bool) (*sample, error) {
	bctx, stop, err := b.session(ctx, networkOn)
	if err != nil {
		return nil, err
	}
	defer stop()
	s := &sample{}
	loads := b.c.loads
	if networkOn {
		loads = 1
	}
	var warm []float64
	for i := range loads {
		ms, err := b.load(bctx, p, i)
		if err != nil {
			return nil, fmt.Errorf("load %d: %w", i+1, err)
		}
		if i == 0 {
			s.coldMS = ms
			tr, err := chromedp.Run(bctx, chromedp.Evaluate[struct{ Page, Code float64 }](`__transfer()`))
			if err != nil {
				return nil, err
			}
			s.pageBytes, s.codeBytes = tr.Page, tr.Code
		} else {
			warm = append(warm, ms)
		}
	}
	s.warmMS = med(warm)
	lim := b.c.limit.Milliseconds()
	check := func(name string, r phaseResult, want int) {
		if int(r.N) < want {
			s.short = append(s.short, fmt.Sprintf("%s:%d/%d", name, int(r.N), want))
		}
	}

	m0, err := metrics(bctx)
	if err != nil {
		return nil, err
	}
	r, err := b.eval(bctx, fmt.Sprintf(`bench.recv("small", %d, %d)`, b.c.n, lim))
	if err != nil {
		return nil, fmt.Errorf("recv small: %w", err)
	}
	m1, err := metrics(bctx)
	if err != nil {
		return nil, err
	}
	s.recvSmall = r.rate()
	check("recv_small", r, b.c.n)
	if r.N > 0 {
		s.taskUS = (m1["TaskDuration"] - m0["TaskDuration"]) * 1e6 / r.N
		s.scriptUS = (m1["ScriptDuration"] - m0["ScriptDuration"]) * 1e6 / r.N
	}
	if networkOn {
		return s, nil
	}
	if _, err := call(bctx, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
		return nil, err
	}
	wasm, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`__wasmBytes()`))
	if err != nil {
		return nil, err
	}
	m2, err := metrics(bctx)
	if err != nil {
		return nil, err
	}
	s.heap, s.wasm = m2["JSHeapUsedSize"], wasm

	if r, err = b.eval(bctx, fmt.Sprintf(`bench.recv("big", %d, %d)`, b.c.n, lim)); err != nil {
		return nil, fmt.Errorf("recv 1 KB: %w", err)
	}
	s.recvBig = r.rate()
	check("recv_1k", r, b.c.n)
	if r, err = b.eval(bctx, fmt.Sprintf(`bench.emit(%d, %d)`, b.c.emits, lim)); err != nil {
		return nil, fmt.Errorf("emit: %w", err)
	}
	s.emit = r.rate()
	check("emit", r, b.c.emits)
	if r, err = b.eval(bctx, fmt.Sprintf(`bench.acks(%d, 1, %d)`, b.c.acks1, lim)); err != nil {
		return nil, fmt.Errorf("acks 1: %w", err)
	}
	s.ack1 = r.rate()
	check("acks1", r, b.c.acks1)
	if r, err = b.eval(bctx, fmt.Sprintf(`bench.acks(%d, 16, %d)`, b.c.acks16, lim)); err != nil {
		return nil, fmt.Errorf("acks 16: %w", err)
	}
	s.ack16 = r.rate()
	check("acks16", r, b.c.acks16)
	return s, nil
}

// profile records a CPU profile of page p while it receives small events
// and while it emits, and prints the functions with the most self time.
func (b *browser) profile(ctx context.Context, p string) error {
	bctx, stop, err := b.session(ctx, false)
	if err != nil {
		return err
	}
	defer stop()
	if _, err := b.load(bctx, p, 0); err != nil {
		return err
	}
	lim := b.c.limit.Milliseconds()
	for _, ph := range []struct{ name, expr string }{
		{"recv", fmt.Sprintf(`bench.recv("small", %d, %d)`, b.c.n, lim)},
		{"emit", fmt.Sprintf(`bench.emit(%d, %d)`, b.c.emits, lim)},
		{"acks16", fmt.Sprintf(`bench.acks(%d, 16, %d)`, b.c.acks16, lim)},
	} {
		if _, err := call(bctx, profiler.Enable, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := call(bctx, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 200}); err != nil {
			return err
		}
		if _, err := call(bctx, profiler.Start, cdp.Empty{}); err != nil {
			return err
		}
		r, err := b.eval(bctx, ph.expr)
		if err != nil {
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		stopped, err := call(bctx, profiler.Stop, cdp.Empty{})
		if err != nil {
			return err
		}
		prof := stopped.Profile
		raw, err := json.Marshal(prof)
		if err != nil {
			return err
		}
		file := filepath.Join(b.c.profileDir, fmt.Sprintf("%s-%s.cpuprofile", p, ph.name))
		if err := os.WriteFile(file, raw, 0o644); err != nil {
			return err
		}
		fmt.Printf("PROFILE page=%s phase=%s events=%.0f rate=%.0f/s file=%s\n", p, ph.name, r.N, r.rate(), file)
		summarize(prof, 25)
	}
	return nil
}

// summarize prints the functions with the most self time, and the share
// of the samples under wasm_exec's _resume and syscall/js.
func summarize(prof *profiler.Profile, top int) {
	if prof == nil || len(prof.Nodes) == 0 {
		return
	}
	self := map[string]int64{}
	byID := map[int64]*profiler.ProfileNode{}
	for _, n := range prof.Nodes {
		byID[n.ID] = n
	}
	var total int64
	for _, n := range prof.Nodes {
		name := n.CallFrame.FunctionName
		if name == "" {
			name = "(anonymous)"
		}
		if u := n.CallFrame.URL; u != "" {
			name += " " + filepath.Base(strings.SplitN(u, "?", 2)[0])
		}
		self[name] += n.HitCount
		total += n.HitCount
	}
	// Inclusive counts for a few names: a sample counts once per name on
	// its stack.
	parent := map[int64]int64{}
	for _, n := range prof.Nodes {
		for _, ch := range n.Children {
			parent[ch] = n.ID
		}
	}
	incl := map[string]int64{}
	watch := []string{"_resume", "runtime.addspecial", "syscall/js.", "runtime.gcBgMarkWorker", "(idle)", "(program)", "(garbage collector)", "runtime.scheduler", "runtime.findRunnable"}
	for _, n := range prof.Nodes {
		if n.HitCount == 0 {
			continue
		}
		seen := map[string]bool{}
		for id := n.ID; ; {
			nd := byID[id]
			for _, w := range watch {
				if !seen[w] && strings.HasPrefix(nd.CallFrame.FunctionName, w) {
					seen[w] = true
					incl[w] += n.HitCount
				}
			}
			pid, ok := parent[id]
			if !ok {
				break
			}
			id = pid
		}
	}
	type kv struct {
		k string
		v int64
	}
	var kvs []kv
	for k, v := range self {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v })
	if total == 0 {
		return
	}
	for i, x := range kvs {
		if i == top {
			break
		}
		fmt.Printf("  self %5.1f%%  %s\n", float64(x.v)*100/float64(total), x.k)
	}
	for _, w := range watch {
		fmt.Printf("  incl %5.1f%%  %s*\n", float64(incl[w])*100/float64(total), w)
	}
}

// table is the Markdown of the medians.
func table(c config, m map[string]*sample, netOn *sample) string {
	var sb strings.Builder
	get := func(p string, f func(*sample) float64) (float64, bool) {
		s, ok := m[p]
		if !ok {
			return 0, false
		}
		return f(s), true
	}
	num := func(v float64, ok bool, prec int) string {
		if !ok {
			return "–"
		}
		if prec == 0 {
			return commas(int64(v + 0.5))
		}
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	ratio := func(a, b float64, oka, okb bool) string {
		if !oka || !okb || b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	row := func(title string, prec int, f func(*sample) float64) {
		a, oka := get("a", f)
		b, okb := get("b", f)
		cc, okc := get("c", f)
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s |\n", title, num(a, oka, prec), num(b, okb, prec), num(cc, okc, prec), ratio(a, b, oka, okb), ratio(cc, b, okc, okb))
	}
	fmt.Fprintf(&sb, "| figure | (a) facade | (b) socket.io.js | (c) Go wasm | a/b | c/b |\n|---|---:|---:|---:|---:|---:|\n")
	row(fmt.Sprintf("events/s received, %s small", commas(int64(c.n))), 0, func(s *sample) float64 { return s.recvSmall })
	row(fmt.Sprintf("events/s received, %s × 1 KB", commas(int64(c.n))), 0, func(s *sample) float64 { return s.recvBig })
	row(fmt.Sprintf("events/s emitted (%s)", commas(int64(c.emits))), 0, func(s *sample) float64 { return s.emit })
	row(fmt.Sprintf("acks/s, 1 in flight (%s)", commas(int64(c.acks1))), 0, func(s *sample) float64 { return s.ack1 })
	row(fmt.Sprintf("acks/s, 16 in flight (%s)", commas(int64(c.acks16))), 0, func(s *sample) float64 { return s.ack16 })
	row("renderer main thread µs per small event received (TaskDuration)", 1, func(s *sample) float64 { return s.taskUS })
	row("of which script µs (ScriptDuration)", 1, func(s *sample) float64 { return s.scriptUS })
	row("memory after the small events: JS heap, MB (after a GC)", 1, func(s *sample) float64 { return s.heap / 1e6 })
	row("memory after the small events: wasm linear memory, MB", 1, func(s *sample) float64 { return s.wasm / 1e6 })
	row("page load → first event, cold, ms", 0, func(s *sample) float64 { return s.coldMS })
	row(fmt.Sprintf("page load → first event, warm (median of %d loads), ms", c.loads-1), 0, func(s *sample) float64 { return s.warmMS })
	row("client code on the wire, cold, bytes", 0, func(s *sample) float64 { return s.codeBytes })
	row("the page itself on the wire, bytes", 0, func(s *sample) float64 { return s.pageBytes })
	var short []string
	for _, p := range []string{"a", "b", "c"} {
		if s, ok := m[p]; ok && len(s.short) > 0 {
			short = append(short, fmt.Sprintf("(%s) %s", p, strings.Join(s.short, ", ")))
		}
	}
	if len(short) > 0 {
		fmt.Fprintf(&sb, "\nPhases that hit the %s limit (count reached / asked), rate of what arrived: %s.\n", c.limit, strings.Join(short, "; "))
	}
	if netOn != nil {
		if b, ok := m["b"]; ok && b.recvSmall > 0 {
			fmt.Fprintf(&sb, "\nDevTools' Network domain on (chromedp's default), page (b), small events received: %s/s, %.2f× the rate with it off.\n",
				commas(int64(netOn.recvSmall+0.5)), netOn.recvSmall/b.recvSmall)
		}
	}
	return sb.String()
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
