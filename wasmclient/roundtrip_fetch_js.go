//go:build js && !tsunagi_nethttp

package wasmclient

import (
	"context"
	"net/http"

	"github.com/tsunagi/tsunagi/internal/fetch"
)

// newRoundTrip does polling requests with the Fetch API directly: net/http's
// client would link its native transport into client.wasm (see
// internal/fetch; -tags tsunagi_nethttp restores net/http).
func newRoundTrip(*http.Client) roundTrip {
	return func(ctx context.Context, method, url string, h http.Header, body []byte, limit int64) (int, []byte, error) {
		r := fetch.Request{Method: method, URL: url, Body: body, Limit: limit, Header: map[string][]string{}}
		for k, vs := range h {
			if k == "Js.fetch:credentials" || k == "js.fetch:credentials" {
				r.Credentials = vs[0]
				continue
			}
			r.Header[k] = vs
		}
		if body != nil {
			r.Header["Content-Type"] = []string{"text/plain;charset=UTF-8"}
		}
		return fetch.Do(ctx, r)
	}
}

// newHTTPClient is nil: fetch needs no client, and the browser keeps the cookies.
func newHTTPClient() *http.Client { return nil }
