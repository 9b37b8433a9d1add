//go:build unix

// Command devloop measures the devserver's dev loop in headless Chromium:
// the time from saving a .go file of the default client (a temporary copy
// of cmd/clientwasm, in a module of its own that requires this one through
// a replace) to the open page running the new code, over -edits edits; the
// same edit's `go build` alone; and the cold start of `go run
// ./cmd/devserver` (module and build caches warm) to the first page served.
//
// Each edit rewrites marker.go of the copy with a new number, which the
// rebuilt client reports to the page's devloopReport binding as it starts;
// the time runs from just before the write to that report. It prints one
// RESULT line with the medians.
//
//	go run ./bench/devloop -chromium /usr/bin/chromium
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// marker is the file each edit rewrites: the client reports its number.
const marker = `//go:build js

package main

import "github.com/hack-pad/safejs"

func init() {
	if f, err := safejs.Global().Get("devloopReport"); err == nil && f.Type() == safejs.TypeFunction {
		_, _ = f.Invoke("%d")
	}
}
`

func main() {
	chromium := flag.String("chromium", "/usr/bin/chromium", "Chromium binary")
	edits := flag.Int("edits", 10, "edits of the client to time")
	gap := flag.Duration("gap", 5*time.Second, "pause after each reload before the next edit, as between a developer's saves (the devserver compresses with brotli meanwhile)")
	starts := flag.Int("starts", 3, "cold starts of go run ./cmd/devserver to time")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound on the whole measurement")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *chromium, *edits, *gap, *starts); err != nil {
		fmt.Printf("RESULT label=devloop mode=devloop failed=1 note=%v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, chromium string, edits int, gap time.Duration, starts int) error {
	root, err := goEnv("GOMOD")
	if err != nil {
		return err
	}
	root = filepath.Dir(root)
	work, err := os.MkdirTemp("", "tsunagi-devloop-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	mod, err := userModule(root, work)
	if err != nil {
		return err
	}
	markerFile := filepath.Join(mod, "client", "marker.go")
	edit := func(n int) error { return os.WriteFile(markerFile, fmt.Appendf(nil, marker, n), 0o644) }

	// go build alone, the same edits.
	var builds []time.Duration
	for i := range edits {
		if err := edit(1000 + i); err != nil {
			return err
		}
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-o", filepath.Join(work, "client.wasm"), "./client")
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
		builds = append(builds, time.Since(start))
	}

	bin := filepath.Join(work, "devserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/devserver")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/devserver: %v\n%s", err, out)
	}
	if err := edit(0); err != nil {
		return err
	}
	ds := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-web", "web", "-wasm", "./client")
	ds.Dir = mod
	p, base, err := start(ds)
	if err != nil {
		return err
	}
	defer p.stop()
	log := p.log

	bctx, stop, err := browser(ctx, chromium, work)
	if err != nil {
		return err
	}
	defer stop()
	reports := make(chan string, 16)
	if err := chromedp.Listen(bctx, func(ev any) {
		if b, ok := ev.(*runtime.EventBindingCalled); ok && b.Name == "devloopReport" {
			select {
			case reports <- b.Payload:
			default:
			}
		}
	}); err != nil {
		return err
	}
	if _, err := chromedp.Call(bctx, runtime.AddBinding, runtime.AddBindingParams{Name: "devloopReport"}); err != nil {
		return fmt.Errorf("add the page's binding: %w", err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/")); err != nil {
		return fmt.Errorf("open the page: %w", err)
	}
	if err := await(ctx, reports, "0"); err != nil {
		return fmt.Errorf("first page: %w\n%s", err, log())
	}
	var loops []time.Duration
	for i := 1; i <= edits; i++ {
		start := time.Now()
		if err := edit(i); err != nil {
			return err
		}
		if err := await(ctx, reports, fmt.Sprint(i)); err != nil {
			return fmt.Errorf("edit %d: %w\n%s", i, err, log())
		}
		loops = append(loops, time.Since(start))
		if i < edits {
			select {
			case <-time.After(gap):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	built := regexp.MustCompile(`built client\.wasm in (\S+):`).FindAllStringSubmatch(log(), -1)
	var inDevserver []time.Duration
	for _, m := range built[1:] { // the first is the start's
		if d, err := time.ParseDuration(m[1]); err == nil {
			inDevserver = append(inDevserver, d)
		}
	}

	var colds []time.Duration
	for range starts {
		d, err := coldStart(ctx, root, work)
		if err != nil {
			return fmt.Errorf("cold start: %w", err)
		}
		colds = append(colds, d)
	}
	fmt.Printf("RESULT label=devloop mode=devloop edits=%d gap_s=%.0f edit_to_page_p50_ms=%d edit_to_page_max_ms=%d devserver_build_gzip_p50_ms=%d go_build_p50_ms=%d cold_starts=%d cold_start_p50_ms=%d all_edit_ms=%s\n",
		len(loops), gap.Seconds(), ms(median(loops)), ms(slices.Max(loops)), ms(median(inDevserver)), ms(median(builds)), len(colds), ms(median(colds)), list(loops))
	return nil
}

// userModule writes a module of its own into work: a copy of cmd/clientwasm
// with marker.go, and a copy of the tutorial's page, requiring this module
// through a replace.
func userModule(root, work string) (string, error) {
	mod := filepath.Join(work, "app")
	files := map[string]string{
		"go.mod": "module example.com/devloop\n\ngo 1.26\n\nrequire github.com/tsunagi/tsunagi v0.0.0\n\nreplace github.com/tsunagi/tsunagi => " + root + "\n",
	}
	for dst, src := range map[string]string{"go.sum": "go.sum", "client/main.go": "cmd/clientwasm/main.go", "client/doc.go": "cmd/clientwasm/doc.go", "web/index.html": "web/index.html"} {
		b, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			return "", err
		}
		files[dst] = string(b)
	}
	files["client/marker.go"] = fmt.Sprintf(marker, 0)
	for name, content := range files {
		p := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go mod tidy: %v\n%s", err, out)
	}
	return mod, nil
}

// proc is a process started by start, with its output kept.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	out     strings.Builder
	written chan struct{} // a write since the last look; capacity 1
}

// start starts cmd in a process group of its own (so that `go run` and
// the devserver it runs get SIGINT together) and returns once it prints
// that it serves, with the address it serves.
func start(cmd *exec.Cmd) (*proc, string, error) {
	p := &proc{cmd: cmd, done: make(chan struct{}), written: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = p, p
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	go func() { cmd.Wait(); close(p.done) }()
	addr := regexp.MustCompile(`listening on (http://\S+)/`)
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for {
		if m := addr.FindStringSubmatch(p.log()); m != nil {
			return p, m[1], nil
		}
		select {
		case <-p.written:
		case <-p.done:
			return nil, "", fmt.Errorf("%s exited before serving:\n%s", cmd.Path, p.log())
		case <-deadline.C:
			p.stop()
			return nil, "", fmt.Errorf("%s did not serve within 2 minutes:\n%s", cmd.Path, p.log())
		}
	}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.out.Write(b)
	p.mu.Unlock()
	select {
	case p.written <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop sends SIGINT to the process group and waits for the exit, killing
// the group after 10 s.
func (p *proc) stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// coldStart times `go run ./cmd/devserver` from the repo root to the first
// page it serves.
func coldStart(ctx context.Context, root, work string) (time.Duration, error) {
	web := filepath.Join(work, "app", "web")
	begin := time.Now()
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/devserver", "-addr", "127.0.0.1:0", "-web", web, "-watch=false")
	cmd.Dir = root
	p, base, err := start(cmd)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	resp, err := http.Get(base + "/")
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(begin)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /: %s\n%s", resp.Status, p.log())
	}
	return took, nil
}

// browser starts a headless Chromium with a fresh profile in work.
func browser(ctx context.Context, chromium, work string) (context.Context, func(), error) {
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(work, "chromium")),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	stop := func() { cancelBrowser(); cancelAlloc() }
	if err := chromedp.Do(bctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start chromium: %w", err)
	}
	return bctx, stop, nil
}

// await waits for the page to report want, skipping older reports.
func await(ctx context.Context, reports <-chan string, want string) error {
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	for {
		select {
		case got := <-reports:
			if got == want {
				return nil
			}
		case <-t.C:
			return errors.New("the page did not report " + want + " within 60 s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func list(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprint(ms(d))
	}
	return strings.Join(parts, ",")
}
