package redisadapter

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tsunagi/tsunagi/server"
)

// Options configure a Cluster. The zero value connects to 127.0.0.1:6379
// with Node's defaults.
type Options struct {
	// URL is the Redis server, as redis://[user:password@]host:port[/db]
	// (or rediss:// for TLS). Defaults to redis://127.0.0.1:6379. Redis
	// pub/sub ignores the db number: clusters that share a Redis are
	// kept apart by Key.
	URL string
	// Key prefixes every channel; "socket.io" by default, as Node's key
	// option. Every server of the cluster, Node or Go, must use the same.
	Key string
	// RequestsTimeout bounds how long fetchSockets, allRooms and
	// serverSideEmitWithAck wait for the other servers when the caller's
	// context has no earlier deadline. Default 5 s, as Node's
	// requestsTimeout.
	RequestsTimeout time.Duration
	// SharedResponseChannel answers requests on the shared response
	// channel {key}-response#{nsp}# instead of the requester's own
	// {key}-response#{nsp}#{uid}#. Every @socket.io/redis-adapter since 7.1
	// listens on both, and the specific one spares every server the
	// answers meant for the others; set this only for a cluster with older
	// Node servers.
	SharedResponseChannel bool
	// QueueSize bounds the messages read from Redis and not yet handled
	// (default 65,536). Beyond it a message is dropped, counted in
	// AdapterStats.Dropped and logged: reading never stops, so Redis never
	// cuts the subscriber off for a full output buffer.
	QueueSize int
	// PublishQueueSize bounds the messages waiting to be published
	// (default 65,536). Beyond it, and while Redis is unreachable, a
	// broadcast reaches the local sockets only; the loss is counted in
	// AdapterStats.PublishErrors and logged.
	PublishQueueSize int
	// WaitForRedis makes New retry, until its context is done, when Redis
	// is unreachable, instead of returning the error at once.
	WaitForRedis bool
	// ProbeInterval is how often the subscriber checks that its
	// subscription still delivers, by publishing a probe to itself
	// (default 2 s). When nothing, the probe included, arrives for two
	// intervals, it subscribes again on a new connection.
	ProbeInterval time.Duration
	// Logger receives the adapter's diagnostics; defaults to the logger
	// of the server of the first namespace, else slog.Default().
	Logger *slog.Logger

	// Mode is the protocol of the cluster: ModeClassic (the default) or
	// ModeSharded. Every server of a cluster, Node or Go, uses the same.
	Mode Mode
	// SubscriptionMode is the sharded adapter's subscriptionMode:
	// SubscriptionDynamic (the default), SubscriptionDynamicPrivate or
	// SubscriptionStatic. Every server of the cluster must use the same:
	// the publisher picks the channel, and a receiver that did not
	// subscribe to it never sees the message. Sharded mode only.
	SubscriptionMode SubscriptionMode
	// RedisCluster makes URL name a Redis Cluster, in go-redis'
	// ParseClusterURL form: redis://host1:port1?addr=host2:port2&addr=...
	// (any nodes; the others are discovered). In sharded mode the
	// subscriber keeps one connection per master and follows each
	// channel's slot when it moves.
	RedisCluster bool

	// StreamName is the stream of ModeStreams ("socket.io" by default,
	// as the streams adapter's streamName).
	StreamName string
	// StreamCount spreads the namespaces over this many streams (default
	// 1), named StreamName-i, i from Java's hashCode of the namespace
	// modulo StreamCount, as Node computes it.
	StreamCount int
	// MaxLen trims the stream to about this many entries (default
	// 10,000): the recovery window is that many entries of every
	// namespace of the stream together.
	MaxLen int64
	// ReadCount is the most entries one XREAD returns (default 100).
	ReadCount int64
	// BlockTime is how long one XREAD waits (default 5 s).
	BlockTime time.Duration
	// SessionKeyPrefix prefixes the keys of recovery sessions (default
	// "sio:session:").
	SessionKeyPrefix string
	// UseShardedPubSub sends the requests of ModeStreams over sharded
	// pub/sub (SPUBLISH), as Node's useShardedPubSub.
	UseShardedPubSub bool
	// OnlyPlaintext writes stream entries as JSON only, binary included
	// (as {"type":"Buffer",...}), as Node's onlyPlaintext.
	OnlyPlaintext bool
}

// Mode is the protocol a Cluster speaks.
type Mode string

// The modes.
const (
	// ModeClassic is @socket.io/redis-adapter's createAdapter:
	// PUBLISH and PSUBSCRIBE/SUBSCRIBE, msgpack broadcasts and JSON
	// requests.
	ModeClassic Mode = "classic"
	// ModeSharded is @socket.io/redis-adapter's createShardedAdapter
	// (Redis 7's sharded pub/sub, SPUBLISH/SSUBSCRIBE) with
	// socket.io-adapter's ClusterAdapter messages.
	ModeSharded Mode = "sharded"
	// ModeStreams is @socket.io/redis-streams-adapter 0.3: broadcasts
	// through a Redis stream (XADD/XREAD), requests over pub/sub, and
	// connection state recovery across servers.
	ModeStreams Mode = "streams"
)

// SubscriptionMode is which rooms get a channel of their own in sharded
// mode.
type SubscriptionMode string

// The subscription modes of createShardedAdapter.
const (
	// SubscriptionDynamic gives every public room (one that is not a
	// socket id) a channel, subscribed while the room has a local socket;
	// a broadcast to exactly one such room reaches only the servers that
	// have it.
	SubscriptionDynamic SubscriptionMode = "dynamic"
	// SubscriptionDynamicPrivate gives every room a channel, socket ids
	// included: one SSUBSCRIBE per connected socket.
	SubscriptionDynamicPrivate SubscriptionMode = "dynamic-private"
	// SubscriptionStatic uses two channels per namespace only: every
	// server receives every broadcast.
	SubscriptionStatic SubscriptionMode = "static"
)

// Cluster joins a server to a cluster of Socket.IO servers, Node or Go,
// over one Redis, with the protocol of @socket.io/redis-adapter 8.3's
// createAdapter (the classic adapter). One Cluster serves every namespace
// of one server: pass its Adapter method as server.Options.Adapter.
//
//	cluster, err := redisadapter.New(ctx, redisadapter.Options{URL: "redis://127.0.0.1:6379"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer cluster.Close()
//	io := server.New(server.Options{Adapter: cluster.Adapter})
//
// It keeps two connections to Redis: a pool for PUBLISH and PUBSUB
// NUMSUB, fed by one publishing goroutine that pipelines what queued up,
// and one subscriber connection, read by one goroutine into a bounded
// queue that one dispatching goroutine empties. Handlers of server-side
// events run on a goroutine of their own, so a slow one delays only the
// others of its kind.
type Cluster struct {
	opts Options
	rdb  redis.UniversalClient // a *redis.Client, or a *redis.ClusterClient (RedisCluster)
	log  atomic.Pointer[slog.Logger]

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	out         chan outMsg              // to publish
	in          chan inMsg               // read, to handle
	sse         chan func()              // server-side events, to run
	sub         *subscriber              // the subscriber connection (classic)
	shards      *shardSubscriber         // the subscriber connections (sharded, or streams with UseShardedPubSub)
	streams     map[string]*streamReader // by stream name (streams)
	nspRoutes   map[string]*cadapter     // namespace → its adapter (streams)
	mu          sync.RWMutex             // guards routes and closed
	routes      map[string]*adapter      // channel or pattern → the adapter it belongs to (classic)
	shardRoutes map[string]routed        // channel → the adapter it belongs to (sharded)
	closed      bool

	stats struct {
		published, publishErrors, received, malformed, dropped, gaps atomic.Uint64
	}
	publishLog, dropLog, malformedLog, streamLog limitedLog
}

type outMsg struct {
	channel string
	payload []byte
	sharded bool            // SPUBLISH rather than PUBLISH
	xadd    *redis.XAddArgs // XADD instead of a publish
	id      *string         // where the XADD's entry id goes, before done
	set     *setArgs        // SET instead
	done    chan error      // nil for fire and forget
}

type inMsg struct {
	channel, pattern string
	payload          string
	entry            *streamEntry // a stream's entry instead
}

// setArgs are SET key value PX ttl.
type setArgs struct {
	key, value string
	ttl        time.Duration
}

// New connects to Redis and starts the cluster's goroutines. It fails when
// Redis does not answer PING, unless Options.WaitForRedis, with which it
// retries until ctx is done.
func New(ctx context.Context, o Options) (*Cluster, error) {
	if o.URL == "" {
		o.URL = "redis://127.0.0.1:6379"
	}
	if o.Key == "" {
		o.Key = DefaultKey
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1 << 16
	}
	if o.PublishQueueSize <= 0 {
		o.PublishQueueSize = 1 << 16
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 2 * time.Second
	}
	switch o.Mode {
	case "":
		o.Mode = ModeClassic
	case ModeClassic, ModeSharded, ModeStreams:
	default:
		return nil, fmt.Errorf("redisadapter: Options.Mode %q: want %q, %q or %q", o.Mode, ModeClassic, ModeSharded, ModeStreams)
	}
	if o.StreamName == "" {
		o.StreamName = "socket.io"
	}
	if o.StreamCount <= 0 {
		o.StreamCount = 1
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 10_000
	}
	if o.ReadCount <= 0 {
		o.ReadCount = 100
	}
	if o.BlockTime <= 0 {
		o.BlockTime = 5 * time.Second
	}
	if o.SessionKeyPrefix == "" {
		o.SessionKeyPrefix = "sio:session:"
	}
	switch o.SubscriptionMode {
	case "":
		o.SubscriptionMode = SubscriptionDynamic
	case SubscriptionDynamic, SubscriptionDynamicPrivate, SubscriptionStatic:
	default:
		return nil, fmt.Errorf("redisadapter: Options.SubscriptionMode %q: want %q, %q or %q", o.SubscriptionMode, SubscriptionDynamic, SubscriptionDynamicPrivate, SubscriptionStatic)
	}
	rdb, addr, err := newRedisClient(o)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		err = rdb.Ping(ctx).Err()
		if err == nil {
			break
		}
		if !o.WaitForRedis || ctx.Err() != nil {
			rdb.Close()
			return nil, fmt.Errorf("redisadapter: Redis at %s does not answer: %w (is redis-server running? Options.WaitForRedis retries)", addr, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff(attempt)):
		}
	}
	c := &Cluster{
		opts:        o,
		rdb:         rdb,
		out:         make(chan outMsg, o.PublishQueueSize),
		in:          make(chan inMsg, o.QueueSize),
		sse:         make(chan func(), 1024),
		routes:      map[string]*adapter{},
		shardRoutes: map[string]routed{},
		streams:     map[string]*streamReader{},
		nspRoutes:   map[string]*cadapter{},
	}
	if o.Logger != nil {
		c.log.Store(o.Logger)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(3)
	go c.publishLoop()
	go c.dispatchLoop()
	go c.sseLoop()
	if o.Mode == ModeSharded || o.Mode == ModeStreams && o.UseShardedPubSub {
		c.shards = newShardSubscriber(c)
	} else {
		c.sub = newSubscriber(c)
		c.wg.Add(1)
		go c.sub.run()
	}
	return c, nil
}

// newRedisClient makes the client of o.URL, and says where it connects.
func newRedisClient(o Options) (redis.UniversalClient, string, error) {
	// A publish is sent at most once: a retry after a broken connection
	// could deliver it twice.
	if o.RedisCluster {
		copts, err := redis.ParseClusterURL(o.URL)
		if err != nil {
			return nil, "", fmt.Errorf("redisadapter: Options.URL %q (a Redis Cluster: redis://host:port?addr=host2:port2): %w", o.URL, err)
		}
		copts.MaxRetries = -1
		copts.DialTimeout = 2 * time.Second
		copts.ReadTimeout = 3 * time.Second
		copts.WriteTimeout = 3 * time.Second
		return redis.NewClusterClient(copts), fmt.Sprint(copts.Addrs), nil
	}
	ropts, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, "", fmt.Errorf("redisadapter: Options.URL %q: %w", o.URL, err)
	}
	ropts.MaxRetries = -1
	ropts.DialTimeout = 2 * time.Second
	ropts.ReadTimeout = 3 * time.Second
	ropts.WriteTimeout = 3 * time.Second
	return redis.NewClient(ropts), ropts.Addr, nil
}

func backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 5) // up to 1.6 s
	return d
}

func (c *Cluster) logger() *slog.Logger {
	if l := c.log.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// Adapter is the server.Options.Adapter of a server in the cluster: it
// makes the adapter of namespace ns, which subscribes to the namespace's
// channels at once and unsubscribes on Close.
func (c *Cluster) Adapter(ns *server.Namespace) server.Adapter {
	c.log.CompareAndSwap(nil, ns.Logger())
	switch c.opts.Mode {
	case ModeSharded:
		return c.shardedAdapter(ns)
	case ModeStreams:
		return c.streamsAdapter(ns)
	}
	a := newAdapter(c, ns)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		close(a.ready)
		return a
	}
	for _, ch := range a.channels() {
		c.routes[ch] = a
	}
	c.routes[a.ch.Pattern] = a
	c.mu.Unlock()
	c.sub.add(a)
	return a
}

// Stats returns the cluster's counters, for every namespace together.
func (c *Cluster) Stats() server.AdapterStats {
	return server.AdapterStats{
		Published:     c.stats.published.Load(),
		PublishErrors: c.stats.publishErrors.Load(),
		Received:      c.stats.received.Load(),
		Malformed:     c.stats.malformed.Load(),
		Dropped:       c.stats.dropped.Load(),
		Gaps:          c.stats.gaps.Load(),
	}
}

// Close unsubscribes, stops the goroutines and closes the connections.
// Call it after the server's Shutdown (which closes each namespace's
// adapter).
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	if c.sub != nil {
		c.sub.close()
	} else {
		c.shards.close()
	}
	c.wg.Wait()
	return c.rdb.Close()
}

// publish queues a message for Redis without waiting. It reports false
// when the queue is full: the message is lost, counted and logged.
func (c *Cluster) publish(channel string, payload []byte) bool {
	select {
	case c.out <- outMsg{channel: channel, payload: payload, sharded: c.shards != nil}:
		return true
	default:
		c.stats.publishErrors.Add(1)
		c.publishLog.warn(c.logger(), "redisadapter: publish queue full; messages reach this server's sockets only", "queue", cap(c.out))
		return false
	}
}

// enqueue queues a command for the publishing goroutine without waiting;
// false when the queue is full (the loss is counted and logged).
func (c *Cluster) enqueue(m outMsg) bool {
	select {
	case c.out <- m:
		return true
	default:
		c.stats.publishErrors.Add(1)
		c.publishLog.warn(c.logger(), "redisadapter: publish queue full; a message was not sent", "queue", cap(c.out))
		return false
	}
}

// enqueueWait queues a command, waiting for room until ctx is done.
func (c *Cluster) enqueueWait(ctx context.Context, m outMsg) bool {
	select {
	case c.out <- m:
		return true
	case <-ctx.Done():
	case <-c.ctx.Done():
	}
	return false
}

// chanSubscriber subscribes channels one by one.
type chanSubscriber interface {
	add(channel string, ready chan struct{})
	remove(channel string)
}

// chans is the subscriber of the ClusterAdapter-protocol adapters'
// channels: sharded, or the classic one.
func (c *Cluster) chans() chanSubscriber {
	if c.shards != nil {
		return c.shards
	}
	return classicChans{c.sub}
}

// publishWait publishes and waits for Redis' reply, or ctx.
func (c *Cluster) publishWait(ctx context.Context, channel string, payload []byte) error {
	done := make(chan error, 1)
	select {
	case c.out <- outMsg{channel: channel, payload: payload, done: done, sharded: c.shards != nil}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return errClosed
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errClosed = errors.New("redisadapter: cluster closed")

// maxBatch is the most messages one pipeline carries.
const maxBatch = 256

func (c *Cluster) publishLoop() {
	defer c.wg.Done()
	batch := make([]outMsg, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case m := <-c.out:
			batch = append(batch, m)
		case <-c.ctx.Done():
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case m := <-c.out:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		var err error
		var cmds []redis.Cmder
		switch m := batch[0]; {
		case len(batch) > 1 || m.xadd != nil || m.set != nil:
			pipe := c.rdb.Pipeline()
			cmds = make([]redis.Cmder, len(batch))
			for i, m := range batch {
				switch {
				case m.xadd != nil:
					cmds[i] = pipe.XAdd(c.ctx, m.xadd)
				case m.set != nil:
					cmds[i] = pipe.Set(c.ctx, m.set.key, m.set.value, m.set.ttl)
				case m.sharded:
					cmds[i] = pipe.SPublish(c.ctx, m.channel, m.payload)
				default:
					cmds[i] = pipe.Publish(c.ctx, m.channel, m.payload)
				}
			}
			_, err = pipe.Exec(c.ctx)
		case m.sharded:
			err = c.rdb.SPublish(c.ctx, m.channel, m.payload).Err()
		default:
			err = c.rdb.Publish(c.ctx, m.channel, m.payload).Err()
		}
		if err != nil {
			c.stats.publishErrors.Add(uint64(len(batch)))
			c.publishLog.warn(c.logger(), "redisadapter: publish failed; these messages reached this server's sockets only", "messages", len(batch), "err", err)
		} else {
			c.stats.published.Add(uint64(len(batch)))
		}
		for i, m := range batch {
			if m.done == nil {
				continue
			}
			e := err
			if cmds != nil {
				e = cmds[i].Err()
				if m.id != nil && e == nil {
					*m.id = cmds[i].(*redis.StringCmd).Val()
				}
			}
			m.done <- e
		}
	}
}

// numSub is PUBSUB NUMSUB channel (SHARDNUMSUB in sharded mode): the
// servers subscribed to it. On a Redis Cluster it is the sum over the
// nodes, as Node's adapters count: a subscriber is counted by the node it
// is connected to only.
func (c *Cluster) numSub(ctx context.Context, channel string) (int, error) {
	count := func(ctx context.Context, rdb redis.Cmdable) (int64, error) {
		var m map[string]int64
		var err error
		if c.shards != nil {
			m, err = rdb.PubSubShardNumSub(ctx, channel).Result()
		} else {
			m, err = rdb.PubSubNumSub(ctx, channel).Result()
		}
		return m[channel], err
	}
	what := "PUBSUB NUMSUB"
	if c.shards != nil {
		what = "PUBSUB SHARDNUMSUB"
	}
	cc, ok := c.rdb.(*redis.ClusterClient)
	if !ok {
		n, err := count(ctx, c.rdb)
		if err != nil {
			return 0, fmt.Errorf("redisadapter: %s: %w", what, err)
		}
		return int(n), nil
	}
	var total atomic.Int64
	each := cc.ForEachShard
	if c.shards != nil {
		each = cc.ForEachMaster // sharded subscribers are on masters
	}
	err := each(ctx, func(ctx context.Context, node *redis.Client) error {
		n, err := count(ctx, node)
		total.Add(n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("redisadapter: %s on the cluster's nodes: %w", what, err)
	}
	return int(total.Load()), nil
}

// received is called by the subscriber for each message; it never blocks.
func (c *Cluster) received(m inMsg) {
	c.stats.received.Add(1)
	select {
	case c.in <- m:
	default:
		c.stats.dropped.Add(1)
		c.dropLog.warn(c.logger(), "redisadapter: receive queue full; messages from other servers are dropped", "queue", cap(c.in))
	}
}

func (c *Cluster) dispatchLoop() {
	defer c.wg.Done()
	for {
		select {
		case m := <-c.in:
			if m.entry != nil {
				c.handleEntry(m.entry)
				continue
			}
			key := m.channel
			if m.pattern != "" {
				key = m.pattern
			}
			c.mu.RLock()
			var a routed
			if c.opts.Mode != ModeClassic {
				a = c.shardRoutes[key]
			} else if ca := c.routes[key]; ca != nil {
				a = ca
			}
			c.mu.RUnlock()
			if a != nil {
				a.handle(m)
			}
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Cluster) sseLoop() {
	defer c.wg.Done()
	for {
		select {
		case fn := <-c.sse:
			fn()
		case <-c.ctx.Done():
			return
		}
	}
}

// runServerSide queues a server-side event's handlers; a full queue drops
// it, as a full receive queue would.
func (c *Cluster) runServerSide(fn func()) {
	select {
	case c.sse <- fn:
	default:
		c.stats.dropped.Add(1)
		c.dropLog.warn(c.logger(), "redisadapter: server-side event queue full; events from other servers are dropped", "queue", cap(c.sse))
	}
}

// malformed counts and logs a message that could not be read.
func (c *Cluster) dropMalformed(channel string, err error) {
	c.stats.malformed.Add(1)
	c.malformedLog.warn(c.logger(), "redisadapter: dropped a malformed message", "channel", channel, "err", err)
}

// limitedLog logs at most one line a second, counting the rest.
type limitedLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *limitedLog) warn(log *slog.Logger, msg string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < time.Second {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Warn(msg, args...)
}

// newUID returns n random characters of [A-Za-z0-9_-], as uid2 makes.
func newUID(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b)
}

// isTimeout reports whether err is a read timeout, which on the subscriber
// means only that nothing arrived.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}
