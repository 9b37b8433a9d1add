package redisadapter

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// subscriber owns the one subscriber connection of a Cluster. Its
// goroutine reads every message into Cluster.received, which never blocks,
// so Redis' output buffer for it never fills.
//
// A lost connection (Redis restarted or unreachable) is a gap: go-redis
// dials again and subscribes to every channel and pattern again, and the
// messages published in between are lost. Each gap is counted and logged.
// A connection can also lapse without an error (a half-open TCP
// connection, a failover that left it on a node that no longer gets the
// traffic), so every ProbeInterval the subscriber publishes a probe to a
// channel of its own; when a probe has not come back for two intervals,
// and nothing else arrived meanwhile, while Redis answers, it closes the
// connection and subscribes again on a new one.
type subscriber struct {
	c     *Cluster
	probe string // the probe channel: {key}-probe#{uid}#

	mu       sync.Mutex
	ps       *redis.PubSub
	channels map[string]bool
	patterns map[string]bool
	waiters  map[string][]chan struct{} // channel → closed once subscribed
	lost     bool                       // since the last error, not yet subscribed again
	sent     time.Time                  // the probe in flight, zero when none
	heard    bool                       // a message arrived since the probe was sent
	closed   bool
}

func newSubscriber(c *Cluster) *subscriber {
	s := &subscriber{
		c:        c,
		probe:    c.opts.Key + "-probe#" + newUID(12) + "#",
		channels: map[string]bool{},
		patterns: map[string]bool{},
		waiters:  map[string][]chan struct{}{},
	}
	s.channels[s.probe] = true
	s.ps = c.rdb.Subscribe(c.ctx, s.probe)
	return s
}

// add subscribes to the adapter's channels and pattern; a.ready is closed
// once Redis confirmed the request channel, the one PUBSUB NUMSUB counts.
func (s *subscriber) add(a *adapter) {
	chans := a.channels()
	s.mu.Lock()
	for _, ch := range chans {
		s.channels[ch] = true
	}
	s.patterns[a.ch.Pattern] = true
	s.waiters[a.ch.Request] = append(s.waiters[a.ch.Request], a.ready)
	ps := s.ps
	s.mu.Unlock()
	// An error here (Redis down) is not final: go-redis keeps the
	// channels and subscribes to them when it connects again.
	_ = ps.Subscribe(s.c.ctx, chans...)
	_ = ps.PSubscribe(s.c.ctx, a.ch.Pattern)
}

// remove unsubscribes from the adapter's channels and pattern.
func (s *subscriber) remove(a *adapter) {
	chans := a.channels()
	s.mu.Lock()
	for _, ch := range chans {
		delete(s.channels, ch)
	}
	delete(s.patterns, a.ch.Pattern)
	delete(s.waiters, a.ch.Request)
	ps := s.ps
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(s.c.ctx, 3*time.Second)
	defer cancel()
	_ = ps.Unsubscribe(ctx, chans...)
	_ = ps.PUnsubscribe(ctx, a.ch.Pattern)
}

func (s *subscriber) close() {
	s.mu.Lock()
	s.closed = true
	ps := s.ps
	s.mu.Unlock()
	ps.Close()
}

func (s *subscriber) run() {
	defer s.c.wg.Done()
	go s.probeLoop()
	failures := 0
	for {
		s.mu.Lock()
		ps := s.ps
		s.mu.Unlock()
		msg, err := ps.ReceiveTimeout(s.c.ctx, time.Second)
		if s.c.ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) {
				continue
			}
			s.mu.Lock()
			replaced := ps != s.ps
			s.mu.Unlock()
			if replaced {
				continue // the probe closed it; the new one is in place
			}
			s.lose("connection lost", err)
			select {
			case <-time.After(backoff(failures)):
			case <-s.c.ctx.Done():
				return
			}
			failures++
			continue
		}
		failures = 0
		s.mu.Lock()
		heard := s.heard
		s.mu.Unlock()
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel == s.probe {
				s.mu.Lock()
				s.sent = time.Time{}
				s.mu.Unlock()
				continue
			}
			if !heard {
				s.mu.Lock()
				s.heard = true
				s.mu.Unlock()
			}
			s.c.received(inMsg{channel: m.Channel, pattern: m.Pattern, payload: m.Payload})
		case *redis.Subscription:
			s.subscribed(m)
		}
	}
}

// lose records a gap, once per loss.
func (s *subscriber) lose(why string, err error) {
	s.mu.Lock()
	first := !s.lost
	s.lost = true
	s.mu.Unlock()
	if first {
		s.c.stats.gaps.Add(1)
		s.c.logger().Warn("redisadapter: subscription lost; what other servers publish until it is back is lost", "why", why, "err", err)
	}
}

func (s *subscriber) subscribed(m *redis.Subscription) {
	if m.Kind != "subscribe" && m.Kind != "psubscribe" {
		return
	}
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
}

// probeLoop publishes a probe every ProbeInterval and replaces the
// connection when it lapsed.
func (s *subscriber) probeLoop() {
	t := time.NewTicker(s.c.opts.ProbeInterval)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-t.C:
		case <-s.c.ctx.Done():
			return
		}
		// A busy connection may read the probe late, behind a backlog:
		// only one that heard nothing at all for two intervals, the probe
		// outstanding, has lapsed.
		s.mu.Lock()
		if !s.sent.IsZero() && !s.lost && !s.heard {
			missed++
		} else {
			missed = 0
		}
		s.mu.Unlock()
		if missed >= 2 {
			missed = 0
			s.replace()
		}
		// Marked before it is sent: the probe may come back before
		// PUBLISH returns.
		s.mu.Lock()
		s.sent, s.heard = time.Now(), false
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(s.c.ctx, s.c.opts.ProbeInterval)
		err := s.c.rdb.Publish(ctx, s.probe, "probe").Err()
		cancel()
		if err != nil {
			s.mu.Lock()
			s.sent = time.Time{} // Redis is down: the read loop sees that
			s.mu.Unlock()
		}
	}
}

// replace closes a connection that stopped delivering and subscribes to
// everything again on a new one.
func (s *subscriber) replace() {
	s.lose("the probe did not come back", nil)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	old := s.ps
	s.ps = s.c.rdb.Subscribe(s.c.ctx)
	chans := make([]string, 0, len(s.channels))
	for ch := range s.channels {
		chans = append(chans, ch)
	}
	pats := make([]string, 0, len(s.patterns))
	for p := range s.patterns {
		pats = append(pats, p)
	}
	ps := s.ps
	s.sent = time.Time{}
	s.mu.Unlock()
	old.Close()
	_ = ps.Subscribe(s.c.ctx, chans...)
	if len(pats) > 0 {
		_ = ps.PSubscribe(s.c.ctx, pats...)
	}
}

// classicChans subscribes channels one by one on the classic subscriber,
// for the streams adapter's pub/sub.
type classicChans struct{ s *subscriber }

func (c classicChans) add(channel string, ready chan struct{}) {
	s := c.s
	s.mu.Lock()
	s.channels[channel] = true
	if ready != nil {
		s.waiters[channel] = append(s.waiters[channel], ready)
	}
	ps := s.ps
	s.mu.Unlock()
	_ = ps.Subscribe(s.c.ctx, channel)
}

func (c classicChans) remove(channel string) {
	s := c.s
	s.mu.Lock()
	delete(s.channels, channel)
	delete(s.waiters, channel)
	ps := s.ps
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(s.c.ctx, 3*time.Second)
	defer cancel()
	_ = ps.Unsubscribe(ctx, channel)
}
