//go:build !tsunagi_coderwrite

package server

// rawFrames: the server writes its data frames itself (internal/wsframe),
// and a send to a connection whose writer is idle writes at once, on the
// sender's goroutine, without waiting for the socket. Built with -tags
// tsunagi_coderwrite, every frame goes through coder/websocket's writer on
// the connection's writer goroutine, as before.
const rawFrames = true
