// Command benchserver is tsunagi's side of scripts/bench: the same two
// events as bench/node/server.js, the official socket.io server it is
// measured against, and nothing else.
//
//	echo        acks its arguments back
//	broadcast   emits bcast with its arguments to every socket, then acks
//	fetch       fetchSockets over the whole cluster; acks with the count
//
//	go run ./cmd/benchserver -addr 127.0.0.1:8125
//	go run ./cmd/benchserver -addr 127.0.0.1:8125 -cpuprofile cpu.pprof   # written on SIGINT/SIGTERM
//	go run ./cmd/benchserver -addr 127.0.0.1:8125 -pprof 127.0.0.1:6060   # net/http/pprof there (heap, goroutines, …)
//	go run ./cmd/benchserver -addr 127.0.0.1:8125 -redis redis://127.0.0.1:6379   # joins a cluster (classic adapter)
//	go run ./cmd/benchserver -addr 127.0.0.1:8125 -metrics   # Prometheus metrics (server/metrics) at /metrics
//
// With -redis, the adapter's counters (AdapterStats) are logged to stderr
// as one "benchserver: adapter stats" line at exit.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/admin"
	"github.com/tsunagi/tsunagi/server/metrics"
	"github.com/tsunagi/tsunagi/server/redisadapter"
	"github.com/tsunagi/tsunagi/shared"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8125", "listen address")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file, from start until SIGINT or SIGTERM")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof's /debug/pprof/ on this address (a listener of its own, loopback only)")
	redisURL := flag.String("redis", "", "join a cluster over this Redis (redis://HOST:PORT) with the Redis adapter")
	redisMode := flag.String("redis-mode", "classic", "the Redis adapter's mode: classic (createAdapter), sharded (createShardedAdapter, Redis 7) or streams (@socket.io/redis-streams-adapter)")
	withMetrics := flag.Bool("metrics", false, "register server/metrics' collector in a registry of its own and serve it at /metrics")
	withAdmin := flag.Bool("admin", false, "instrument the server with server/admin (the Admin UI's /admin namespace) in production mode, with no auth")
	flag.Parse()

	if *pprofAddr != "" {
		if !strings.HasPrefix(*pprofAddr, "127.") && !strings.HasPrefix(*pprofAddr, "localhost:") {
			log.Fatalf("-pprof %s: give a loopback address such as 127.0.0.1:6060", *pprofAddr)
		}
		pl, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			log.Fatal(err)
		}
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", httppprof.Index)
		pm.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		pm.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		go func() { log.Print(http.Serve(pl, pm)) }()
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	// Warnings only: Node's server logs nothing per connection either.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := &server.Options{Logger: logger}
	var cluster *redisadapter.Cluster
	if *redisURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		cluster, err = redisadapter.New(ctx, redisadapter.Options{URL: *redisURL, Logger: logger, Mode: redisadapter.Mode(*redisMode)})
		cancel()
		if err != nil {
			log.Fatalf("-redis %s: %v", *redisURL, err)
		}
		opts.Adapter = cluster.Adapter
	}
	srv := server.New(opts)
	srv.OnConnection(func(s *server.Socket) {
		s.On("echo", func(args shared.Args, ack shared.AckFunc) error {
			if ack == nil {
				return nil
			}
			return ack(passThrough(args)...)
		})
		s.On("broadcast", func(args shared.Args, ack shared.AckFunc) error {
			if err := srv.Emit("bcast", passThrough(args)...); err != nil {
				return err
			}
			if ack == nil {
				return nil
			}
			return ack()
		})
		s.On("fetch", func(args shared.Args, ack shared.AckFunc) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			sockets, err := srv.Except().FetchSockets(ctx)
			if err != nil {
				return err
			}
			if ack == nil {
				return nil
			}
			return ack(len(sockets))
		})
	})

	if *withAdmin {
		adm, err := admin.Instrument(srv, admin.Options{NoAuth: true, Mode: admin.ModeProduction})
		if err != nil {
			log.Fatalf("-admin: %v", err)
		}
		defer adm.Close()
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	if *withMetrics {
		reg := prometheus.NewRegistry()
		reg.MustRegister(metrics.NewCollector(srv))
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	hs := &http.Server{Handler: mux}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("benchserver: listening on %s", ln.Addr())

	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Print(err)
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-done:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	hs.Close() // hijacked WebSockets are the Socket.IO server's to close
	_ = srv.Shutdown(ctx)
	if cluster != nil {
		st := cluster.Stats()
		_ = cluster.Close()
		log.Printf("benchserver: adapter stats published=%d publish_errors=%d received=%d malformed=%d dropped=%d gaps=%d",
			st.Published, st.PublishErrors, st.Received, st.Malformed, st.Dropped, st.Gaps)
	}
}

// passThrough returns the arguments as they came, without decoding them:
// raw JSON, or decoded values when binary attachments must be re-attached.
func passThrough(args shared.Args) []any {
	out := make([]any, args.Len())
	if len(args.Buffers()) > 0 {
		vs, err := args.Values()
		if err == nil {
			copy(out, vs)
			return out
		}
	}
	for i := range out {
		out[i] = json.RawMessage(args.Raw(i))
	}
	return out
}
