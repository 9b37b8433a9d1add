//go:build js

package wasmclient

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

// dial ignores h and c: a page cannot set WebSocket handshake headers, and
// the browser keeps the cookies. It opens a browserWS, or coder/websocket's
// Conn with the build tag tsunagi_coderws or where the page forbids
// compiling JavaScript.
func dial(ctx context.Context, u string, _ http.Header, _ *http.Client) (wsConn, error) {
	if !coderWS {
		if c, ok, err := dialBrowser(ctx, u); ok {
			if err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	return ws, nil
}

// pollHeader is the header of polling requests: with credentials, fetch
// sends cookies cross-origin too (net/http's js.fetch:credentials key is
// removed before the request goes out).
func pollHeader(h http.Header, withCredentials bool) http.Header {
	if !withCredentials {
		return h
	}
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("js.fetch:credentials", "include")
	return h
}
