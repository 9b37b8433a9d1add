//go:build js

package main

import (
	"context"

	"github.com/coder/websocket"
)

func main() {
	c, _, err := websocket.Dial(context.Background(), "ws://localhost/", nil)
	if err != nil {
		return
	}
	c.Close(websocket.StatusNormalClosure, "")
}
