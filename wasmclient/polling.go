package wasmclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsunagi/tsunagi/shared/wire"
)

// Transport names, as in socket.io-client's transports option and the
// Engine.IO transport query parameter.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// frame is one Engine.IO packet as it travels alone on a WebSocket: text
// (the type digit, then data) or the bytes of a binary message.
type frame struct {
	binary bool
	data   []byte
}

// roundTrip does one HTTP request for the polling transport and returns
// the status and at most limit bytes of the body. net/http does it
// natively and under js by default (the Fetch API there).
type roundTrip func(ctx context.Context, method, url string, h http.Header, body []byte, limit int64) (int, []byte, error)

// StatusError is an HTTP response of the polling transport other than 200:
// the server refused the request (a 400 with {"code":…,"message":…} from
// Engine.IO, a 403 from allowRequest, a proxy's 502…).
type StatusError struct {
	Method string // GET or POST
	Status int
	Body   string // the start of the response body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("tsunagi: polling %s: HTTP %d: %s", e.Method, e.Status, e.Body)
}

func newStatusError(method string, status int, body []byte) *StatusError {
	if len(body) > 200 {
		body = body[:200]
	}
	return &StatusError{Method: method, Status: status, Body: string(body)}
}

var (
	errPaused     = errors.New("tsunagi: polling paused for the upgrade")
	errPollClosed = errors.New("tsunagi: polling transport closed")
)

// splitPayload splits a polling body into its records (separated by 0x1e).
func splitPayload(body []byte) [][]byte { return bytes.Split(body, []byte{0x1e}) }

// decodeRecord turns one record of a polling payload into the frame it
// would be on a WebSocket: "b" + base64 is a binary message.
func decodeRecord(rec []byte) (frame, error) {
	if len(rec) == 0 {
		return frame{}, &wire.ParseError{Reason: "empty packet in a polling payload"}
	}
	if rec[0] != 'b' {
		return frame{data: rec}, nil
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(rec)-1))
	n, err := base64.StdEncoding.Decode(b, rec[1:])
	if err != nil {
		return frame{}, &wire.ParseError{Reason: "invalid base64 in a polling payload: " + err.Error()}
	}
	return frame{binary: true, data: b[:n]}, nil
}

func recordLen(f frame) int {
	if f.binary {
		return 1 + base64.StdEncoding.EncodedLen(len(f.data))
	}
	return len(f.data)
}

func encodePayload(fs []frame) []byte {
	n := 0
	for _, f := range fs {
		n += recordLen(f) + 1
	}
	out := make([]byte, 0, n)
	for i, f := range fs {
		if i > 0 {
			out = append(out, 0x1e)
		}
		if f.binary {
			out = append(out, 'b')
			out = base64.StdEncoding.AppendEncode(out, f.data)
		} else {
			out = append(out, f.data...)
		}
	}
	return out
}

var stamps atomic.Uint64

// stamp is the cache-busting value of the t parameter, new on every request.
func stamp() string {
	return strconv.FormatInt(time.Now().UnixMilli(), 36) + "." + strconv.FormatUint(stamps.Add(1), 36)
}

// poller is the client side of HTTP long-polling, as engine.io-client does
// it: a GET held at all times (the GET loop), and at most one POST in
// flight carrying what is queued (the POST loop). Both loops end when ctx
// stops. For the upgrade, pause lets the GET and POST in flight finish
// and starts no new one.
type poller struct {
	do      roundTrip
	url     string // with EIO, transport=polling and sid
	header  http.Header
	maxBody int64 // the most a GET body may hold
	maxPost int   // the most a POST body holds (the server's maxPayload)
	fail    func(error)
	ctx     *signal

	in      chan pollResult // GET bodies, in order, for the engine's reader
	kick    chan struct{}   // wakes the POST loop
	getDone chan struct{}   // closed when the GET loop has ended

	mu      sync.Mutex
	queue   []frame
	queued  int           // bytes in queue
	changed chan struct{} // closed when the queue shrinks or a POST ends
	posting bool
	pausing bool
}

type pollResult struct {
	body []byte
	err  error
}

func newPoller(do roundTrip, url string, h http.Header, maxPayload int64, fail func(error)) *poller {
	if maxPayload <= 0 {
		maxPayload = 1e6
	}
	return &poller{
		do:      do,
		url:     url,
		header:  h,
		maxBody: 64 * max(maxPayload, 1e6),
		maxPost: int(maxPayload),
		fail:    fail,
		ctx:     newSignal(0),
		in:      make(chan pollResult),
		kick:    make(chan struct{}, 1),
		getDone: make(chan struct{}),
		changed: make(chan struct{}),
	}
}

func (p *poller) start() {
	go p.getLoop()
	go p.postLoop()
}

func (p *poller) stop() { p.ctx.stop() }

// request does one polling request and returns the body of its 200 answer.
func (p *poller) request(ctx context.Context, method string, body []byte) ([]byte, error) {
	status, resp, err := p.do(ctx, method, p.url+"&t="+stamp(), p.header, body, p.maxBody)
	if err != nil {
		return nil, fmt.Errorf("tsunagi: polling %s: %w", method, err)
	}
	if status != http.StatusOK {
		return nil, newStatusError(method, status, resp)
	}
	return resp, nil
}

func (p *poller) getLoop() {
	for {
		p.mu.Lock()
		pausing := p.pausing
		p.mu.Unlock()
		if pausing {
			// The reader has every payload, and then this, before pause
			// returns: the upgrade may stop the poller then.
			p.deliver(pollResult{err: errPaused})
			close(p.getDone)
			return
		}
		body, err := p.request(p.ctx, http.MethodGet, nil)
		if !p.deliver(pollResult{body: body, err: err}) || err != nil {
			close(p.getDone)
			return
		}
	}
}

func (p *poller) deliver(r pollResult) bool {
	select {
	case p.in <- r:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// take removes the next POST's packets from the queue: as many as fit in
// maxPost bytes, at least one. Called with mu held.
func (p *poller) take() []frame {
	n, size := 0, 0
	for n < len(p.queue) {
		l := recordLen(p.queue[n]) + 1
		if n > 0 && size+l > p.maxPost {
			break
		}
		size += l
		n++
	}
	batch := p.queue[:n:n]
	p.queue = p.queue[n:]
	for _, f := range batch {
		p.queued -= len(f.data)
	}
	return batch
}

func (p *poller) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *poller) postLoop() {
	for {
		select {
		case <-p.kick:
		case <-p.ctx.Done():
			return
		}
		p.mu.Lock()
		if p.pausing || p.posting || len(p.queue) == 0 {
			p.mu.Unlock()
			continue
		}
		batch := p.take()
		p.posting = true
		p.changedLocked()
		p.mu.Unlock()
		_, err := p.request(p.ctx, http.MethodPost, encodePayload(batch))
		p.mu.Lock()
		p.posting = false
		p.changedLocked()
		if len(p.queue) > 0 {
			p.wake()
		}
		p.mu.Unlock()
		if err != nil {
			if p.ctx.Err() == nil {
				p.fail(err)
			}
			return
		}
	}
}

func (p *poller) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// enqueue queues packets for the POST loop, in order. While more than
// maxPost bytes wait it waits for the POST in flight, as a WebSocket write
// waits for the network; while pausing it queues without waiting (the
// queue then goes out over the new transport).
func (p *poller) enqueue(ctx context.Context, fs ...frame) error {
	for {
		p.mu.Lock()
		if p.ctx.Err() != nil {
			p.mu.Unlock()
			return errPollClosed
		}
		if p.pausing || p.queued < p.maxPost {
			p.queue = append(p.queue, fs...)
			for _, f := range fs {
				p.queued += len(f.data)
			}
			p.wake()
			p.mu.Unlock()
			return nil
		}
		if err := p.waitChangedLocked(ctx); err != nil {
			return err
		}
	}
}

// waitChangedLocked releases p.mu and waits for the next change of the
// poller's state, or the end of ctx or of the poller.
func (p *poller) waitChangedLocked(ctx context.Context) error {
	changed := p.changed
	p.mu.Unlock()
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return errPollClosed
	}
}

// flush waits until everything queued has been posted.
func (p *poller) flush(ctx context.Context) error {
	for {
		p.mu.Lock()
		if len(p.queue) == 0 && !p.posting {
			p.mu.Unlock()
			return nil
		}
		if err := p.waitChangedLocked(ctx); err != nil {
			return err
		}
	}
}

// pause stops the loops after the GET and the POST in flight. What is
// still queued then stays queued: the caller takes it with drain.
func (p *poller) pause(ctx context.Context) error {
	p.mu.Lock()
	p.pausing = true
	p.changedLocked()
	p.mu.Unlock()
	select {
	case <-p.getDone:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return errPollClosed
	}
	for {
		p.mu.Lock()
		posting, changed := p.posting, p.changed
		p.mu.Unlock()
		if !posting {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.ctx.Done():
			return errPollClosed
		}
	}
}

// drain takes what is queued. Called by the upgrade with the engine's
// write lock held, so that no write queues after it.
func (p *poller) drain() []frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queue
	p.queue, p.queued = nil, 0
	return q
}

// handshakePolling does the first GET and returns the open packet and the
// records that came after it.
func handshakePolling(ctx context.Context, do roundTrip, url string, h http.Header) (wire.OpenPacket, [][]byte, error) {
	var open wire.OpenPacket
	status, body, err := do(ctx, http.MethodGet, url+"&t="+stamp(), h, nil, 64e6)
	if err != nil {
		return open, nil, fmt.Errorf("tsunagi: polling handshake: %w", err)
	}
	if status != http.StatusOK {
		return open, nil, newStatusError(http.MethodGet, status, body)
	}
	recs := splitPayload(body)
	t, data, err := wire.DecodeEIO(recs[0])
	if err != nil || t != wire.EIOOpen {
		return open, nil, fmt.Errorf("tsunagi: polling handshake: expected the open packet, got %.100q", body)
	}
	if open, err = wire.DecodeOpen(data); err != nil {
		return open, nil, err
	}
	if open.SID == "" {
		return open, nil, fmt.Errorf("tsunagi: polling handshake: the open packet has no sid: %.100q", body)
	}
	return open, recs[1:], nil
}
