//go:build js

package wasmclient

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

// dial ignores h: a page cannot set WebSocket handshake headers.
func dial(ctx context.Context, u string, _ http.Header) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, u, nil)
	return ws, err
}
