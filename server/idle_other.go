//go:build !linux

package server

import "sync/atomic"

// idler: elsewhere every connection keeps its reader goroutine.
type idler struct {
	srv  *Server
	tick atomic.Uint32
}

type parkState struct{}

func (p *idler) enabled() bool         { return false }
func (p *idler) add()                  {}
func (p *idler) remove()               {}
func (p *idler) park(c *conn) bool     { return false }
func (p *idler) unpark(c *conn)        {}
func (c *conn) waitStart()             {}
func (c *conn) waitEnd() (kicked bool) { return false }
