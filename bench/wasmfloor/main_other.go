//go:build !js

package main

import (
	"fmt"
	"os"
)

// main says how to build this program: it runs in a browser only, so a
// native `go build ./...` builds this instead of failing to link.
func main() {
	fmt.Fprintln(os.Stderr, "this program runs in the browser: build it with GOOS=js GOARCH=wasm (the devserver does)")
	os.Exit(2)
}
