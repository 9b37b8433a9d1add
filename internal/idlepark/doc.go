// Package idlepark holds a server's quiet connections without a goroutine
// each, and lets a reader wait for input with a shallow stack.
//
// A Set is one server's; a Conn is what one connection keeps, embedded in
// it. On Linux a parked Conn's socket waits in the Set's epoll set, and its
// owner's resume function runs again, on a new goroutine, when the socket
// has input or is hung up, or when the owner calls Unpark after closing it.
// Elsewhere, or for a socket that is not a plain TCP connection, Waitable
// is false and every call is a no-op: each connection keeps its reader
// goroutine. A Set made with parking off keeps Wait (the shallow wait) and
// parks nothing.
//
// # States
//
// A Conn is in one of these states. Its owner's reader goroutine, the only
// one that calls Wait and Park for it, is running in the first three; none
// runs in parked.
//
//	reading  the reader reads and handles messages, outside this package.
//	waiting  the reader is in Wait, in Go's poller, for input (waitTick != 0).
//	kicked   waiting, and the Set's sweep set a read deadline in the past
//	         to end the wait: the reader waited two ticks (one to two
//	         seconds) without input. Wait then returns kick = true.
//	parked   in the epoll set (EPOLLONESHOT) and in the Set's parked map;
//	         no goroutine. Left by one of: an epoll event (input, hang-up),
//	         or Unpark. Either removes it from the map, under Set.mu, so
//	         exactly one starts resume.
//
//	           Wait                  sweep, after 2 ticks
//	reading ─────────▶ waiting ──────────────────────────▶ kicked
//	   ▲                  │ input, close or error             │ Wait returns kick=true
//	   │◀─────────────────┘                                   ▼
//	   │                   Park (also straight from reading) parked
//	   │                   Park false: not running, closed ─▶ reading
//	   │                                                      │ epoll event, or Unpark
//	   └──────────── go resume() ◀────────────────────────────┘
//
// The owner parks a reader straight from reading when its last message
// makes a pause likely (a heartbeat's pong, a CONNECT), and after Wait
// returned kick = true. A Park that fails (the Set is not running, parking
// is off, the socket is closed) leaves the reader reading.
//
// # Goroutines
//
// One per Set, its loop, while it has connections (Add starts it; it ends
// within a tick of the last Remove, closing the epoll set). Every tick
// (a second) it sweeps the Set's connections and kicks those waiting since
// the tick before last; between ticks it waits in epoll_wait and, for each
// event, removes that Conn from the parked map and starts resume on a new
// goroutine. Unpark starts resume the same way, from the caller's
// goroutine. The package starts no other goroutine and never calls resume
// on its own goroutine.
//
// # Locks
//
// Set.mu guards the Set's connections, the parked map, the epoll set's
// state and each Conn's parkID and inEpoll. Conn.kmu orders a kick with
// the reader's return from Wait, so that the read deadline a kick sets is
// always cleared by the reader. The order is Set.mu, then Conn.kmu (the
// sweep); raw.Control, which holds the socket's descriptor open, runs under
// Set.mu in Park. The owner holds none of its locks when it calls into the
// package, and the package reaches the owner only by starting resume on a
// goroutine, so no lock of the owner's is ever taken under Set.mu.
//
// # Closing
//
// A socket closed while parked leaves the epoll set without an event, so
// whoever closes a connection's socket calls Unpark afterwards: a parked
// reader then starts, finds the socket closed and tears the connection
// down. Unpark of a Conn that is not parked does nothing.
package idlepark
