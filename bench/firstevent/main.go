// Command firstevent measures, for scripts/bench, the time from page load
// (navigation start) to the first event the page receives in headless
// Chromium: the devserver's handler serves a page written for Socket.IO,
// the loader and client.wasm (built as `devserver -build` builds it for
// production), and the server emits `news` on connect.
//
// It loads the page -loads times in one browser and prints one RESULT line:
// the first (cold) load, the median of the others, and how client.wasm was
// served (Content-Encoding, bytes on the wire).
//
//	go run ./bench/firstevent -chromium /usr/bin/chromium
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	dev "github.com/tsunagi/tsunagi/internal/devserver"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/web"
)

// page is the tutorial's page, timing its first event.
const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>first event</title>
<script src="/socket.io/socket.io.js"></script>
<script>
  var socket = io();
  socket.on('news', function () {
    if (window.__firstEvent === undefined) window.__firstEvent = performance.now();
  });
</script>
</head><body></body></html>
`

func main() {
	chromium := flag.String("chromium", "/usr/bin/chromium", "Chromium binary")
	loads := flag.Int("loads", 6, "page loads: the first is cold, the others are summarized by their median")
	timeout := flag.Duration("timeout", 90*time.Second, "bound on the whole measurement")
	flag.Parse()
	if err := run(*chromium, *loads, *timeout); err != nil {
		fmt.Printf("RESULT label=browser mode=firstevent failed=1 note=%v\n", err)
		os.Exit(1)
	}
}

func run(chromium string, loads int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "tsunagi-firstevent-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
		return err
	}
	assets, err := web.BuildWasm(ctx, dev.DefaultWasm, &web.BuildOptions{Production: true})
	if err != nil {
		return err
	}
	// As a devserver that has been up for a while serves it (the brotli form
	// is cached by content hash, so only the first run pays for it).
	if err := assets.Wasm.AddBrotli(); err != nil {
		return fmt.Errorf("brotli: %w", err)
	}
	io := server.New(&server.Options{
		OriginPatterns: dev.LoopbackOrigins,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	io.OnConnection(func(s *server.Socket) { s.Emit("news", map[string]string{"hello": "world"}) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: dev.Handler(io, dir, assets)}
	go hs.Serve(ln)
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		io.Shutdown(sctx)
		hs.Close()
	}()
	base := "http://" + ln.Addr().String()

	encoding, wire, err := servedAs(ctx, base+"/client.wasm")
	if err != nil {
		return err
	}

	userData, err := os.MkdirTemp("", "tsunagi-firstevent-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(userData)
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
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
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}

	var times []float64
	for i := range loads {
		if err := chromedp.Do(bctx, chromedp.Navigate(fmt.Sprintf("%s/?load=%d", base, i))); err != nil {
			return fmt.Errorf("load %d: %w", i+1, err)
		}
		first, err := chromedp.Run(bctx, chromedp.Poll[float64](`window.__firstEvent`, chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil {
			return fmt.Errorf("load %d: no event within 20 s: %w", i+1, err)
		}
		times = append(times, first)
	}
	if len(times) == 0 {
		return errors.New("no loads")
	}
	warm := slices.Clone(times[1:])
	sort.Float64s(warm)
	med := times[0]
	if len(warm) > 0 {
		med = warm[len(warm)/2]
	}
	fmt.Printf("RESULT label=browser mode=firstevent loads=%d cold_ms=%.0f warm_p50_ms=%.0f wasm_encoding=%s wasm_wire_bytes=%d\n",
		len(times), times[0], med, encoding, wire)
	return nil
}

// servedAs fetches url as a browser would and reports its Content-Encoding
// and the bytes that crossed the wire.
func servedAs(ctx context.Context, url string) (string, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var n int64
	buf := make([]byte, 64<<10)
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err != nil {
			break
		}
	}
	enc := resp.Header.Get("Content-Encoding")
	if enc == "" {
		enc = "identity"
	}
	if v := resp.Header.Get("Vary"); v != "" {
		enc += ",Vary:" + strings.ReplaceAll(v, " ", "")
	}
	return enc, n, nil
}
