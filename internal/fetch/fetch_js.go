//go:build js && !tsunagi_nethttp

package fetch

import (
	"context"
	"errors"
	"fmt"

	"github.com/hack-pad/safejs"
)

// Request is one HTTP request.
type Request struct {
	Method string
	URL    string
	Header map[string][]string // the first value of each key is sent
	Body   []byte              // nil for none
	// Credentials is fetch's credentials mode: "omit", "same-origin"
	// (when empty) or "include".
	Credentials string
	// Limit is the most bytes of the response body read; a longer body is
	// an error.
	Limit int64
}

// Do sends r and returns the response's status and body. ctx aborts it.
func Do(ctx context.Context, r Request) (int, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	global := safejs.Global()
	fetchFn, err := global.Get("fetch")
	if err != nil || fetchFn.Type() != safejs.TypeFunction {
		return 0, nil, errors.New("the Fetch API is missing")
	}
	opts, err := newObject()
	if err != nil {
		return 0, nil, err
	}
	_ = opts.Set("method", r.Method)
	creds := r.Credentials
	if creds == "" {
		creds = "same-origin"
	}
	_ = opts.Set("credentials", creds)
	_ = opts.Set("cache", "no-store")
	headers, err := newObject()
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range r.Header {
		if len(vs) > 0 {
			_ = headers.Set(k, vs[0])
		}
	}
	_ = opts.Set("headers", headers)
	if r.Body != nil {
		u8, err := uint8Array(len(r.Body))
		if err != nil {
			return 0, nil, err
		}
		if _, err := safejs.CopyBytesToJS(u8, r.Body); err != nil {
			return 0, nil, err
		}
		_ = opts.Set("body", u8)
	}
	ac, err := newAbortController()
	if err == nil {
		signal, _ := ac.Get("signal")
		_ = opts.Set("signal", signal)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			if ac.Type() == safejs.TypeObject {
				_, _ = ac.Call("abort")
			}
		case <-stop:
		}
	}()
	promise, err := fetchFn.Invoke(r.URL, opts)
	if err != nil {
		return 0, nil, err
	}
	resp, err := await(ctx, promise)
	if err != nil {
		return 0, nil, err
	}
	status, err := resp.Get("status")
	if err != nil {
		return 0, nil, err
	}
	code, err := status.Int()
	if err != nil {
		return 0, nil, err
	}
	bufPromise, err := resp.Call("arrayBuffer")
	if err != nil {
		return 0, nil, err
	}
	buf, err := await(ctx, bufPromise)
	if err != nil {
		return 0, nil, err
	}
	u8, err := uint8ArrayOf(buf)
	if err != nil {
		return 0, nil, err
	}
	n, err := u8.Length()
	if err != nil {
		return 0, nil, err
	}
	if int64(n) > r.Limit {
		return 0, nil, fmt.Errorf("response body over %d bytes", r.Limit)
	}
	body := make([]byte, n)
	if _, err := safejs.CopyBytesToGo(body, u8); err != nil {
		return 0, nil, err
	}
	return code, body, nil
}

func newObject() (safejs.Value, error) {
	o, err := safejs.Global().Get("Object")
	if err != nil {
		return o, err
	}
	return o.New()
}

func newAbortController() (safejs.Value, error) {
	c, err := safejs.Global().Get("AbortController")
	if err != nil || c.Type() != safejs.TypeFunction {
		return safejs.Undefined(), errors.New("no AbortController")
	}
	return c.New()
}

func uint8Array(n int) (safejs.Value, error) {
	c, err := safejs.Global().Get("Uint8Array")
	if err != nil {
		return c, err
	}
	return c.New(n)
}

func uint8ArrayOf(buf safejs.Value) (safejs.Value, error) {
	c, err := safejs.Global().Get("Uint8Array")
	if err != nil {
		return c, err
	}
	return c.New(buf)
}

// await waits for a promise to settle; a rejection is an error with the
// reason's message.
func await(ctx context.Context, p safejs.Value) (safejs.Value, error) {
	type result struct {
		v   safejs.Value
		err error
	}
	ch := make(chan result, 1)
	ok, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		v := safejs.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
		return nil
	})
	if err != nil {
		return safejs.Value{}, err
	}
	defer ok.Release()
	fail, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		msg := "fetch failed"
		if len(args) > 0 {
			if m, err := args[0].Get("message"); err == nil && m.Type() == safejs.TypeString {
				msg, _ = m.String()
			} else if s, err := args[0].String(); err == nil {
				msg = s
			}
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	if err != nil {
		return safejs.Value{}, err
	}
	defer fail.Release()
	if _, err := p.Call("then", ok.Value(), fail.Value()); err != nil {
		return safejs.Value{}, err
	}
	select {
	case r := <-ch:
		if r.err != nil && ctx.Err() != nil {
			return r.v, ctx.Err()
		}
		return r.v, r.err
	case <-ctx.Done():
		// The abort rejects the promise soon; wait for it so that the
		// callbacks are not released while JavaScript may still call them.
		r := <-ch
		if r.err == nil {
			return r.v, nil
		}
		return r.v, ctx.Err()
	}
}
