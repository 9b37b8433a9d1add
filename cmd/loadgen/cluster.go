package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsunagi/tsunagi/shared/wire"
)

// Two servers of one cluster (-addr and -addr2, joined by a Redis adapter):
// half the clients on each. What reaches a client of -addr2 from a client of
// -addr went through the cluster: the "cross-node" figures.

// connectCluster connects -clients/2 clients to -addr, then the rest to
// -addr2, running local on the first and remote on the second, and
// returns the first connection made to -addr.
func (r *run) connectCluster(local, remote func(sioConn)) (first sioConn, err error) {
	na := r.cfg.clients / 2
	nb := r.cfg.clients - na
	if _, _, err := r.connectVia(r.d.dial, na, local); err != nil {
		return nil, fmt.Errorf("%s: %w", r.cfg.addr, err)
	}
	r.mu.Lock()
	first = r.clients[0]
	r.mu.Unlock()
	if _, _, err := r.connectVia(r.d2.dial, nb, remote); err != nil {
		return nil, fmt.Errorf("%s: %w", r.cfg.addr2, err)
	}
	r.res.add("clients_per_server", fmt.Sprintf("%d+%d", na, nb))
	return first, nil
}

// reportCluster adds the CPU of both servers and of Redis: per op of one
// and per cross-node op, whose counts the caller gives.
func (r *run) reportCluster(u usage, n, cross int64, one string) {
	if len(u.extra) == 2 {
		r.res.add("server_cpu_pct", u.pct(u.srv))
		r.res.add("server2_cpu_pct", u.pct(u.extra[0]))
		if n > 0 {
			r.res.add("servers_cpu_us_per_"+one, float64((u.srv+u.extra[0]).Microseconds())/float64(n))
		}
		if r.cfg.redisPid > 0 {
			r.res.add("redis_cpu_pct", u.pct(u.extra[1]))
			r.res.add("redis_cpu_us", u.extra[1].Microseconds())
			if n > 0 {
				r.res.add("redis_cpu_us_per_"+one, strconv3(float64(u.extra[1].Microseconds())/float64(n)))
			}
			if cross > 0 && cross != n {
				r.res.add("redis_cpu_us_per_cross_"+one, strconv3(float64(u.extra[1].Microseconds())/float64(cross)))
			}
		}
	}
	r.reportCPU(u)
}

func strconv3(v float64) string { return fmt.Sprintf("%.3f", v) }

// clusterBroadcast is broadcast over two servers: a client of -addr emits
// broadcast(seq, sent-at), with at most -inflight broadcasts not yet
// received by every client of both servers.
func (r *run) clusterBroadcast() error {
	n := r.cfg.clients
	w := r.cfg.inflight
	r.res.add("inflight", w)
	const ring = 1 << 12
	if w >= ring {
		return fmt.Errorf("-inflight must be below %d", ring)
	}
	var got [ring]atomic.Int32
	done := make(chan int64, ring)
	var cross atomic.Int64 // deliveries on -addr2 while measuring
	var crossLat hist
	var completed atomic.Int64 // broadcasts received by every client while measuring
	loop := func(remote bool) func(sioConn) {
		return func(c sioConn) {
			var v [2]int64
			for {
				p, err := c.next()
				if err != nil {
					return
				}
				if p.Type != wire.EventPacket || parseInts(p.Data, v[:]) != 2 {
					continue
				}
				now := time.Since(r.start)
				if r.measuring.Load() {
					r.count.Add(1)
					d := now - time.Duration(v[1])
					r.lat.add(d)
					if remote {
						cross.Add(1)
						crossLat.add(d)
					}
				}
				if got[v[0]%ring].Add(1) == int32(n) {
					if r.measuring.Load() {
						completed.Add(1)
					}
					done <- v[0]
				}
			}
		}
	}
	sender, err := r.connectCluster(loop(false), loop(true))
	if err != nil {
		return err
	}

	sendErr := make(chan error, 1)
	go func() {
		var args []byte
		stall := time.NewTimer(time.Hour)
		outstanding := 0
		for seq := int64(0); ; seq++ {
			for outstanding >= w || (r.stopping.Load() && outstanding > 0) {
				stall.Reset(5 * time.Second)
				select {
				case <-done:
					outstanding--
				case <-stall.C:
					sendErr <- fmt.Errorf("broadcast %d: not every client of both servers received it within 5 s", seq-int64(outstanding))
					return
				}
			}
			if r.stopping.Load() {
				sendErr <- nil
				return
			}
			got[seq%ring].Store(0)
			args = appendInt(args[:0], seq)
			args = append(args, ',')
			args = appendInt(args, int64(time.Since(r.start)))
			if err := sender.emit(seq, "broadcast", string(args)); err != nil {
				sendErr <- err
				return
			}
			outstanding++
		}
	}()
	measured := make(chan struct{})
	var u usage
	go func() { u = r.measureCluster(); close(measured) }()
	select {
	case <-measured:
		err = <-sendErr
	case err = <-sendErr:
		r.stopping.Store(true)
		<-measured
	}
	nd, nc := r.count.Load(), cross.Load()
	r.res.add("deliveries", nd)
	r.res.add("deliveries_per_s", float64(nd)/u.wall.Seconds())
	r.res.add("cross_deliveries", nc)
	r.res.add("cross_deliveries_per_s", float64(nc)/u.wall.Seconds())
	r.res.add("broadcasts_per_s", float64(completed.Load())/u.wall.Seconds())
	r.res.add("p50_us", r.lat.quantile(0.50))
	r.res.add("p99_us", r.lat.quantile(0.99))
	r.res.add("cross_p50_us", crossLat.quantile(0.50))
	r.res.add("cross_p99_us", crossLat.quantile(0.99))
	r.reportCluster(u, nd, nc, "delivery")
	if b := completed.Load(); b > 0 && r.cfg.redisPid > 0 && len(u.extra) == 2 {
		r.res.add("redis_cpu_us_per_broadcast", strconv3(float64(u.extra[1].Microseconds())/float64(b)))
	}
	return err
}

// measureCluster is measure, with the CPU of -pid2 and -redis-pid too.
func (r *run) measureCluster() usage {
	time.Sleep(r.cfg.warmup)
	m := startCPU(r.cfg.pid, r.cfg.pid2, r.cfg.redisPid)
	r.count.Store(0)
	r.measuring.Store(true)
	time.Sleep(r.cfg.duration)
	r.measuring.Store(false)
	u := m.stop()
	r.stopping.Store(true)
	return u
}

// fetch: one client of -addr keeps -inflight fetch calls in flight (the
// other clients, on both servers, only answer heartbeats); each answer is the number of sockets
// fetchSockets found on the whole cluster, which should be -clients.
func (r *run) fetch() error {
	k := r.cfg.inflight
	n := r.cfg.clients
	r.res.add("inflight", k)
	begin := make(chan struct{})
	defer func() {
		select {
		case <-begin:
		default:
			close(begin)
		}
	}()
	var wrong atomic.Int64 // answers with a count other than -clients
	var busy sync.WaitGroup
	var fetchers atomic.Int32
	local := func(c sioConn) {
		if fetchers.Add(1) != 1 { // one client calls; the others idle
			idleLoop(c)
			return
		}
		busy.Add(1)
		drained := sync.OnceFunc(busy.Done)
		defer drained()
		<-begin
		sent := make(map[int64]time.Time, k)
		var id int64
		for ; id < int64(k); id++ {
			sent[id] = time.Now()
			if c.emit(id, "fetch", "") != nil {
				return
			}
		}
		var v [1]int64
		for {
			p, err := c.next()
			if err != nil {
				return
			}
			if p.Type != wire.Ack {
				continue
			}
			t0, ok := sent[p.ID]
			if !ok {
				continue
			}
			delete(sent, p.ID)
			now := time.Now()
			if r.measuring.Load() {
				r.count.Add(1)
				r.lat.add(now.Sub(t0))
				if parseInts(p.Data, v[:]) != 1 || v[0] != int64(n) {
					wrong.Add(1)
				}
			}
			if r.stopping.Load() {
				if len(sent) == 0 {
					drained()
					idleLoop(c)
					return
				}
				continue
			}
			sent[id] = now
			if c.emit(id, "fetch", "") != nil {
				return
			}
			id++
		}
	}
	if _, err := r.connectCluster(local, idleLoop); err != nil {
		return err
	}
	close(begin)
	u := r.measureCluster()
	f := r.count.Load()
	r.res.add("fetches", f)
	r.res.add("fetches_per_s", float64(f)/u.wall.Seconds())
	r.res.add("p50_us", r.lat.quantile(0.50))
	r.res.add("p99_us", r.lat.quantile(0.99))
	r.res.add("wrong_counts", wrong.Load())
	r.reportCluster(u, f, 0, "fetch")
	if err := waitBounded(&busy, 15*time.Second, "fetch calls still in flight 15 s after the window"); err != nil {
		return err
	}
	if f == 0 {
		return fmt.Errorf("no fetch answered while measuring")
	}
	return nil
}
