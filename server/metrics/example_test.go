package metrics_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/metrics"
)

// The collector goes in a registry of the caller's, never the global one,
// and the registry is served at /metrics beside the server.
func Example() {
	srv := server.New(&server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(srv))

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := httptest.NewServer(mux)
	defer hs.Close()

	// A handshake with a transport that does not exist: Engine.IO error 0.
	resp, err := http.Get(hs.URL + "/socket.io/?EIO=4&transport=carrier-pigeon")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	resp, err = http.Get(hs.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, `tsunagi_handshake_errors_total{code="0"}`) ||
			strings.HasPrefix(line, "tsunagi_sockets{") {
			fmt.Print(line)
		}
	}
	// Output:
	// tsunagi_handshake_errors_total{code="0"} 1
	// tsunagi_sockets{namespace="/"} 0
}
