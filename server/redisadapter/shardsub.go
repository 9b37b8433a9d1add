package redisadapter

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// shardSubscriber owns the SSUBSCRIBE connections of a Cluster in sharded
// mode: one to a single Redis, or one per master of a Redis Cluster, each
// holding the channels whose slots that master serves. Each connection's
// goroutine reads every message into Cluster.received, which never blocks.
//
// go-redis subscribes a connection again in one SSUBSCRIBE naming all its
// channels, which a Redis Cluster refuses (CROSSSLOT) when they span slots.
// So a connection that fails is not reused: its channels are placed again,
// one SSUBSCRIBE each, on fresh connections to the masters that now own
// them. When a slot moves, its master sends sunsubscribe for the slot's
// channels; each is then placed again on its new owner. Both are gaps,
// counted and logged: what was published meanwhile is lost.
type shardSubscriber struct {
	c  *Cluster
	cc *redis.ClusterClient // nil on a single Redis

	mu       sync.Mutex
	want     map[string]bool            // the channels to be subscribed
	waiters  map[string][]chan struct{} // channel → closed once subscribed
	conns    map[string]*shardConn      // node address → its connection
	where    map[string]*shardConn      // channel → the connection it is on
	unplaced map[string]bool            // wanted, on no connection yet (no node known)
	lost     bool                       // since a gap, not yet subscribed again
	closed   bool
	kick     chan struct{} // wakes the placing goroutine
	uid      string        // names the probe channels
}

// shardConn is one SSUBSCRIBE connection.
type shardConn struct {
	addr   string
	client *redis.Client // of the node
	ps     *redis.PubSub
	probe  string    // a channel of this node's slots that only this server hears
	sent   time.Time // the probe in flight, zero when none
	heard  bool      // a message arrived since the probe was sent
	missed int       // probe intervals in a row that heard nothing
	chans  map[string]bool
	unsubs map[string]int // SUNSUBSCRIBEs sent and not yet confirmed
	dead   bool
}

func newShardSubscriber(c *Cluster) *shardSubscriber {
	s := &shardSubscriber{
		c:        c,
		want:     map[string]bool{},
		waiters:  map[string][]chan struct{}{},
		conns:    map[string]*shardConn{},
		where:    map[string]*shardConn{},
		unplaced: map[string]bool{},
		kick:     make(chan struct{}, 1),
	}
	s.cc, _ = c.rdb.(*redis.ClusterClient)
	s.uid = newUID(12)
	c.wg.Add(2)
	go s.placeLoop()
	go s.probeLoop()
	return s
}

// probeLoop checks, every ProbeInterval, that each connection still
// delivers: it SPUBLISHes to the connection's probe channel, one whose slot
// its node serves. A connection that heard nothing, its probe included,
// for two intervals while Redis answered has lapsed: it is dropped and its
// channels placed again on a new one.
func (s *shardSubscriber) probeLoop() {
	defer s.c.wg.Done()
	t := time.NewTicker(s.c.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.c.ctx.Done():
			return
		}
		s.mu.Lock()
		conns := make([]*shardConn, 0, len(s.conns))
		for _, conn := range s.conns {
			conns = append(conns, conn)
		}
		s.mu.Unlock()
		for _, conn := range conns {
			s.probeConn(conn)
		}
	}
}

func (s *shardSubscriber) probeConn(conn *shardConn) {
	if conn.probe == "" { // only this goroutine sets it
		ch := s.probeChannel(conn)
		if ch == "" {
			return
		}
		s.mu.Lock()
		conn.probe = ch
		s.mu.Unlock()
		_ = conn.ps.SSubscribe(s.c.ctx, ch)
		return
	}
	s.mu.Lock()
	if conn.dead {
		s.mu.Unlock()
		return
	}
	if !conn.sent.IsZero() && !s.lost && !conn.heard {
		conn.missed++
	} else {
		conn.missed = 0
	}
	lapsed := conn.missed >= 2
	if !lapsed {
		conn.sent, conn.heard = time.Now(), false // before the SPUBLISH: it may come back first
	}
	s.mu.Unlock()
	if lapsed {
		s.lose("the probe did not come back", nil)
		s.rebuild(conn)
		return
	}
	ctx, cancel := context.WithTimeout(s.c.ctx, s.c.opts.ProbeInterval)
	err := conn.client.SPublish(ctx, conn.probe, "probe").Err()
	cancel()
	if err != nil {
		s.mu.Lock()
		conn.sent = time.Time{} // Redis is down: the reader sees that
		s.mu.Unlock()
	}
}

// probeChannel finds a channel whose slot conn's node serves.
func (s *shardSubscriber) probeChannel(conn *shardConn) string {
	for i := 0; i < 256; i++ {
		ch := s.c.opts.Key + "-probe#" + s.uid + "#" + strconv.Itoa(i) + "#"
		if s.cc == nil {
			return ch
		}
		if _, addr, err := s.nodeFor(ch); err == nil && addr == conn.addr {
			return ch
		}
	}
	return ""
}

// add subscribes to channel; ready, when not nil, is closed once Redis
// confirmed it.
func (s *shardSubscriber) add(channel string, ready chan struct{}) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.want[channel] = true
	if ready != nil {
		s.waiters[channel] = append(s.waiters[channel], ready)
	}
	s.mu.Unlock()
	s.place(channel)
}

// remove unsubscribes from channel.
func (s *shardSubscriber) remove(channel string) {
	s.mu.Lock()
	delete(s.want, channel)
	delete(s.waiters, channel)
	delete(s.unplaced, channel)
	conn := s.where[channel]
	delete(s.where, channel)
	if conn != nil {
		delete(conn.chans, channel)
		conn.unsubs[channel]++
	}
	closed := s.closed
	s.mu.Unlock()
	if conn == nil || closed {
		return
	}
	ctx, cancel := context.WithTimeout(s.c.ctx, 3*time.Second)
	defer cancel()
	_ = conn.ps.SUnsubscribe(ctx, channel)
}

// place subscribes channel on the connection to its slot's master.
func (s *shardSubscriber) place(channel string) {
	client, addr, err := s.nodeFor(channel)
	s.mu.Lock()
	if s.closed || !s.want[channel] || s.where[channel] != nil {
		delete(s.unplaced, channel)
		s.mu.Unlock()
		return
	}
	if err != nil {
		s.unplaced[channel] = true
		s.mu.Unlock()
		s.c.streamLog.warn(s.c.logger(), "redisadapter: no Redis node for a channel yet; retrying", "channel", channel, "err", err)
		s.wake()
		return
	}
	delete(s.unplaced, channel)
	conn := s.conns[addr]
	if conn == nil {
		conn = &shardConn{addr: addr, client: client, ps: client.SSubscribe(s.c.ctx), chans: map[string]bool{}, unsubs: map[string]int{}}
		s.conns[addr] = conn
		s.c.wg.Add(1)
		go s.read(conn)
	}
	conn.chans[channel] = true
	s.where[channel] = conn
	s.mu.Unlock()
	// An error (Redis down) shows in the reader too, which places the
	// connection's channels again.
	_ = conn.ps.SSubscribe(s.c.ctx, channel)
}

// nodeFor returns the client of the master that serves channel's slot.
func (s *shardSubscriber) nodeFor(channel string) (*redis.Client, string, error) {
	if s.cc == nil {
		return s.c.rdb.(*redis.Client), "", nil
	}
	ctx, cancel := context.WithTimeout(s.c.ctx, 3*time.Second)
	defer cancel()
	client, err := s.cc.MasterForKey(ctx, channel)
	if err != nil {
		return nil, "", err
	}
	return client, client.Options().Addr, nil
}

func (s *shardSubscriber) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// placeLoop retries the channels that found no node or lost their
// connection, backing off while the subscription stays lost.
func (s *shardSubscriber) placeLoop() {
	defer s.c.wg.Done()
	failures := 0
	for {
		select {
		case <-s.kick:
		case <-s.c.ctx.Done():
			return
		}
		for {
			s.mu.Lock()
			lost, n := s.lost, len(s.unplaced)
			s.mu.Unlock()
			if n == 0 {
				break
			}
			if !lost {
				failures = 0
			}
			select {
			case <-time.After(backoff(failures)):
			case <-s.c.ctx.Done():
				return
			}
			failures++
			if s.cc != nil {
				s.cc.ReloadState(s.c.ctx)
			}
			s.mu.Lock()
			todo := make([]string, 0, len(s.unplaced))
			for ch := range s.unplaced {
				todo = append(todo, ch)
			}
			s.mu.Unlock()
			for _, ch := range todo {
				s.place(ch)
			}
		}
	}
}

// read is the goroutine of one connection.
func (s *shardSubscriber) read(conn *shardConn) {
	defer s.c.wg.Done()
	for {
		msg, err := conn.ps.ReceiveTimeout(s.c.ctx, time.Second)
		if s.c.ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) {
				continue
			}
			s.mu.Lock()
			dead := conn.dead
			s.mu.Unlock()
			if dead {
				return
			}
			s.lose("connection lost", err)
			s.rebuild(conn)
			return
		}
		switch m := msg.(type) {
		case *redis.Message:
			s.mu.Lock()
			probe := m.Channel == conn.probe
			if probe {
				conn.sent = time.Time{}
			} else {
				conn.heard = true
			}
			s.mu.Unlock()
			if !probe {
				s.c.received(inMsg{channel: m.Channel, payload: m.Payload})
			}
		case *redis.Subscription:
			s.subscription(conn, m)
		}
	}
}

func (s *shardSubscriber) subscription(conn *shardConn, m *redis.Subscription) {
	switch m.Kind {
	case "ssubscribe":
		s.mu.Lock()
		back := s.lost
		s.lost = false
		ws := s.waiters[m.Channel]
		delete(s.waiters, m.Channel)
		s.mu.Unlock()
		for _, w := range ws {
			close(w)
		}
		if back {
			s.c.logger().Info("redisadapter: subscribed again", "channel", m.Channel)
		}
	case "sunsubscribe":
		s.mu.Lock()
		if m.Channel == conn.probe { // its slot moved: another is picked
			conn.probe, conn.sent = "", time.Time{}
			s.mu.Unlock()
			return
		}
		if conn.unsubs[m.Channel] > 0 {
			conn.unsubs[m.Channel]-- // the answer to our own SUNSUBSCRIBE
			if conn.unsubs[m.Channel] == 0 {
				delete(conn.unsubs, m.Channel)
			}
			s.mu.Unlock()
			return
		}
		moved := s.want[m.Channel] && s.where[m.Channel] == conn
		if moved {
			delete(s.where, m.Channel)
			delete(conn.chans, m.Channel)
			conn.unsubs[m.Channel]++
		}
		s.mu.Unlock()
		if moved {
			s.lose("the channel's slot moved to another node", nil)
			s.c.wg.Add(1)
			go s.follow(conn, m.Channel)
		}
	}
}

// follow places a channel whose slot left conn's node on its new owner,
// once the cluster's slot map says who that is.
func (s *shardSubscriber) follow(conn *shardConn, channel string) {
	defer s.c.wg.Done()
	ctx, cancel := context.WithTimeout(s.c.ctx, 3*time.Second)
	// Out of go-redis' channel list, so that a reconnection does not
	// subscribe it on the old node again.
	_ = conn.ps.SUnsubscribe(ctx, channel)
	cancel()
	for i := 0; i < 50 && s.cc != nil; i++ {
		s.cc.ReloadState(s.c.ctx)
		if _, addr, err := s.nodeFor(channel); err == nil && addr != conn.addr {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-s.c.ctx.Done():
			return
		}
	}
	s.place(channel)
}

// rebuild drops a failed connection and places its channels again, after
// a pause while Redis stays unreachable.
func (s *shardSubscriber) rebuild(conn *shardConn) {
	s.mu.Lock()
	if conn.dead || s.closed {
		s.mu.Unlock()
		return
	}
	conn.dead = true
	if s.conns[conn.addr] == conn {
		delete(s.conns, conn.addr)
	}
	var chans []string
	for ch := range conn.chans {
		chans = append(chans, ch)
		if s.where[ch] == conn {
			delete(s.where, ch)
		}
		s.unplaced[ch] = true
	}
	s.mu.Unlock()
	conn.ps.Close()
	s.wake()
}

// lose records a gap, once per loss.
func (s *shardSubscriber) lose(why string, err error) {
	s.mu.Lock()
	first := !s.lost
	s.lost = true
	s.mu.Unlock()
	if first {
		s.c.stats.gaps.Add(1)
		s.c.logger().Warn("redisadapter: subscription lost; what other servers publish until it is back is lost", "why", why, "err", err)
	}
}

func (s *shardSubscriber) close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*shardConn, 0, len(s.conns))
	for _, c := range s.conns {
		c.dead = true
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.ps.Close()
	}
}
