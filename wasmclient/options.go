// Package wasmclient is the tsunagi client. Its core (dial, events, acks,
// reconnection, offline buffering, connection state recovery) is portable
// Go: it runs in the browser under GOOS=js GOARCH=wasm, where it replaces
// the socket.io JavaScript client, and natively, where it serves as a Go
// client for services and load tests.
//
//	sock, err := wasmclient.Dial(ctx, "http://127.0.0.1:8124", nil)
//	events.News.On(sock, func(n events.News) { … })
//	events.MyOtherEvent.Emit(sock, events.MyData{My: "data"})
//
// As in socket.io-client, a Manager holds the connection and reconnects
// it; each Socket is one namespace over it.
//
// The connection runs over WebSocket or HTTP long-polling (Engine.IO v4),
// and upgrades from polling to WebSocket without losing, doubling or
// reordering a packet: see Options.Transports. Natively polling uses
// net/http; in the browser it calls fetch.
package wasmclient

import (
	"net/http"
	"net/url"
	"time"
)

// Defaults, the same as socket.io-client's.
const (
	DefaultReconnectionDelay    = 1 * time.Second
	DefaultReconnectionDelayMax = 5 * time.Second
	DefaultRandomizationFactor  = 0.5
	DefaultTimeout              = 20 * time.Second
	DefaultMaxBuffer            = 1024
	DefaultWriteTimeout         = 10 * time.Second
)

// Options configure a client. The zero value of every field is its default.
type Options struct {
	// Auth is sent with CONNECT (socket.io-client's auth option); the
	// server's middleware sees it in the handshake.
	Auth any
	// Query is added to the handshake URL.
	Query url.Values
	// Path is where the server listens. Defaults to "/socket.io/".
	Path string
	// Header is sent with every HTTP request of the connection: the
	// polling requests and the WebSocket handshake (socket.io-client's
	// extraHeaders). In the browser only polling requests carry it: a page
	// cannot set WebSocket handshake headers, and a header other than the
	// CORS-safelisted ones makes cross-origin polling send a preflight.
	Header http.Header

	// Transports are the transports to use, "websocket" and "polling"
	// (socket.io-client's transports), in the order a connection attempt
	// tries them: when one cannot connect, the next is tried
	// (tryAllTransports). A connection opened over polling upgrades to
	// WebSocket when "websocket" is listed too and the server offers it.
	// Defaults to WebSocket, then polling: a network that blocks WebSocket
	// still connects. socket.io-client's own default, polling then the
	// upgrade, is []string{"polling", "websocket"}.
	Transports []string
	// NoUpgrade keeps a connection opened over polling on polling
	// (socket.io-client's upgrade: false).
	NoUpgrade bool
	// RememberUpgrade starts the next connection with WebSocket when the
	// last WebSocket connection or upgrade of this Manager succeeded
	// (socket.io-client's rememberUpgrade); it falls back to the other
	// transports when WebSocket fails.
	RememberUpgrade bool
	// WithCredentials sends cookies with cross-origin polling requests in
	// the browser (fetch's credentials: "include"; socket.io-client's
	// withCredentials). Same-origin requests always carry them. Natively
	// each Manager keeps the cookies it is given in a jar of its own, for
	// polling and the WebSocket handshake alike (sticky sessions).
	WithCredentials bool

	// NoReconnection turns automatic reconnection off.
	NoReconnection bool
	// ReconnectionAttempts is how many times to try before giving up
	// (reconnect_failed). Defaults to 0: unlimited.
	ReconnectionAttempts int
	// ReconnectionDelay is the first delay between attempts; each attempt
	// doubles it. Defaults to 1 s.
	ReconnectionDelay time.Duration
	// ReconnectionDelayMax caps the delay. Defaults to 5 s.
	ReconnectionDelayMax time.Duration
	// RandomizationFactor spreads the delays: each is moved by up to this
	// fraction, up or down. Defaults to 0.5; a negative value means none.
	RandomizationFactor float64
	// Timeout bounds each connection attempt. Defaults to 20 s.
	Timeout time.Duration

	// AckTimeout bounds EmitWithAck when its ctx has no deadline. Defaults to none.
	AckTimeout time.Duration
	// WriteTimeout bounds each write. Defaults to 10 s.
	WriteTimeout time.Duration
	// MaxBuffer is the most emits queued while the socket is not connected;
	// Emit returns ErrBufferFull beyond it. Defaults to 1024.
	MaxBuffer int
	// OnError receives errors that have no caller to return to: a handler's
	// error, a payload that did not decode, a recovered panic. Defaults to log.Printf.
	OnError func(error)
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Path == "" {
		c.Path = "/socket.io/"
	}
	if c.ReconnectionDelay <= 0 {
		c.ReconnectionDelay = DefaultReconnectionDelay
	}
	if c.ReconnectionDelayMax <= 0 {
		c.ReconnectionDelayMax = DefaultReconnectionDelayMax
	}
	if c.RandomizationFactor == 0 {
		c.RandomizationFactor = DefaultRandomizationFactor
	} else if c.RandomizationFactor < 0 {
		c.RandomizationFactor = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = DefaultMaxBuffer
	}
	return c
}

// Disconnect reasons, as socket.io-client names them.
const (
	ReasonServerDisconnect = "io server disconnect"
	ReasonClientDisconnect = "io client disconnect"
	ReasonPingTimeout      = "ping timeout"
	ReasonTransportClose   = "transport close"
	ReasonTransportError   = "transport error"
	ReasonParseError       = "parse error"
)

// deliberate reports whether a reason ends the connection for good: no
// reconnection follows.
func deliberate(reason string) bool {
	return reason == ReasonServerDisconnect || reason == ReasonClientDisconnect
}
