// Command wasmfloor is the floor that scripts/bench measures client.wasm
// against: a js/wasm program that only dials with coder/websocket, so its
// size is what the WebSocket library and the Go runtime cost by themselves.
package main
