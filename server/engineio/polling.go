package engineio

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// recordSeparator joins the packets of a polling payload.
const recordSeparator = '\x1e'

// encodePayload joins packets as engine.io-parser's encodePayload does:
// "<type><data>" records separated by \x1e, binary as "b" + base64.
func encodePayload(pkts []packet) []byte {
	n := 0
	for _, p := range pkts {
		n += 2 + base64.StdEncoding.EncodedLen(len(p.data))
	}
	out := make([]byte, 0, n)
	for i, p := range pkts {
		if i > 0 {
			out = append(out, recordSeparator)
		}
		if p.binary {
			out = append(out, 'b')
			out = base64.StdEncoding.AppendEncode(out, p.data)
			continue
		}
		out = append(out, p.typ)
		out = append(out, p.data...)
	}
	return out
}

// handshakePolling answers the handshake GET with the open packet (and
// what OnConnection queued).
func (s *Server) handshakePolling(w http.ResponseWriter, r *http.Request) {
	ss := s.newSession(Polling, r)
	if ss == nil {
		s.refuse(w, r, false, CodeBadRequest, "")
		return
	}
	if c := s.opts.Cookie; c != nil {
		ck := &http.Cookie{Name: c.Name, Value: ss.id, Path: c.Path, SameSite: c.SameSite,
			Secure: c.Secure, HttpOnly: !c.NoHTTPOnly, MaxAge: c.MaxAge, Domain: c.Domain}
		if ck.Name == "" {
			ck.Name = "io"
		}
		if ck.Path == "" && !c.NoPath {
			ck.Path = "/"
		}
		if ck.SameSite == 0 {
			ck.SameSite = http.SameSiteLaxMode
		}
		http.SetCookie(w, ck)
	}
	ss.pollGET(w, r)
}

// servePoll serves a GET or POST of an existing polling session; any other
// method gets 500, as in engine.io.
func (ss *Session) servePoll(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		ss.pollGET(w, r)
	case http.MethodPost:
		ss.pollPOST(w, r)
	default:
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// compressThreshold is the smallest GET body compressed, as engine.io's
// httpCompression.threshold.
const compressThreshold = 1024

// writePayload answers a GET with body, compressed when r accepts gzip or
// deflate and the body is large enough.
func (ss *Session) writePayload(w http.ResponseWriter, r *http.Request, body []byte) {
	h := w.Header()
	if !ss.srv.opts.DisableHTTPCompression && len(body) >= compressThreshold {
		if enc := acceptedEncoding(r.Header.Get("Accept-Encoding")); enc != "" {
			var buf bytes.Buffer
			var zw io.WriteCloser
			if enc == "gzip" {
				zw, _ = gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
			} else {
				zw, _ = flate.NewWriter(&buf, flate.DefaultCompression)
			}
			_, _ = zw.Write(body)
			_ = zw.Close()
			body = buf.Bytes()
			h.Set("Content-Encoding", enc)
			h.Add("Vary", "Accept-Encoding")
		}
	}
	writeBody(w, body)
}

// acceptedEncoding returns "gzip" or "deflate" when accept allows one.
func acceptedEncoding(accept string) string {
	deflate := false
	for part := range strings.SplitSeq(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if q := strings.TrimSpace(params); q == "q=0" || q == "q=0.0" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "gzip", "*":
			return "gzip"
		case "deflate":
			deflate = true
		}
	}
	if deflate {
		return "deflate"
	}
	return ""
}

func writeBody(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// pollGET holds the GET until there is something to send. A second GET
// while one is held is an error that closes the session (the held one gets
// the close packet); a GET the client aborts closes the session.
func (ss *Session) pollGET(w http.ResponseWriter, r *http.Request) {
	ss.mu.Lock()
	if ss.closed {
		if !ss.final {
			ss.mu.Unlock()
			ss.srv.refuse(w, r, false, CodeUnknownSID, "")
			return
		}
		if ss.kind == closeServer && len(ss.wbuf) > 0 {
			// What was queued before the close goes first, and the close
			// packet with the next GET, as engine.io sends it: a client
			// that got both in one payload would handle the close before
			// the packets (socket.io-client hands packets on a tick later).
			body := encodePayload(ss.wbuf)
			ss.wbuf = nil
			ss.mu.Unlock()
			ss.writePayload(w, r, body)
			return
		}
		ss.final = false
		body := []byte("6")
		if ss.kind == closeServer {
			body = []byte("1")
		}
		if ss.lingering != nil {
			ss.lingering.Stop()
		}
		ss.mu.Unlock()
		ss.srv.remove(ss)
		ss.writePayload(w, r, body)
		return
	}
	if ss.getHeld {
		ss.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		ss.fail(r, http.StatusBadRequest, "overlap from client")
		ss.close(ReasonTransportError, closeError)
		return
	}
	ss.getHeld = true
	for {
		switch {
		case ss.closed:
			var body []byte
			switch ss.kind {
			case closeClient:
				body = []byte("6")
			case closeServer:
				if len(ss.wbuf) > 0 { // the close packet with the next GET (see above)
					body = encodePayload(ss.wbuf)
					ss.wbuf = nil
					break
				}
				body = []byte("1")
				if ss.final {
					ss.final = false
					if ss.lingering != nil {
						ss.lingering.Stop()
					}
					defer ss.srv.remove(ss)
				}
			default:
				body = []byte("1")
			}
			ss.getHeld = false
			ss.mu.Unlock()
			ss.writePayload(w, r, body)
			return
		case ss.discard:
			// The session moved to WebSocket while this GET was held. A
			// client that upgrades pauses polling first, so this GET is
			// not its own: it gets code 3, as any GET after the upgrade
			// does; the write buffer goes on over WebSocket.
			ss.getHeld = false
			ss.mu.Unlock()
			ss.srv.refuse(w, r, false, CodeBadRequest, "")
			return
		case ss.probed && len(ss.wbuf) == 0:
			// The client is about to pause polling and send "5": this GET
			// is its last, and holding it would hold the upgrade.
			ss.getHeld = false
			ss.mu.Unlock()
			ss.writePayload(w, r, []byte("6"))
			return
		case len(ss.wbuf) > 0:
			pkts := ss.wbuf
			ss.wbuf = nil
			ss.getHeld = false
			ss.mu.Unlock()
			ss.writePayload(w, r, encodePayload(pkts))
			return
		}
		ch := ss.changed
		ss.mu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
			ss.mu.Lock()
			ss.getHeld = false
			ss.mu.Unlock()
			ss.fail(r, 0, "poll connection closed prematurely")
			ss.close(ReasonTransportError, closeError)
			return
		}
		ss.mu.Lock()
	}
}

var errTooLarge = errors.New("payload too large")

// pollPOST reads the packets of a POST, answers "ok" and hands them on.
// A body over MaxHTTPBufferSize gets 413 (the session stays, as in
// engine.io); a body not read within PostTimeout, an overlapping POST, an
// octet-stream body or a malformed payload closes the session.
func (ss *Session) pollPOST(w http.ResponseWriter, r *http.Request) {
	opts := &ss.srv.opts
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		ss.srv.refuse(w, r, false, CodeUnknownSID, "")
		return
	}
	if ss.postBusy {
		ss.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		ss.fail(r, http.StatusBadRequest, "data request overlap from client")
		ss.close(ReasonTransportError, closeError)
		return
	}
	ss.postBusy = true
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		ss.postBusy = false
		ss.mu.Unlock()
	}()

	if r.Header.Get("Content-Type") == "application/octet-stream" {
		w.WriteHeader(http.StatusBadRequest)
		ss.fail(r, http.StatusBadRequest, "invalid content")
		ss.close(ReasonTransportError, closeError)
		return
	}
	if r.ContentLength > opts.MaxHTTPBufferSize {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		ss.fail(r, http.StatusRequestEntityTooLarge, "payload over maxHttpBufferSize")
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(opts.PostTimeout))
	// A session that closes meanwhile (Close, Shutdown, a ping timeout)
	// cuts the read. It is cut only while this handler reads: once it has
	// answered, the connection may carry another request.
	ss.mu.Lock()
	ss.cutPost = func() { _ = rc.SetReadDeadline(time.Now()) }
	if ss.closed {
		ss.cutPost()
	}
	ss.mu.Unlock()
	body, err := readBody(r.Body, opts.MaxHTTPBufferSize)
	ss.mu.Lock()
	ss.cutPost = nil
	cut := ss.closed
	ss.mu.Unlock()
	if errors.Is(err, errTooLarge) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		ss.fail(r, http.StatusRequestEntityTooLarge, "payload over maxHttpBufferSize")
		return
	}
	if err != nil && cut {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err != nil {
		// A slow or aborted body.
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusBadRequest)
		ss.fail(r, http.StatusBadRequest, "POST body not read in full (PostTimeout, or aborted): "+err.Error())
		ss.close(ReasonTransportError, closeError)
		return
	}
	pkts, perr := decodePayload(body)
	for _, p := range pkts {
		if !ss.onPacket(p.typ, p.data, p.binary) {
			if p.typ == '1' {
				break
			}
			w.WriteHeader(http.StatusBadRequest)
			if p.typ == '2' {
				ss.fail(r, http.StatusBadRequest, "invalid heartbeat direction")
			} else {
				ss.fail(r, http.StatusBadRequest, "unexpected packet type "+string(p.typ))
			}
			return
		}
	}
	if perr != nil && !ss.isClosed() {
		w.WriteHeader(http.StatusBadRequest)
		ss.fail(r, http.StatusBadRequest, "parser error")
		ss.close(ReasonParseError, closeError)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}

func readBody(rd io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

var errParse = errors.New("parser error")

// decodePayload splits a POST body into packets; it stops at the first
// record that does not parse, returning the packets before it and
// errParse.
func decodePayload(body []byte) ([]packet, error) {
	if len(body) == 0 {
		return nil, errParse
	}
	var pkts []packet
	for rec := range bytes.SplitSeq(body, []byte{recordSeparator}) {
		if len(rec) == 0 {
			return pkts, errParse
		}
		if rec[0] == 'b' {
			data, err := base64.StdEncoding.DecodeString(string(rec[1:]))
			if err != nil {
				return pkts, errParse
			}
			pkts = append(pkts, packet{typ: '4', data: data, binary: true})
			continue
		}
		if rec[0] < '0' || rec[0] > '6' {
			return pkts, errParse
		}
		pkts = append(pkts, packet{typ: rec[0], data: rec[1:]})
	}
	return pkts, nil
}
