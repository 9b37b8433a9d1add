//go:build !js

package redisadapter_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/server/redisadapter"
)

// redisCluster is a Redis Cluster of three masters, no replicas, on
// loopback ports, each master serving a third of the slots.
type redisCluster struct {
	nodes []*testenv.Redis
	ids   []string // node ids, by index
	ctl   []*redis.Client
}

func startRedisCluster(t *testing.T) *redisCluster {
	t.Helper()
	c := &redisCluster{}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		n := testenv.StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		cl := redis.NewClient(&redis.Options{Addr: n.Addr})
		t.Cleanup(func() { cl.Close() })
		id, err := cl.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := i*16384/3, (i+1)*16384/3-1
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatal(err)
		}
		c.nodes, c.ids, c.ctl = append(c.nodes, n), append(c.ids, id), append(c.ctl, cl)
	}
	for _, n := range c.nodes[1:] {
		if err := c.ctl[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", n.Port).Err(); err != nil {
			t.Fatal(err)
		}
	}
	wait.For(t, "the Redis Cluster to be ok on every node", func() bool {
		for _, cl := range c.ctl {
			info, err := cl.Do(ctx, "CLUSTER", "INFO").Text()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return false
			}
		}
		return true
	})
	return c
}

// url is the cluster in go-redis' ParseClusterURL form.
func (c *redisCluster) url() string {
	u := "redis://" + c.nodes[0].Addr + "?"
	for i, n := range c.nodes[1:] {
		if i > 0 {
			u += "&"
		}
		u += "addr=" + n.Addr
	}
	return u
}

// owner is the index of the node that serves channel's slot.
func (c *redisCluster) owner(t *testing.T, channel string) (int, int) {
	t.Helper()
	slot, err := c.ctl[0].ClusterKeySlot(context.Background(), channel).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.nodes {
		if int(slot) >= i*16384/3 && int(slot) <= (i+1)*16384/3-1 {
			return i, int(slot)
		}
	}
	t.Fatalf("no node serves slot %d", slot)
	return 0, 0
}

// move gives slot to node to: the new owner first, then the others, as
// redis-cli --cluster reshard ends a migration (no keys to move: pub/sub
// channels are not stored).
func (c *redisCluster) move(t *testing.T, slot, to int) {
	t.Helper()
	ctx := context.Background()
	order := []int{to}
	for i := range c.nodes {
		if i != to {
			order = append(order, i)
		}
	}
	for _, i := range order {
		if err := c.ctl[i].Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", c.ids[to]).Err(); err != nil {
			t.Fatalf("CLUSTER SETSLOT %d NODE on %s: %v", slot, c.nodes[i].Addr, err)
		}
	}
}

// shardNumSub is PUBSUB SHARDNUMSUB channel on node i.
func (c *redisCluster) shardNumSub(i int, channel string) int64 {
	m, err := c.ctl[i].PubSubShardNumSub(context.Background(), channel).Result()
	if err != nil {
		return -1
	}
	return m[channel]
}

// TestShardedRedisCluster runs sharded mode on a 3-master Redis Cluster:
// the subscriptions land on the masters that own their slots, the server
// count sums the masters, and when the slots of the namespace's channel
// and of a room's channel move to other masters, each server follows
// them, counts the gap, and the cluster delivers again.
func TestShardedRedisCluster(t *testing.T) {
	rc := startRedisCluster(t)
	o := redisadapter.Options{Mode: redisadapter.ModeSharded, RedisCluster: true}
	a := startNode(t, rc.url(), o, joinRooms)
	b := startNode(t, rc.url(), o, joinRooms)
	a1 := dialClient(t, a.url, "room=r")
	b1 := dialClient(t, b.url, "room=r")
	main, room := "socket.io#/#", "socket.io#/#r#"
	mainOwner, mainSlot := rc.owner(t, main)
	roomOwner, roomSlot := rc.owner(t, room)
	t.Logf("slots: %s %d on node %d, %s %d on node %d", main, mainSlot, mainOwner, room, roomSlot, roomOwner)
	wait.For(t, "both servers subscribed where the slots are", func() bool {
		return rc.shardNumSub(mainOwner, main) == 2 && rc.shardNumSub(roomOwner, room) == 2
	})
	ctx := context.Background()
	if n, err := a.srv.Of("/").Adapter().ServerCount(ctx); err != nil || n != 2 {
		t.Fatalf("ServerCount = %d, %v; want 2", n, err)
	}

	check := func(round int) {
		t.Helper()
		if err := a.srv.To("r").Emit("room", round); err != nil {
			t.Fatal(err)
		}
		a1.expect(t, fmt.Sprintf("room [%d]", round))
		b1.expect(t, fmt.Sprintf("room [%d]", round))
		if err := b.srv.Emit("all", round); err != nil {
			t.Fatal(err)
		}
		a1.expect(t, fmt.Sprintf("all [%d]", round))
		b1.expect(t, fmt.Sprintf("all [%d]", round))
		socks, err := a.srv.In("r").FetchSockets(ctx)
		if err != nil || len(socks) != 2 {
			t.Fatalf("FetchSockets = %d sockets, %v", len(socks), err)
		}
		ids := []string{socks[0].ID, socks[1].ID}
		if !slices.Contains(ids, b1.ID()) {
			t.Fatalf("FetchSockets = %q, without B's %s", ids, b1.ID())
		}
	}
	check(1)
	gapsBefore := a.cluster.Stats().Gaps + b.cluster.Stats().Gaps

	// Move both slots one node on.
	newMain, newRoom := (mainOwner+1)%3, (roomOwner+1)%3
	rc.move(t, mainSlot, newMain)
	if roomSlot != mainSlot {
		rc.move(t, roomSlot, newRoom)
	} else {
		newRoom = newMain
	}
	wait.For(t, "both servers subscribed on the slots' new owners", func() bool {
		return rc.shardNumSub(newMain, main) == 2 && rc.shardNumSub(newRoom, room) == 2
	})
	if rc.shardNumSub(mainOwner, main) != 0 && mainOwner != newMain {
		t.Errorf("still subscribed on the old owner of %s", main)
	}
	check(2)
	if g := a.cluster.Stats().Gaps + b.cluster.Stats().Gaps; g <= gapsBefore {
		t.Errorf("the moves were not counted as gaps: %d before, %d after", gapsBefore, g)
	}
	if !strings.Contains(a.logs.String()+b.logs.String(), "slot moved") {
		t.Errorf("the moves were not logged")
	}
}
