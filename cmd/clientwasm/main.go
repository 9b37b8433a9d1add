//go:build js

// Command clientwasm is the default client.wasm: it exposes a
// socket.io-client-shaped io() to the page, through the loader served at
// /socket.io/socket.io.js.
package main

import (
	"github.com/hack-pad/safejs"

	"github.com/tsunagi/tsunagi/wasmclient"
)

func main() {
	if err := wasmclient.ExposeIO(); err != nil {
		panic(err)
	}
	if ready, err := safejs.Global().Get("__tsunagiReady"); err == nil && ready.Type() == safejs.TypeFunction {
		_, _ = ready.Invoke()
	}
	select {}
}
