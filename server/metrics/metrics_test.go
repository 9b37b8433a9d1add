package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/metrics"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// values flattens gathered families into "name{k=v,…}" → value; a
// histogram gives name_count and name_sum.
func values(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := mf.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out[key+"_count"] = float64(h.GetSampleCount())
				out[key+"_sum"] = h.GetSampleSum()
				var prev uint64
				for _, b := range h.GetBucket() {
					if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
						t.Errorf("%s: bucket le=%g has %d, after %d, of %d", key, b.GetUpperBound(),
							b.GetCumulativeCount(), prev, h.GetSampleCount())
					}
					prev = b.GetCumulativeCount()
				}
			default:
				t.Errorf("%s: unexpected type %v", key, mf.GetType())
			}
		}
	}
	return out
}

// check compares the metrics of want with got, exactly.
func check(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: missing", k)
		} else if g != v {
			t.Errorf("%s = %g, want %g", k, g, v)
		}
	}
}

// TestScriptedRun runs a real server on loopback with real clients (the
// wasmclient, natively, over WebSocket and over polling that upgrades),
// then gathers a fresh registry and checks the counts that the run made.
func TestScriptedRun(t *testing.T) {
	const (
		clients = 3 // over WebSocket, namespace "/"
		events  = 4 // each way, per client
	)
	srv := server.New(&server.Options{Logger: quiet})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewCollector(srv))

	socks := make(chan *server.Socket, clients+1)
	disconnects := make(chan string, clients+1)
	for _, nsp := range []string{"/", "/chat"} {
		srv.Of(nsp).OnConnection(func(s *server.Socket) {
			s.On("up", func(a shared.Args, _ shared.AckFunc) error {
				var i int
				if err := a.Decode(0, &i); err != nil {
					return err
				}
				return s.Emit("down", i)
			})
			s.On("echo", func(a shared.Args, ack shared.AckFunc) error {
				var v string
				if err := a.Decode(0, &v); err != nil {
					return err
				}
				return ack(v)
			})
			s.OnDisconnect(func(reason string) { disconnects <- reason })
			socks <- s
		})
	}

	dial := func(url string, opts *wasmclient.Options) *wasmclient.Socket {
		t.Helper()
		opts.NoReconnection = true
		opts.OnError = func(err error) { t.Errorf("client: %v", err) }
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		c, err := wasmclient.New(url, opts)
		if err != nil {
			t.Fatal(err)
		}
		c.On("question", func(a shared.Args, ack shared.AckFunc) error { return ack(42) })
		c.On("silent", func(shared.Args, shared.AckFunc) error { return nil }) // never acks
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		t.Cleanup(func() { c.Disconnect() })
		return c
	}
	// events each way, and an ack each way, on one client.
	exchange := func(c *wasmclient.Socket, srvSock *server.Socket) {
		t.Helper()
		down := make(chan int, events)
		c.On("down", func(a shared.Args, _ shared.AckFunc) error {
			var i int
			err := a.Decode(0, &i)
			down <- i
			return err
		})
		for i := range events {
			if err := c.Emit("up", i); err != nil {
				t.Fatal(err)
			}
		}
		for i := range events {
			if got := wait.Recv(t, "a down event", down); got != i {
				t.Fatalf("down %d, want %d", got, i)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		if _, err := c.EmitWithAck(ctx, "echo", "hi"); err != nil {
			t.Fatalf("client EmitWithAck: %v", err)
		}
		res, err := srvSock.EmitWithAck(ctx, "question")
		var n int
		if err == nil {
			err = res.Decode(0, &n)
		}
		if err != nil || n != 42 {
			t.Fatalf("server EmitWithAck: %d, %v", n, err)
		}
	}

	var ws []*wasmclient.Socket
	var wsSrv []*server.Socket
	for range clients {
		c := dial(hs.URL, &wasmclient.Options{Transports: []string{wasmclient.TransportWebSocket}})
		s := wait.Recv(t, "a server socket", socks)
		exchange(c, s)
		ws, wsSrv = append(ws, c), append(wsSrv, s)
	}

	// A polling client on /chat, which upgrades.
	upgraded := make(chan string, 1)
	pc, err := wasmclient.New(hs.URL+"/chat", &wasmclient.Options{
		Transports:     []string{wasmclient.TransportPolling, wasmclient.TransportWebSocket},
		NoReconnection: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	pc.Manager().OnUpgrade(func(tr string) { upgraded <- tr })
	pc.On("question", func(a shared.Args, ack shared.AckFunc) error { return ack(42) })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := pc.Connect(ctx); err != nil {
		t.Fatalf("polling Connect: %v", err)
	}
	t.Cleanup(func() { pc.Disconnect() })
	pcSrv := wait.Recv(t, "the polling client's socket", socks)
	if tr := wait.Recv(t, "the upgrade", upgraded); tr != wasmclient.TransportWebSocket {
		t.Fatalf("upgraded to %q", tr)
	}
	exchange(pc, pcSrv)

	// An ack that times out.
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = wsSrv[0].EmitWithAck(short, "silent")
	cancelShort()
	if !errors.Is(err, shared.ErrAckTimeout) {
		t.Fatalf("EmitWithAck silent: %v, want ErrAckTimeout", err)
	}
	// One pending, until canceled (which is not a timeout).
	long, cancelLong := context.WithTimeout(context.Background(), wait.Deadline())
	pending := make(chan error, 1)
	go func() { _, err := wsSrv[1].EmitWithAck(long, "silent"); pending <- err }()
	wait.For(t, "one ack pending", func() bool { return srv.Stats().AcksPending == 1 })
	if got := values(t, reg)["tsunagi_acks_pending"]; got != 1 {
		t.Errorf("tsunagi_acks_pending = %g while one waits", got)
	}
	cancelLong()
	if err := wait.Recv(t, "the canceled ack", pending); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled EmitWithAck: %v", err)
	}

	// Disconnects: the client leaves; the server disconnects another.
	ws[0].Disconnect()
	if r := wait.Recv(t, "a disconnect", disconnects); r != server.ReasonClientDisconnect {
		t.Fatalf("disconnect reason %q", r)
	}
	wsSrv[1].Disconnect(true)
	if r := wait.Recv(t, "a disconnect", disconnects); r != server.ReasonServerDisconnect {
		t.Fatalf("disconnect reason %q", r)
	}

	// Bad handshakes: an unknown transport (0) and Engine.IO 3 (5).
	for _, q := range []string{"EIO=4&transport=carrier-pigeon", "EIO=3&transport=polling"} {
		resp, err := http.Get(hs.URL + "/socket.io/?" + q)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: status %d", q, resp.StatusCode)
		}
	}

	// The two closed connections are gone: client 2 and the upgraded one remain.
	wait.For(t, "two connections open", func() bool {
		st := srv.Stats()
		return st.OpenWebSocket == 2 && st.OpenPolling == 0
	})
	got := values(t, reg)
	want := map[string]float64{
		`tsunagi_connections_total{transport=websocket}`: clients,
		`tsunagi_connections_total{transport=polling}`:   1,
		`tsunagi_connections{transport=websocket}`:       2,
		`tsunagi_connections{transport=polling}`:         0,
		`tsunagi_upgrades_total`:                         1,
		`tsunagi_sockets{namespace=/}`:                   clients - 2,
		`tsunagi_sockets{namespace=/chat}`:               1,
		// events "up" and one "echo" per client
		`tsunagi_events_received_total{namespace=/}`:     clients * (events + 1),
		`tsunagi_events_received_total{namespace=/chat}`: events + 1,
		// "down" and one "question" per client, and the two "silent"
		`tsunagi_events_sent_total{namespace=/}`:                        clients*(events+1) + 2,
		`tsunagi_events_sent_total{namespace=/chat}`:                    events + 1,
		`tsunagi_acks_pending`:                                          0,
		`tsunagi_acks_timed_out_total`:                                  1,
		`tsunagi_disconnects_total{reason=client namespace disconnect}`: 1,
		`tsunagi_disconnects_total{reason=server namespace disconnect}`: 1,
		`tsunagi_disconnects_total{reason=transport close}`:             0,
		`tsunagi_disconnects_total{reason=slow client}`:                 0,
		`tsunagi_disconnects_total{reason=other}`:                       0,
		`tsunagi_slow_client_evictions_total`:                           0,
		`tsunagi_handshake_errors_total{code=0}`:                        1,
		`tsunagi_handshake_errors_total{code=1}`:                        0,
		`tsunagi_handshake_errors_total{code=3}`:                        0,
		`tsunagi_handshake_errors_total{code=5}`:                        1,
	}
	check(t, got, want)
	// What depends on timing (batching, pings) is checked for its bounds.
	sent := want[`tsunagi_events_sent_total{namespace=/}`] + want[`tsunagi_events_sent_total{namespace=/chat}`]
	for _, k := range []string{"tsunagi_write_batch_frames_sum", "tsunagi_write_queue_depth_frames_sum"} {
		if got[k] < sent {
			t.Errorf("%s = %g, below the %g events sent", k, got[k], sent)
		}
	}
	if got["tsunagi_write_batch_bytes_count"] != got["tsunagi_write_batch_frames_count"] || got["tsunagi_write_batch_bytes_count"] == 0 {
		t.Errorf("batches: %g by bytes, %g by frames", got["tsunagi_write_batch_bytes_count"], got["tsunagi_write_batch_frames_count"])
	}
	if got["tsunagi_sent_bytes_total"] != got["tsunagi_write_batch_bytes_sum"] || got["tsunagi_sent_bytes_total"] < sent {
		t.Errorf("sent bytes %g, batch bytes %g", got["tsunagi_sent_bytes_total"], got["tsunagi_write_batch_bytes_sum"])
	}
	if got["tsunagi_received_bytes_total"] < got["tsunagi_messages_received_total"] ||
		got["tsunagi_messages_received_total"] < want[`tsunagi_events_received_total{namespace=/}`] {
		t.Errorf("received %g messages, %g bytes", got["tsunagi_messages_received_total"], got["tsunagi_received_bytes_total"])
	}
	for k := range got {
		if !strings.HasPrefix(k, "tsunagi_") {
			t.Errorf("%s: not prefixed tsunagi_", k)
		}
		if strings.HasPrefix(k, "tsunagi_adapter_") {
			t.Errorf("%s: reported without an adapter", k)
		}
	}

	// The same through the HTTP handler a scraper reads.
	mh := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer mh.Close()
	resp, err := http.Get(mh.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	line := fmt.Sprintf(`tsunagi_events_received_total{namespace="/"} %d`, clients*(events+1))
	if !strings.Contains(string(body), line+"\n") {
		t.Errorf("/metrics lacks %q:\n%s", line, body)
	}
}

// statsAdapter is the memory adapter with counters, as a Redis adapter
// reports them: the same for every namespace.
type statsAdapter struct {
	*server.MemoryAdapter
	stats *server.AdapterStats
}

func (a statsAdapter) AdapterStats() server.AdapterStats { return *a.stats }

// TestAdapterMetrics: with a StatsAdapter, its counters are reported once,
// however many namespaces share them.
func TestAdapterMetrics(t *testing.T) {
	shared := &server.AdapterStats{Published: 7, PublishErrors: 1, Received: 5, Malformed: 2, Dropped: 3, Gaps: 4}
	srv := server.New(&server.Options{Logger: quiet, Adapter: func(ns *server.Namespace) server.Adapter {
		return statsAdapter{server.NewMemoryAdapter(ns), shared}
	}})
	srv.Of("/a")
	srv.Of("/b")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewCollector(srv))
	check(t, values(t, reg), map[string]float64{
		"tsunagi_adapter_published_total":      7,
		"tsunagi_adapter_publish_errors_total": 1,
		"tsunagi_adapter_received_total":       5,
		"tsunagi_adapter_malformed_total":      2,
		"tsunagi_adapter_dropped_total":        3,
		"tsunagi_adapter_gaps_total":           4,
	})
}

// smallSendBuffers is a listener whose connections have an 8 KB kernel
// send buffer, so that a client that reads nothing blocks the writer soon.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(8 << 10)
	}
	return c, err
}

// TestSlowClientEviction: a raw WebSocket client that joins and then reads
// nothing is evicted once its queue overflows, and counted once.
func TestSlowClientEviction(t *testing.T) {
	srv := server.New(&server.Options{Logger: quiet, MaxQueue: 16, WriteTimeout: 200 * time.Millisecond})
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener = smallSendBuffers{hs.Listener}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewCollector(srv))
	socks := make(chan *server.Socket, 1)
	gone := make(chan string, 1)
	srv.OnConnection(func(s *server.Socket) {
		s.OnDisconnect(func(reason string) { gone <- reason })
		socks <- s
	})

	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		return d.DialContext(ctx, network, addr)
	}}
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow(); tr.CloseIdleConnections() })
	if _, b, err := ws.Read(ctx); err != nil || b[0] != '0' {
		t.Fatalf("open: %q %v", b, err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := ws.Read(ctx); err != nil || !bytes.HasPrefix(b, []byte("40{")) {
		t.Fatalf("connect: %q %v", b, err)
	}
	s := wait.Recv(t, "the server socket", socks)
	big := strings.Repeat("x", 64<<10)
	for i := 0; i < 10000 && s.Emit("big", big) == nil; i++ {
	}
	if r := wait.Recv(t, "the eviction", gone); r != server.ReasonSlowClient {
		t.Fatalf("disconnect reason %q, want %q", r, server.ReasonSlowClient)
	}
	check(t, values(t, reg), map[string]float64{
		"tsunagi_slow_client_evictions_total":               1,
		"tsunagi_disconnects_total{reason=slow client}":     1,
		"tsunagi_sockets{namespace=/}":                      0,
		"tsunagi_connections_total{transport=websocket}":    1,
		"tsunagi_disconnects_total{reason=transport close}": 0,
	})
}
