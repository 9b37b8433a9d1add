//go:build js && tsunagi_nethttp

package wasmclient

import "net/http"

// newHTTPClient is the client for polling: the Fetch API, through net/http.
func newHTTPClient() *http.Client { return &http.Client{} }
