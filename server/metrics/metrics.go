// Package metrics exports a tsunagi server's counters to Prometheus, as a
// prometheus.Collector that the caller registers in a Registerer of its
// own; the package registers nothing itself, in the global registry or
// any other:
//
//	srv := server.New(nil)
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewCollector(srv))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The values are the server's own (server.Server.Stats), read when the
// registry is gathered: the server counts with a few atomic adds whether
// or not a collector reads them, and a collector adds nothing to the work
// of serving. Several servers in one process each get a collector, in a
// registry of their own or wrapped with prometheus.WrapRegistererWith and
// a constant label.
//
// Every name begins with tsunagi_. Labels have few values: transport
// (polling, websocket), reason (the server's disconnect reasons, and
// "other"), code (Engine.IO error codes 0–5) and namespace (the
// namespaces made with Server.Of; the children of dynamic namespaces,
// whose names clients choose, count together as "dynamic"). No label
// carries a socket id, a room or an event name.
//
// The metrics:
//
//	tsunagi_connections_total{transport}      counter   connections opened, by the transport they began on
//	tsunagi_connections{transport}            gauge     connections open, by the transport they are on
//	tsunagi_upgrades_total                    counter   upgrades from polling to WebSocket
//	tsunagi_sockets{namespace}                gauge     sockets connected
//	tsunagi_events_received_total{namespace}  counter   events received from clients
//	tsunagi_events_sent_total{namespace}      counter   events queued for clients (emits and broadcasts)
//	tsunagi_messages_received_total           counter   Engine.IO messages read from clients
//	tsunagi_received_bytes_total              counter   their bytes
//	tsunagi_sent_bytes_total                  counter   bytes of the frames written to clients
//	tsunagi_acks_pending                      gauge     acks the server waits for
//	tsunagi_acks_timed_out_total              counter   acks given up at their deadline
//	tsunagi_disconnects_total{reason}         counter   sockets disconnected
//	tsunagi_slow_client_evictions_total       counter   connections closed for not reading fast enough
//	tsunagi_handshake_errors_total{code}      counter   requests refused with an Engine.IO error
//	tsunagi_write_batch_frames                histogram frames per write of a connection's writer
//	tsunagi_write_batch_bytes                 histogram bytes per write
//	tsunagi_write_queue_depth_frames          histogram frames waiting when a writer took its queue
//
// and, when a namespace's adapter is a server.StatsAdapter (the Redis
// adapters of server/redisadapter), tsunagi_adapter_published_total,
// tsunagi_adapter_publish_errors_total, tsunagi_adapter_received_total,
// tsunagi_adapter_malformed_total, tsunagi_adapter_dropped_total and
// tsunagi_adapter_gaps_total.
package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tsunagi/tsunagi/server"
)

// Collector is the prometheus.Collector of one server's metrics. Make one
// with NewCollector.
type Collector struct {
	srv *server.Server
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns the collector of srv's metrics. Register it in your
// own prometheus.Registerer, once per registry.
func NewCollector(srv *server.Server) *Collector { return &Collector{srv: srv} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("tsunagi_"+name, help, labels, nil)
}

var (
	descConns = desc("connections_total",
		"Engine.IO connections opened, by the transport they began on.", "transport")
	descOpen = desc("connections",
		"Engine.IO connections open, by the transport they are on.", "transport")
	descUpgrades = desc("upgrades_total",
		"Connections upgraded from polling to WebSocket.")
	descSockets = desc("sockets",
		`Sockets connected, by namespace (the children of dynamic namespaces as "dynamic").`, "namespace")
	descEventsIn = desc("events_received_total",
		"Socket.IO events received from clients, by namespace.", "namespace")
	descEventsOut = desc("events_sent_total",
		"Socket.IO events queued for clients (emits and broadcasts, one per socket reached), by namespace.", "namespace")
	descMessagesIn = desc("messages_received_total",
		"Engine.IO messages read from clients, attachments included.")
	descBytesIn = desc("received_bytes_total",
		"Bytes of the Engine.IO messages read from clients.")
	descBytesOut = desc("sent_bytes_total",
		"Bytes of the frames written to clients (packets, attachments, pings).")
	descAcksPending = desc("acks_pending",
		"Acks the server waits for (EmitWithAck, and broadcasts with acks: one per socket).")
	descAcksTimedOut = desc("acks_timed_out_total",
		"Acks given up before the reply came, at their deadline.")
	descDisconnects = desc("disconnects_total",
		"Sockets disconnected, by reason.", "reason")
	descSlow = desc("slow_client_evictions_total",
		"Connections closed because the client did not read fast enough.")
	descHandshakeErrors = desc("handshake_errors_total",
		"Requests refused with an Engine.IO error, by code (0 unknown transport, 1 unknown sid, "+
			"2 bad handshake method, 3 bad request, 4 forbidden, 5 unsupported protocol version).", "code")
	descBatchFrames = desc("write_batch_frames",
		"Frames per write of a connection's writer, which writes all that is queued at once.")
	descBatchBytes = desc("write_batch_bytes",
		"Bytes per write of a connection's writer.")
	descQueueDepth = desc("write_queue_depth_frames",
		"Frames waiting in a connection's queue when its writer took them.")

	descAdapterPublished = desc("adapter_published_total",
		"Messages the adapter sent to the other servers.")
	descAdapterPublishErrors = desc("adapter_publish_errors_total",
		"Messages the adapter could not send to the other servers (lost).")
	descAdapterReceived = desc("adapter_received_total",
		"Messages the adapter read from the other servers.")
	descAdapterMalformed = desc("adapter_malformed_total",
		"Messages from the other servers dropped as unreadable.")
	descAdapterDropped = desc("adapter_dropped_total",
		"Messages from the other servers dropped because the adapter's queue was full.")
	descAdapterGaps = desc("adapter_gaps_total",
		"Times the adapter's subscription was lost: what the other servers published meanwhile is lost.")

	allDescs = []*prometheus.Desc{descConns, descOpen, descUpgrades, descSockets, descEventsIn,
		descEventsOut, descMessagesIn, descBytesIn, descBytesOut, descAcksPending, descAcksTimedOut,
		descDisconnects, descSlow, descHandshakeErrors, descBatchFrames, descBatchBytes, descQueueDepth,
		descAdapterPublished, descAdapterPublishErrors, descAdapterReceived, descAdapterMalformed,
		descAdapterDropped, descAdapterGaps}
)

// Describe implements prometheus.Collector: it sends every metric's
// descriptor, the adapter's included.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the server's Stats and
// sends them; the adapter's only when a namespace has a StatsAdapter.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	histogram := func(d *prometheus.Desc, h server.Histogram) {
		buckets := make(map[float64]uint64, len(h.Bounds))
		var cum uint64
		for i, b := range h.Bounds {
			cum += h.Counts[i]
			buckets[b] = cum
		}
		ch <- prometheus.MustNewConstHistogram(d, h.Count, float64(h.Sum), buckets)
	}
	counter(descConns, st.ConnectionsPolling, "polling")
	counter(descConns, st.ConnectionsWebSocket, "websocket")
	gauge(descOpen, float64(st.OpenPolling), "polling")
	gauge(descOpen, float64(st.OpenWebSocket), "websocket")
	counter(descUpgrades, st.Upgrades)
	for ns, n := range st.Sockets {
		gauge(descSockets, float64(n), ns)
	}
	for ns, n := range st.EventsIn {
		counter(descEventsIn, n, ns)
	}
	for ns, n := range st.EventsOut {
		counter(descEventsOut, n, ns)
	}
	counter(descMessagesIn, st.MessagesIn)
	counter(descBytesIn, st.BytesIn)
	counter(descBytesOut, st.BatchBytes.Sum)
	gauge(descAcksPending, float64(st.AcksPending))
	counter(descAcksTimedOut, st.AcksTimedOut)
	for reason, n := range st.Disconnects {
		counter(descDisconnects, n, reason)
	}
	counter(descSlow, st.SlowClientEvictions)
	for code, n := range st.HandshakeErrors {
		counter(descHandshakeErrors, n, strconv.Itoa(code))
	}
	histogram(descBatchFrames, st.BatchFrames)
	histogram(descBatchBytes, st.BatchBytes)
	histogram(descQueueDepth, st.QueueDepth)
	if st.HasAdapter {
		a := st.Adapter
		counter(descAdapterPublished, a.Published)
		counter(descAdapterPublishErrors, a.PublishErrors)
		counter(descAdapterReceived, a.Received)
		counter(descAdapterMalformed, a.Malformed)
		counter(descAdapterDropped, a.Dropped)
		counter(descAdapterGaps, a.Gaps)
	}
}
