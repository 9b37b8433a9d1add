//go:build !linux

package idlepark

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// Tick is how often a Set moves waiting readers into its epoll set (Linux).
const Tick = time.Second

var errNotWaitable = errors.New("idlepark: Wait on a Conn that is not Waitable")

// Set parks nothing here: every connection keeps its reader goroutine.
type Set struct{}

// Conn is what a connection keeps for its Set; nothing here.
type Conn struct{}

// New returns a Set that parks nothing.
func New(log *slog.Logger, parking bool) *Set { return &Set{} }

// Init does nothing here: no socket can be waited on or parked.
func (c *Conn) Init(nc net.Conn, resume func()) {}

// Waitable reports false: the reader waits inside its read.
func (c *Conn) Waitable() bool { return false }

func (s *Set) Add(c *Conn)                         {}
func (s *Set) Remove(c *Conn)                      {}
func (s *Set) Enabled() bool                       { return false }
func (s *Set) Wait(c *Conn) (kick bool, err error) { return false, errNotWaitable }
func (s *Set) Park(c *Conn) bool                   { return false }
func (s *Set) Unpark(c *Conn)                      {}
func (s *Set) Parked(c *Conn) bool                 { return false }
func (s *Set) Len() int                            { return 0 }
func (s *Set) Resumed() int64                      { return 0 }
func (s *Set) Kicks() int64                        { return 0 }
func (c *Conn) Waiting() bool                      { return false }
