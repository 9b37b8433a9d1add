package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// BenchmarkBroadcastStream measures broadcasts in a stream, as a chat or a
// game sends them: srv.Emit in a loop, at most 256 events ahead of the
// slowest of N loopback clients in this process, so that several events
// wait for each connection at once. An op is one broadcast reaching all N.
// coalesce=off writes one message per syscall, as coder/websocket does on
// its own; coalesce=on is the server as it is.
//
//	go test -run '^$' -bench BroadcastStream -benchtime 20000x ./server/
func BenchmarkBroadcastStream(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("sockets=%d/coalesce=%v", n, map[bool]string{false: "off", true: "on"}[on]), func(b *testing.B) {
				benchStream(b, n, !on)
			})
		}
	}
}

func benchStream(b *testing.B, n int, noCoalesce bool) {
	srv := New(quietOptions(Options{}))
	srv.noCoalesce = noCoalesce
	cl, url := startCounting(b, srv)
	counts := make([]atomic.Int64, n)
	var readers sync.WaitGroup
	b.Cleanup(readers.Wait)
	for i := range n {
		ws := joinMain(b, url, nil)
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 512)
			for {
				_, r, err := ws.Reader(context.Background())
				if err != nil {
					return
				}
				m := 0
				for err == nil {
					if m == len(buf) {
						buf = append(buf, make([]byte, len(buf))...)
					}
					var k int
					k, err = r.Read(buf[m:])
					m += k
				}
				if err != io.EOF {
					return
				}
				if bytes.HasPrefix(buf[:m], []byte(`42["b"`)) {
					counts[i].Add(1)
				} else if m == 1 && buf[0] == '2' {
					ws.Write(context.Background(), websocket.MessageText, []byte("3"))
				}
			}
		}()
	}
	least := func() int64 {
		m := counts[0].Load()
		for i := range counts {
			m = min(m, counts[i].Load())
		}
		return m
	}
	payload := strings.Repeat("x", 100)
	sent := int64(0)
	// catchUp polls, every so often (finely: the benchmark's clock runs),
	// until the slowest client is at most lag events behind, and ends the
	// benchmark when that takes longer than wait.Deadline().
	deadline := wait.Deadline()
	catchUp := func(lag int64, every time.Duration) {
		var end time.Time
		for sent-least() > lag {
			if end.IsZero() {
				end = time.Now().Add(deadline)
			} else if time.Now().After(end) {
				b.Fatalf("the slowest client is still %d events behind after %v", sent-least(), deadline)
			}
			time.Sleep(every)
		}
	}
	writes0 := cl.writes.Load()
	b.ResetTimer()
	for b.Loop() {
		if sent%16 == 0 {
			catchUp(256, 20*time.Microsecond)
		}
		if err := srv.Emit("b", payload); err != nil {
			b.Fatal(err)
		}
		sent++
	}
	catchUp(0, 100*time.Microsecond)
	b.StopTimer()
	d := float64(sent) * float64(n)
	b.ReportMetric(d/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(cl.writes.Load()-writes0)/d, "syscalls/delivery")
}
