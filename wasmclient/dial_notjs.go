//go:build !js

package wasmclient

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

func dial(ctx context.Context, u string, h http.Header) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	return ws, err
}
