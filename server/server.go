// Package server is the native tsunagi server: an http.Handler that speaks
// Socket.IO v5 over Engine.IO v4 on WebSocket, for the wasm client and for
// the official Socket.IO clients alike.
//
//	srv := server.New(nil)
//	srv.OnConnection(func(s *server.Socket) {
//		events.News.Emit(s, events.News{Hello: "world"})
//		events.MyOtherEvent.On(s, func(d events.MyData) { log.Println(d) })
//	})
//	http.Handle("/socket.io/", srv)
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/shared"
)

// Options configure a Server. The zero value of every field is its default.
type Options struct {
	// PingInterval is how often the server pings each client. Defaults to 25 s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for a pong before closing the
	// connection with "ping timeout". Defaults to 20 s.
	PingTimeout time.Duration
	// MaxPayload is the largest message accepted, in bytes. Defaults to 1,000,000.
	MaxPayload int64
	// MaxAttachments is the most binary attachments one packet may carry. Defaults to 10.
	MaxAttachments int
	// ConnectTimeout closes a connection that joins no namespace in time. Defaults to 45 s.
	ConnectTimeout time.Duration
	// AckTimeout bounds EmitWithAck when its ctx has no deadline. Defaults to 30 s.
	AckTimeout time.Duration
	// WriteTimeout bounds each write to a client; a client that does not read
	// in time is disconnected with reason "transport error". Defaults to 10 s.
	WriteTimeout time.Duration
	// MaxQueue is the most outgoing messages queued for one connection; a
	// client whose queue overflows is disconnected with reason "slow client".
	// Defaults to 1024.
	MaxQueue int
	// OriginPatterns lists the cross-origin hosts allowed to connect, as in
	// websocket.AcceptOptions (for example "localhost:*"). By default only
	// same-origin requests (and clients that send no Origin) are accepted.
	OriginPatterns []string
	// Logger receives the server's diagnostics. Defaults to slog.Default().
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PingInterval, shared.DefaultPingInterval)
	def(&c.PingTimeout, shared.DefaultPingTimeout)
	def(&c.ConnectTimeout, shared.DefaultConnectTimeout)
	def(&c.AckTimeout, 30*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	if c.MaxPayload <= 0 {
		c.MaxPayload = shared.DefaultMaxPayload
	}
	if c.MaxAttachments <= 0 {
		c.MaxAttachments = shared.DefaultMaxAttachments
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server accepts Socket.IO connections. Create it with New.
type Server struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	nsps     map[string]*Namespace
	conns    map[*conn]struct{}
	shutdown bool
	wg       sync.WaitGroup
}

// New returns a Server with the given options; nil means the defaults.
func New(opts *Options) *Server {
	o := opts.withDefaults()
	s := &Server{
		opts:  o,
		log:   o.Logger,
		nsps:  map[string]*Namespace{},
		conns: map[*conn]struct{}{},
	}
	s.Of("/")
	return s
}

// Of returns the namespace name, creating it when it does not exist yet.
func (s *Server) Of(name string) *Namespace {
	if name == "" || name[0] != '/' {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, ok := s.nsps[name]
	if !ok {
		ns = newNamespace(s, name)
		s.nsps[name] = ns
	}
	return ns
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nsps[name]
}

// OnConnection registers fn for each socket that connects to the main namespace "/".
func (s *Server) OnConnection(fn func(*Socket)) { s.Of("/").OnConnection(fn) }

// Use adds middleware to the main namespace.
func (s *Server) Use(fn Middleware) { s.Of("/").Use(fn) }

// Emit sends an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.Of("/").Emit(event, args...) }

// To targets the sockets of the main namespace in any of rooms.
func (s *Server) To(rooms ...string) *Broadcast { return s.Of("/").To(rooms...) }

// engineError is the body of an Engine.IO handshake error.
type engineError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func writeEngineError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(engineError{Code: code, Message: msg})
}

// ServeHTTP accepts a WebSocket connection at the Engine.IO endpoint
// (usually mounted at /socket.io/).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		writeEngineError(w, http.StatusBadRequest, 5, "Unsupported protocol version: this server speaks Engine.IO 4 (EIO=4)")
		return
	}
	switch t := q.Get("transport"); t {
	case "websocket":
	case "polling":
		writeEngineError(w, http.StatusBadRequest, 0, "Transport unknown: this server speaks WebSocket only; configure socket.io-client with { transports: [\"websocket\"] }")
		return
	default:
		writeEngineError(w, http.StatusBadRequest, 0, "Transport unknown")
		return
	}
	if q.Get("sid") != "" {
		writeEngineError(w, http.StatusBadRequest, 1, "Session ID unknown")
		return
	}
	if r.Method != http.MethodGet {
		writeEngineError(w, http.StatusBadRequest, 2, "Bad handshake method")
		return
	}
	s.mu.Lock()
	down := s.shutdown
	if !down {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if down {
		writeEngineError(w, http.StatusServiceUnavailable, 3, "Server is shutting down")
		return
	}
	defer s.wg.Done()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns: s.opts.OriginPatterns,
	})
	if err != nil {
		s.log.Info("tsunagi: websocket handshake refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	ws.SetReadLimit(s.opts.MaxPayload)
	c := newConn(s, ws, r)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.run()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting connections, disconnects every client with reason
// "server shutting down" and waits until their goroutines have ended or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close("server shutting down", websocket.StatusGoingAway)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrServerClosed is returned for operations after Shutdown.
var ErrServerClosed = errors.New("tsunagi: server closed")

func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
