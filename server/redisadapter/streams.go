package redisadapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared/wire"
)

// Streams mode is @socket.io/redis-streams-adapter 0.3: broadcasts without
// acks and socketsJoin, socketsLeave and disconnectSockets are XADDed to a
// stream that every server reads with XREAD; requests (fetchSockets,
// serverSideEmit, broadcasts with acks) and their answers go over pub/sub
// as msgpack. Sessions for connection state recovery are kept in Redis,
// so a client cut off from one server recovers on any other.

// streamName is the stream of namespace nsp: Node's computeStreamName.
func streamName(o Options, nsp string) string {
	if o.StreamCount <= 1 {
		return o.StreamName
	}
	return o.StreamName + "-" + strconv.Itoa(int(hashCode(nsp)%int32(o.StreamCount)))
}

// hashCode is Java's String.hashCode over UTF-16 code units, with int32
// wrap-around, as the streams adapter's util.hashCode; like JavaScript's %,
// the remainder above keeps its sign.
func hashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = h*31 + int32(0xd800+(r>>10))
			h = h*31 + int32(0xdc00+(r&0x3ff))
			continue
		}
		h = h*31 + int32(r)
	}
	return h
}

// streamID is a stream entry id, "<ms>-<seq>".
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, bool) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	return streamID{a, b}, err1 == nil && err2 == nil
}

func (a streamID) less(b streamID) bool { return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq }

func (a streamID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// offsetPattern is what restoreSession accepts as an offset.
var offsetPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// streamReader reads one stream for every namespace that uses it.
//
// Its lock orders the delivery of each entry against each restored
// session: pos is the last entry handed to the namespaces (at start, the
// stream's last entry, which no server here delivered). A restore, under
// the lock, replays the entries up to pos from the stream; those after it
// reach the restored socket live, since it has joined its rooms before the
// lock is released. So each event comes once, in order.
type streamReader struct {
	c       *Cluster
	name    string
	started chan struct{} // closed once pos is known

	mu  sync.Mutex
	pos streamID
}

type streamEntry struct {
	r   *streamReader
	msg redis.XMessage
}

// stream returns the reader of stream name, started on first use.
func (c *Cluster) stream(name string) *streamReader {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.streams[name]; r != nil {
		return r
	}
	r := &streamReader{c: c, name: name, started: make(chan struct{})}
	c.streams[name] = r
	c.wg.Add(1)
	go r.run()
	return r
}

func (r *streamReader) run() {
	defer r.c.wg.Done()
	c := r.c
	last := ""
	for attempt := 0; last == ""; attempt++ {
		ctx, cancel := context.WithTimeout(c.ctx, 3*time.Second)
		msgs, err := c.rdb.XRevRangeN(ctx, r.name, "+", "-", 1).Result()
		cancel()
		switch {
		case err == nil && len(msgs) > 0:
			last = msgs[0].ID
		case err == nil:
			last = "0-0"
		case c.ctx.Err() != nil:
			return
		default:
			c.streamLog.warn(c.logger(), "redisadapter: cannot read the stream yet; retrying", "stream", r.name, "err", err)
			select {
			case <-time.After(backoff(attempt)):
			case <-c.ctx.Done():
				return
			}
		}
	}
	r.mu.Lock()
	r.pos, _ = parseStreamID(last)
	r.mu.Unlock()
	close(r.started)
	// XREAD blocks on a connection of its own, which Close closes: go-redis
	// does not give up a blocked read when its context ends.
	rdb := c.newClient()
	defer rdb.Close()
	stop := context.AfterFunc(c.ctx, func() { rdb.Close() })
	defer stop()
	failures := 0
	for {
		res, err := rdb.XRead(c.ctx, &redis.XReadArgs{Streams: []string{r.name, last}, Count: c.opts.ReadCount, Block: c.opts.BlockTime}).Result()
		if c.ctx.Err() != nil {
			return
		}
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			// Nothing is lost: reading resumes after the last entry read,
			// unless MaxLen trimmed what follows it meanwhile.
			c.streamLog.warn(c.logger(), "redisadapter: reading the stream failed; resuming after the last entry read", "stream", r.name, "err", err)
			select {
			case <-time.After(backoff(failures)):
			case <-c.ctx.Done():
				return
			}
			failures++
			continue
		}
		failures = 0
		for _, st := range res {
			for _, m := range st.Messages {
				last = m.ID
				c.stats.received.Add(1)
				// A stream is read on demand: waiting here leaves the
				// entries in Redis, so nothing is dropped.
				select {
				case c.in <- inMsg{entry: &streamEntry{r: r, msg: m}}:
				case <-c.ctx.Done():
					return
				}
			}
		}
	}
}

// newClient makes a client of its own to the same Redis, one connection.
func (c *Cluster) newClient() redis.UniversalClient {
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		o := *cc.Options()
		o.PoolSize = 1
		return redis.NewClusterClient(&o)
	}
	o := *c.rdb.(*redis.Client).Options()
	o.PoolSize = 1
	return redis.NewClient(&o)
}

// handleEntry delivers one entry, on the dispatching goroutine.
func (c *Cluster) handleEntry(e *streamEntry) {
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := parseStreamID(e.msg.ID); ok && r.pos.less(id) {
		r.pos = id
	}
	nsp, _ := e.msg.Values["nsp"].(string)
	if nsp == "" {
		return // not a Socket.IO message
	}
	c.mu.RLock()
	a := c.nspRoutes[nsp]
	c.mu.RUnlock()
	if a != nil {
		a.handleEntry(e.msg)
	}
}

// streamsTransport is the streams adapter's.
type streamsTransport struct {
	stream *streamReader
}

// ephemeral messages go over pub/sub (isEphemeral).
func ephemeral(m *ClusterMessage) bool {
	return m.Type == MessageBroadcast && m.RequestID != "" || m.Type == MessageServerSideEmit || m.Type == MessageFetchSockets
}

// deferredField marks an entry whose publisher delivers it to its own
// sockets when it reads it back from the stream (a recoverable broadcast);
// Node's servers ignore fields they do not know.
const deferredField = "tsunagi-deferred"

// entryValues are the fields of m's stream entry: uid, nsp, type, data.
func entryValues(o Options, m *ClusterMessage, deferred bool) ([]any, error) {
	vals := []any{"uid", m.UID, "nsp", m.Nsp, "type", strconv.Itoa(int(m.Type))}
	d, err := m.data()
	if err != nil {
		return nil, err
	}
	if d != nil {
		data, err := entryData(o, m.Type, d)
		if err != nil {
			return nil, err
		}
		vals = append(vals, "data", data)
	}
	if deferred {
		vals = append(vals, deferredField, "1")
	}
	return vals, nil
}

// entryData is JSON, or base64 msgpack when the data holds binary.
func entryData(o Options, t MessageType, d *wireClusterData) (string, error) {
	if !o.OnlyPlaintext && d.Packet != nil && hasBin(d.Packet) {
		b, err := encodeMsgpack(d)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	b, err := marshalJSON(d)
	return string(b), err
}

// hasBin reports whether the msgpack value v holds a bin.
func hasBin(v []byte) bool {
	for off := 0; off < len(v); {
		it, err := mpHeader(v[off:])
		if err != nil {
			return false
		}
		if it.kind == 'B' {
			return true
		}
		off += it.size()
	}
	return false
}

// decodeEntry reads a stream entry's fields. Everything in it is
// untrusted.
func decodeEntry(vals map[string]any) (ClusterMessage, error) {
	str := func(k string) string { s, _ := vals[k].(string); return s }
	t, err := strconv.Atoi(str("type"))
	if err != nil {
		return ClusterMessage{}, malformed("entry type %q", str("type"))
	}
	m := ClusterMessage{UID: str("uid"), Nsp: str("nsp"), Type: MessageType(t)}
	var d *wireClusterData
	if data := str("data"); data != "" {
		raw := []byte(data)
		if data[0] != '{' {
			if raw, err = base64.StdEncoding.DecodeString(data); err != nil {
				return ClusterMessage{}, malformed("entry data is neither JSON nor base64: %v", err)
			}
		}
		d = &wireClusterData{}
		if err := decodeEither(raw, d); err != nil {
			return ClusterMessage{}, err
		}
	}
	if err := m.setData(d); err != nil {
		return ClusterMessage{}, err
	}
	return m, nil
}

func (t streamsTransport) publish(a *cadapter, m *ClusterMessage) bool {
	if ephemeral(m) {
		b, err := m.EncodeMsgpack()
		if err != nil {
			a.c.logger().Warn("redisadapter: message not published", "nsp", a.nsp, "type", m.Type, "err", err)
			return false
		}
		return a.c.publish(a.main, b)
	}
	vals, err := entryValues(a.c.opts, m, false)
	if err != nil {
		a.c.logger().Warn("redisadapter: message not added to the stream", "nsp", a.nsp, "type", m.Type, "err", err)
		return false
	}
	return a.c.enqueue(outMsg{xadd: a.c.xaddArgs(t.stream.name, vals)})
}

func (t streamsTransport) publishWait(ctx context.Context, a *cadapter, m *ClusterMessage) (string, error) {
	if ephemeral(m) {
		b, err := m.EncodeMsgpack()
		if err != nil {
			return "", err
		}
		return "", a.c.publishWait(ctx, a.main, b)
	}
	vals, err := entryValues(a.c.opts, m, false)
	if err != nil {
		return "", err
	}
	return a.c.xaddWait(ctx, t.stream.name, vals)
}

func (streamsTransport) respond(a *cadapter, requester string, m *ClusterMessage) {
	b, err := m.EncodeMsgpack()
	if err != nil {
		a.c.logger().Warn("redisadapter: answer not published", "nsp", a.nsp, "type", m.Type, "err", err)
		return
	}
	a.c.publish(a.main+requester+"#", b)
}

func (c *Cluster) xaddArgs(stream string, vals []any) *redis.XAddArgs {
	return &redis.XAddArgs{Stream: stream, MaxLen: c.opts.MaxLen, Approx: true, Values: vals}
}

// xaddWait adds an entry and returns its id.
func (c *Cluster) xaddWait(ctx context.Context, stream string, vals []any) (string, error) {
	var id string
	done := make(chan error, 1)
	if !c.enqueueWait(ctx, outMsg{xadd: c.xaddArgs(stream, vals), id: &id, done: done}) {
		return "", fmt.Errorf("redisadapter: XADD: %w", ctx.Err())
	}
	select {
	case err := <-done:
		return id, err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// streamsAdapter is a cadapter in streams mode; it keeps sessions for
// connection state recovery (server.SessionAdapter).
type streamsAdapter struct {
	*cadapter
	stream *streamReader
}

var _ server.SessionAdapter = (*streamsAdapter)(nil)

func (c *Cluster) streamsAdapter(ns *server.Namespace) server.Adapter {
	r := c.stream(streamName(c.opts, ns.Name()))
	a := &streamsAdapter{cadapter: newCAdapter(c, ns, streamsTransport{stream: r}), stream: r}
	a.recovery = ns.Recovery().MaxDisconnectionDuration > 0
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		close(a.ready)
		return a
	}
	c.nspRoutes[a.nsp] = a.cadapter
	c.mu.Unlock()
	c.route(a.main, a.cadapter)
	c.route(a.own, a.cadapter)
	subscribed := make(chan struct{})
	c.chans().add(a.main, subscribed)
	c.chans().add(a.own, nil)
	// Ready, for ServerCount and the requests, once it is counted and
	// reads the stream.
	go func() {
		for _, ch := range []chan struct{}{subscribed, r.started} {
			select {
			case <-ch:
			case <-c.ctx.Done():
			}
		}
		close(a.ready)
	}()
	return a
}

// Close implements server.Adapter.
func (a *streamsAdapter) Close() error {
	a.c.mu.Lock()
	if a.c.nspRoutes[a.nsp] == a.cadapter {
		delete(a.c.nspRoutes, a.nsp)
	}
	a.c.mu.Unlock()
	return a.cadapter.Close()
}

// BroadcastRecoverable implements server.SessionAdapter: the event is
// added to the stream and delivered to the local sockets when it is read
// back, with its entry id as the offset. When Redis cannot take it, the
// local sockets get it at once, without an offset.
func (a *streamsAdapter) BroadcastRecoverable(p *wire.Packet, opts server.BroadcastOptions) error {
	if opts.Flags.Local {
		a.MemoryAdapter.Broadcast(p, opts)
		return nil
	}
	v, err := PacketValue(p.Data, p.Buffers)
	if err != nil {
		return fmt.Errorf("redisadapter: broadcast: %w", err)
	}
	m := ClusterMessage{Type: MessageBroadcast, Packet: v, Opts: toWire(opts), UID: a.uid, Nsp: a.nsp}
	vals, err := entryValues(a.c.opts, &m, true)
	if err != nil {
		return fmt.Errorf("redisadapter: broadcast: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.c.opts.RequestsTimeout)
	defer cancel()
	if _, err := a.c.xaddWait(ctx, a.stream.name, vals); err != nil {
		a.c.publishLog.warn(a.c.logger(), "redisadapter: a recoverable broadcast reached this server's sockets only, without an offset", "nsp", a.nsp, "err", err)
		a.MemoryAdapter.Broadcast(p, opts)
	}
	return nil
}

// wireSession is a session as the streams adapter stores it.
type wireSession struct {
	SID   string    `msgpack:"sid"`
	PID   string    `msgpack:"pid"`
	Rooms []string  `msgpack:"rooms"`
	Data  JSONValue `msgpack:"data"`
}

// PersistSession implements server.SessionAdapter: SET
// {SessionKeyPrefix}{pid} base64(msgpack(session)) PX max.
func (a *streamsAdapter) PersistSession(s server.Session, max time.Duration) {
	b, err := encodeMsgpack(&wireSession{SID: s.ID, PID: s.PID, Rooms: nonNilIDs(s.Rooms), Data: dataJSON(s.Data)})
	if err != nil {
		a.c.logger().Warn("redisadapter: session not stored", "nsp", a.nsp, "err", err)
		return
	}
	a.c.enqueue(outMsg{set: &setArgs{key: a.c.opts.SessionKeyPrefix + s.PID, value: base64.StdEncoding.EncodeToString(b), ttl: max}})
}

// HasSession implements server.SessionAdapter.
func (a *streamsAdapter) HasSession(pid string) bool {
	ctx, cancel := context.WithTimeout(a.c.ctx, 3*time.Second)
	defer cancel()
	n, err := a.c.rdb.Exists(ctx, a.c.opts.SessionKeyPrefix+pid).Result()
	return err == nil && n == 1
}

// maxRestoreReads bounds the XRANGE calls of one restore (Node's
// RESTORE_SESSION_MAX_XRANGE_CALLS), each of restoreCount entries.
const (
	maxRestoreReads = 100
	restoreCount    = 1000
)

// RestoreSession implements server.SessionAdapter, as the streams
// adapter's restoreSession: the session is taken out of Redis (GET and
// DEL, atomically) with a check that the offset is still in the stream,
// and the events after it for the session's rooms are replayed.
func (a *streamsAdapter) RestoreSession(pid, offset string, connect func(server.Session), deliver func(*wire.Packet)) bool {
	if !offsetPattern.MatchString(offset) {
		return false
	}
	from, ok := parseStreamID(offset)
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(a.c.ctx, a.c.opts.RequestsTimeout)
	defer cancel()
	select {
	case <-a.stream.started:
	case <-ctx.Done():
		return false
	}
	r := a.stream
	r.mu.Lock()
	defer r.mu.Unlock()
	key := a.c.opts.SessionKeyPrefix + pid
	pipe := a.c.rdb.TxPipeline()
	get := pipe.Get(ctx, key)
	pipe.Del(ctx, key)
	at := pipe.XRangeN(ctx, r.name, offset, offset, 1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		a.c.logger().Warn("redisadapter: session not restored", "nsp", a.nsp, "err", err)
		return false
	}
	if get.Err() != nil || len(at.Val()) == 0 {
		return false // unknown or expired session, or the offset was trimmed
	}
	raw, err := base64.StdEncoding.DecodeString(get.Val())
	var sess wireSession
	if err == nil {
		err = decodeEither(raw, &sess)
	}
	if err != nil || sess.SID == "" {
		a.c.dropMalformed(key, fmt.Errorf("session: %v", err))
		return false
	}
	in := make(map[string]bool, len(sess.Rooms))
	for _, room := range sess.Rooms {
		in[room] = true
	}
	var missed []*wire.Packet
	next := streamID{from.ms, from.seq + 1}
reading:
	for range maxRestoreReads {
		entries, err := a.c.rdb.XRangeN(ctx, r.name, next.String(), "+", restoreCount).Result()
		if err != nil {
			a.c.logger().Warn("redisadapter: session not restored", "nsp", a.nsp, "err", err)
			return false
		}
		for _, e := range entries {
			id, ok := parseStreamID(e.ID)
			if !ok || r.pos.less(id) {
				break reading // not delivered here yet: it comes live
			}
			next = streamID{id.ms, id.seq + 1}
			if nsp, _ := e.Values["nsp"].(string); nsp != a.nsp {
				continue
			}
			if t, _ := e.Values["type"].(string); t != "3" {
				continue
			}
			m, err := decodeEntry(e.Values)
			if err != nil || m.RequestID != "" || !includes(in, m.Opts) {
				continue
			}
			if p, err := a.eventPacket(m.Packet, e.ID); err == nil {
				missed = append(missed, p)
			}
		}
		if len(entries) < restoreCount {
			break
		}
	}
	data := parseData(sess.Data)
	connect(server.Session{ID: sess.SID, PID: sess.PID, Rooms: sess.Rooms, Data: data})
	for _, p := range missed {
		deliver(p)
	}
	return true
}

// includes is Node's shouldIncludePacket.
func includes(rooms map[string]bool, o BroadcastOptions) bool {
	for _, e := range o.Except {
		if rooms[e] {
			return false
		}
	}
	if len(o.Rooms) == 0 {
		return true
	}
	for _, r := range o.Rooms {
		if rooms[r] {
			return true
		}
	}
	return false
}

// appendOffset adds offset as the last element of the JSON array data.
func appendOffset(data json.RawMessage, offset string) json.RawMessage {
	out := make([]byte, 0, len(data)+len(offset)+3)
	out = append(out, data[:len(data)-1]...)
	out = append(out, ',', '"')
	out = append(out, offset...)
	return append(out, '"', ']')
}
