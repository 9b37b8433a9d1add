//go:build !js || tsunagi_nethttp

package wasmclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

func newRoundTrip(c *http.Client) roundTrip { return httpRoundTrip(c) }

// httpRoundTrip does polling requests with c.
func httpRoundTrip(c *http.Client) roundTrip {
	return func(ctx context.Context, method, url string, h http.Header, body []byte, limit int64) (int, []byte, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return 0, nil, err
		}
		for k, vs := range h {
			req.Header[k] = vs
		}
		if body != nil {
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return 0, nil, err
		}
		if int64(len(b)) > limit {
			return 0, nil, fmt.Errorf("response body over %d bytes", limit)
		}
		return resp.StatusCode, b, nil
	}
}
