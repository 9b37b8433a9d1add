//go:build !js

package wasmclient

import (
	"context"
	"net/http"
	"net/http/cookiejar"

	"github.com/coder/websocket"
)

func dial(ctx context.Context, u string, h http.Header, c *http.Client) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: c})
	return ws, err
}

// newHTTPClient is a Manager's client for polling and the WebSocket
// handshake: its cookie jar keeps the cookies of the session (a load
// balancer's sticky-session cookie, engine.io's io cookie) across them.
func newHTTPClient() *http.Client {
	jar, _ := cookiejar.New(nil) // cannot fail without options
	return &http.Client{Jar: jar}
}

// pollHeader is the header of polling requests.
func pollHeader(h http.Header, _ bool) http.Header { return h }
