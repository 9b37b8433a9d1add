// Command client is the chat's browser side, in Go: built with GOOS=js
// GOARCH=wasm and served as client.wasm by the chat's devserver.
package main
