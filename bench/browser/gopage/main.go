//go:build js

package main

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// The events of bench/browser's server.
var (
	news     = shared.NewEvent[map[string]string]("news")
	small    = shared.NewEvent[int]("small")
	big      = shared.NewEvent[string]("big")
	flood    = shared.NewEvent2[string, int]("flood")
	sink     = shared.NewEvent[int]("sink")
	sinkDone = shared.NewRequest[int, int]("sinkdone")
	echo     = shared.NewRequest[int, int]("echo")
)

func now() float64 { return js.Global().Get("performance").Call("now").Float() }

func result(n int, start time.Time, extra ...any) map[string]any {
	r := map[string]any{"n": n, "ms": float64(time.Since(start).Microseconds()) / 1000}
	for i := 0; i+1 < len(extra); i += 2 {
		r[extra[i].(string)] = extra[i+1]
	}
	return r
}

func main() {
	origin := js.Global().Get("location").Get("origin").String()
	s, err := wasmclient.New(origin, &wasmclient.Options{Transports: []string{wasmclient.TransportWebSocket}})
	if err != nil {
		js.Global().Get("console").Call("error", err.Error())
		return
	}
	var first sync.Once
	news.On(s, func(map[string]string) {
		first.Do(func() { js.Global().Set("__firstEvent", now()) })
	})

	// The counter of the phase running: recv replaces it.
	var (
		mu      sync.Mutex
		counter func()
	)
	count := func() {
		mu.Lock()
		c := counter
		mu.Unlock()
		if c != nil {
			c()
		}
	}
	small.On(s, func(int) { count() })
	big.On(s, func(string) { count() })
	s.Open()

	api := js.Global().Get("Object").New()
	// recv(kind, n, limitMs, done): asks for n events of kind ("small" or
	// "big") and calls done when they have all arrived, or at the limit.
	api.Set("recv", js.FuncOf(func(_ js.Value, a []js.Value) any {
		kind, n, limit, done := a[0].String(), a[1].Int(), time.Duration(a[2].Int())*time.Millisecond, a[3]
		go func() {
			var got atomic.Int64
			all := make(chan struct{})
			mu.Lock()
			counter = func() {
				if got.Add(1) == int64(n) {
					close(all)
				}
			}
			mu.Unlock()
			start := time.Now()
			_ = flood.Emit(s, kind, n)
			t := time.NewTimer(limit)
			select {
			case <-all:
			case <-t.C:
			}
			t.Stop()
			mu.Lock()
			counter = nil
			mu.Unlock()
			done.Invoke(result(int(got.Load()), start))
		}()
		return nil
	}))
	// emit(n, limitMs, done): emits n events, then asks the server how many
	// it got; done gets that count.
	api.Set("emit", js.FuncOf(func(_ js.Value, a []js.Value) any {
		n, limit, done := a[0].Int(), time.Duration(a[1].Int())*time.Millisecond, a[2]
		go func() {
			start := time.Now()
			sent := 0
			for ; sent < n; sent++ {
				if sent&1023 == 0 && time.Since(start) > limit {
					break
				}
				if sink.Emit(s, sent) != nil {
					break
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit+30*time.Second)
			got, err := sinkDone.Call(ctx, s, 0)
			cancel()
			if err != nil {
				got = 0
			}
			done.Invoke(result(got, start, "sent", sent))
		}()
		return nil
	}))
	// acks(n, inflight, limitMs, done): n echo requests, inflight at a time.
	api.Set("acks", js.FuncOf(func(_ js.Value, a []js.Value) any {
		n, inflight, limit, done := a[0].Int(), a[1].Int(), time.Duration(a[2].Int())*time.Millisecond, a[3]
		go func() {
			start := time.Now()
			var next, got atomic.Int64
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			var wg sync.WaitGroup
			for range inflight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						i := next.Add(1)
						if i > int64(n) {
							return
						}
						if v, err := echo.Call(ctx, s, int(i)); err != nil || v != int(i) {
							return
						}
						got.Add(1)
					}
				}()
			}
			wg.Wait()
			done.Invoke(result(int(got.Load()), start))
		}()
		return nil
	}))
	js.Global().Set("__go", api)
	select {}
}
