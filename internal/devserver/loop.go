package devserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/web"
)

// What failed to build, as the overlay names it.
const (
	whatWasm = "client.wasm"
	whatRun  = "server"
)

// brotliSettle is how long a rebuilt client.wasm must stay the one served
// before it is compressed with brotli, which takes about 20 s of one CPU
// (the devserver's first build is compressed at once, as always): while
// edits come, that CPU is better spent on the next build, and on loopback
// gzip loads about as fast. Gzip is served meanwhile.
const brotliSettle = 20 * time.Second

// devLoop is the dev loop of Run: it builds client.wasm and, with -run, the
// user's server, serves the last good builds, and, while watching, rebuilds
// what a change concerns, then reloads the pages or restarts the server.
//
// Goroutines: run handles the watcher's batches one at a time (builds and
// reloads happen there and nowhere else after the first build), the
// watcher reads file events, brotli compresses, and child waits for its
// processes. The current assets and their error are atomic; the reloader
// and child have their own locks.
type devLoop struct {
	cfg    Config
	flags  []string // go build and go list flags: -tags
	reload *reloader
	child  *child   // nil without -run
	watch  *watcher // nil without watching

	assets  atomic.Pointer[web.Assets] // the last good build; nil before the first
	wasmErr atomic.Pointer[string]     // why there is none yet
	wasmSum string                     // content of the last good build, without its build id
	loader  *web.Precompressed         // served before the first good build
	brotli  chan *web.Assets
}

func newLoop(cfg Config) (*devLoop, error) {
	l := &devLoop{cfg: cfg, reload: newReloader(), brotli: make(chan *web.Assets, 1)}
	if cfg.Tags != "" {
		l.flags = []string{"-tags=" + cfg.Tags}
	}
	var err error
	if l.loader, err = web.NewPrecompressed(web.TypeJS, web.Loader); err != nil {
		return nil, err
	}
	if cfg.Run != "" {
		l.child, err = newChild(cfg.Run, l.flags, l.injectResponse, l.childExited)
		if err != nil {
			return nil, err
		}
	}
	if !cfg.NoWatch {
		if l.watch, err = newWatcher(cfg.Web); err != nil {
			return nil, fmt.Errorf("watch: %w", err)
		}
	}
	return l, nil
}

// buildWasm builds client.wasm, and serves it when it differs from the
// build served: it reports whether it does. On failure the last good build
// stays, and the pages show the error.
func (l *devLoop) buildWasm(ctx context.Context, first bool) (bool, error) {
	start := time.Now()
	// No VCS stamp: it runs git on every build, for nothing in dev.
	a, err := web.BuildWasm(ctx, l.cfg.Wasm, &web.BuildOptions{Flags: append([]string{"-buildvcs=false"}, l.flags...)})
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		msg := err.Error()
		log.Printf("%s", msg)
		if l.assets.Load() == nil {
			l.wasmErr.Store(&msg)
		}
		l.reload.Failed(whatWasm, msg)
		return false, err
	}
	l.reload.Fixed(whatWasm)
	sum := wasmSum(a.Wasm.Raw)
	took := time.Since(start).Round(time.Millisecond)
	if sum == l.wasmSum {
		log.Printf("rebuilt client.wasm in %v: no change", took)
		return false, nil
	}
	l.wasmSum = sum
	l.assets.Store(a)
	log.Printf("built client.wasm in %v: %d bytes, %d gzip", took, len(a.Wasm.Raw), len(a.Wasm.GZ))
	if first {
		go l.compress(a) // as the devserver always did: at once
	} else {
		select { // the latest build replaces one still waiting
		case <-l.brotli:
		default:
		}
		l.brotli <- a
	}
	return true, nil
}

// compress adds the brotli forms of a, served from then on.
func (l *devLoop) compress(a *web.Assets) {
	start := time.Now()
	if err := a.AddBrotli(); err != nil {
		log.Printf("brotli: %v (serving gzip)", err)
		return
	}
	log.Printf("client.wasm brotli: %d bytes (%v)", len(a.Wasm.BR()), time.Since(start).Round(time.Millisecond))
}

// compressRebuilds compresses each rebuild that stays served for
// brotliSettle, one at a time, until ctx ends.
func (l *devLoop) compressRebuilds(ctx context.Context) {
	for {
		var a *web.Assets
		select {
		case <-ctx.Done():
			return
		case a = <-l.brotli:
		}
		t := time.NewTimer(brotliSettle)
		for settled := false; !settled; {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case a = <-l.brotli:
				t.Reset(brotliSettle)
			case <-t.C:
				settled = true
			}
		}
		if l.assets.Load() == a {
			l.compress(a)
		}
	}
}

// wasmSum hashes a wasm module without its go:buildid section: the build id
// changes with every edit of a source file, a comment included, while the
// code may not.
func wasmSum(b []byte) string {
	h := sha256.New()
	const header = 8 // "\0asm" and the version
	if len(b) < header || !bytes.HasPrefix(b, []byte("\x00asm")) {
		h.Write(b)
		return hex.EncodeToString(h.Sum(nil))
	}
	h.Write(b[:header])
	for rest := b[header:]; len(rest) > 0; {
		size, n := binary.Uvarint(rest[1:])
		end := 1 + n + int(size)
		if n <= 0 || size > uint64(len(rest)) || end > len(rest) {
			h.Write(rest) // not a module we can read: all of it counts
			break
		}
		sec := rest[:end]
		if rest[0] == 0 { // a custom section: its name first
			payload := rest[1+n : end]
			if l, m := binary.Uvarint(payload); m > 0 && uint64(len(payload)-m) >= l && string(payload[m:m+int(l)]) == "go:buildid" {
				sec = nil
			}
		}
		h.Write(sec)
		rest = rest[end:]
	}
	return hex.EncodeToString(h.Sum(nil))
}

// startChild builds the -run server and starts it in place of the one
// running; a failed build leaves that one running.
func (l *devLoop) startChild(ctx context.Context) error {
	start := time.Now()
	bin, err := l.child.Build(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := buildOutput(err)
		log.Printf("%s", msg)
		if l.child.current() != nil {
			log.Printf("%s: the last good build keeps running", l.cfg.Run)
		} else {
			l.child.down()
		}
		l.reload.Failed(whatRun, msg)
		return err
	}
	built := time.Since(start).Round(time.Millisecond)
	if err := l.child.Start(ctx, bin); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := fmt.Sprintf("%s: %v", l.cfg.Run, err)
		log.Print(msg)
		l.reload.Failed(whatRun, msg)
		return err
	}
	l.reload.Fixed(whatRun)
	log.Printf("built %s in %v; it listens on %s (%s, %s)", l.cfg.Run, built, l.child.addr, EnvAddr, EnvPort)
	return nil
}

// childExited is told when the server ends by itself.
func (l *devLoop) childExited(err error) {
	msg := fmt.Sprintf("%s exited: %v (it starts again when its code changes)", l.cfg.Run, err)
	log.Print(msg)
	l.reload.Failed(whatRun, msg)
}

// listSources tells the watcher what the builds of t are made of now.
func (l *devLoop) listSources(ctx context.Context, t target) {
	if l.watch == nil {
		return
	}
	if t&targetWasm != 0 {
		if s, err := listSources(ctx, l.cfg.Wasm, []string{"GOOS=js", "GOARCH=wasm"}, l.flags); err == nil {
			l.watch.SetSources(targetWasm, s)
		} else if ctx.Err() == nil {
			log.Printf("watch: %v", err)
		}
	}
	if t&targetRun != 0 && l.child != nil {
		if s, err := listSources(ctx, l.cfg.Run, nil, l.flags); err == nil {
			l.watch.SetSources(targetRun, s)
		} else if ctx.Err() == nil {
			log.Printf("watch: %v", err)
		}
	}
}

// startWatching starts watching, until ctx ends, and returns a channel
// closed once the watches are set: Run waits for it before it says that
// it serves, so no change made after that line is missed. It runs beside
// the first builds (go list is quicker than go build); a change made
// during them is handled once run starts.
func (l *devLoop) startWatching(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if l.watch == nil {
		close(done)
		return done
	}
	go l.watch.run(ctx)
	go func() {
		defer close(done)
		l.listSources(ctx, targetWasm|targetRun)
		log.Printf("watching %s and the Go packages of the builds (-watch=false to stop)", l.cfg.Web)
	}()
	return done
}

// run handles the changes until ctx ends: each batch rebuilds what it
// concerns (client.wasm and the server at once), then reloads the pages
// when a page or client.wasm changed.
func (l *devLoop) run(ctx context.Context) {
	if l.watch == nil {
		return
	}
	go l.compressRebuilds(ctx)
	all := targetWasm | targetRun
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.watch.Batches():
		}
		t, names := l.watch.Take()
		if t == 0 {
			continue
		}
		log.Printf("changed: %s", describe(names))
		var wasmChanged atomic.Bool
		var wg sync.WaitGroup
		if t&targetWasm != 0 {
			wg.Go(func() {
				changed, _ := l.buildWasm(ctx, false)
				wasmChanged.Store(changed)
			})
		}
		if t&targetRun != 0 && l.child != nil {
			wg.Go(func() { _ = l.startChild(ctx) })
		}
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		switch {
		case wasmChanged.Load():
			logReload("client.wasm changed", l.reload.Reload())
		case t&targetPages != 0:
			logReload("pages changed", l.reload.Reload())
		}
		l.listSources(ctx, t&all) // new imports, new packages
	}
}

// describe names the files of a batch for the log.
func describe(names []string) string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, rel(n))
		}
	}
	if len(out) > 3 {
		return strings.Join(out[:3], ", ") + " and " + strconv.Itoa(len(out)-3) + " more"
	}
	return strings.Join(out, ", ")
}

func rel(name string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, name); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return name
}

// handler routes the dev loop: the reload endpoint and its script, the
// assets of the last good build, the pages with the reload script added,
// and the Socket.IO endpoint io, or with -run everything the pages folder
// does not hold to the server.
func (l *devLoop) handler(io *server.Server) http.Handler {
	mux := http.NewServeMux()
	l.reload.handle(mux)
	mux.Handle("GET /socket.io/socket.io.js", l.asset(func(a *web.Assets) *web.Precompressed { return a.Loader }))
	mux.Handle("GET /client.wasm", l.asset(func(a *web.Assets) *web.Precompressed { return a.Wasm }))
	mux.Handle("GET /wasm_exec.js", l.asset(func(a *web.Assets) *web.Precompressed { return a.WasmExec }))
	if l.child != nil {
		mux.Handle("/socket.io/", l.child)
		mux.Handle("/", l.reload.htmlPages(l.cfg.Web, filesOr(l.cfg.Web, l.child)))
	} else {
		mux.Handle("/socket.io/", io)
		mux.Handle("GET /metrics", metricsHandler(io))
		mux.Handle("/", l.reload.htmlPages(l.cfg.Web, pages(l.cfg.Web)))
	}
	return mux
}

// asset serves one file of the last good build. Before the first, the
// loader is served as it is, and the others answer 503 with the build's
// error (the overlay shows it too).
func (l *devLoop) asset(file func(*web.Assets) *web.Precompressed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := l.assets.Load(); a != nil {
			file(a).ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/socket.io/socket.io.js" {
			l.loader.ServeHTTP(w, r)
			return
		}
		msg := "client.wasm has not built yet"
		if e := l.wasmErr.Load(); e != nil {
			msg = *e
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "devserver: "+msg, http.StatusServiceUnavailable)
	})
}

// filesOr serves the files of dir, and passes to next what dir does not hold.
func filesOr(dir string, next http.Handler) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+r.URL.Path)))
		if strings.HasSuffix(r.URL.Path, "/") {
			name = filepath.Join(name, "index.html")
		}
		if fi, err := os.Stat(name); err == nil && fi.Mode().IsRegular() {
			files.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// injectResponse adds the reload script to the HTML pages that the -run
// server serves.
func (l *devLoop) injectResponse(resp *http.Response) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || mt != "text/html" || resp.Header.Get("Content-Encoding") != "" || resp.Request.Method != http.MethodGet {
		return nil
	}
	doc, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	doc = l.reload.inject(doc)
	resp.Body = io.NopCloser(bytes.NewReader(doc))
	resp.ContentLength = int64(len(doc))
	resp.Header.Set("Content-Length", strconv.Itoa(len(doc)))
	resp.Header.Del("ETag")
	resp.Header.Del("Last-Modified")
	resp.Header.Set("Cache-Control", "no-cache")
	return nil
}

// stop stops the server of -run, if any.
func (l *devLoop) stop() {
	if l.child != nil {
		l.child.Stop()
	}
}

// stopChild is stop for shutdown: the server of -run ends its sessions
// while the devserver's HTTP server shuts down.
func (l *devLoop) stopChild(context.Context) error {
	l.stop()
	return nil
}
