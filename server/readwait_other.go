//go:build !linux

package server

// initWait: elsewhere the reader waits for input inside coder/websocket's
// read, with the deeper stack that costs.
func (b *batchConn) initWait() {}
