//go:build tsunagi_coderwrite

package server

// rawFrames is off: every frame goes through coder/websocket's writer, on
// the connection's writer goroutine (see rawframes.go).
const rawFrames = false
