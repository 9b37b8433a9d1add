package wire

import (
	"sync"
	"sync/atomic"
)

// Event names that the program declared (shared.NewEvent, NewRequest, …)
// or registered a handler for are interned, so that decoding an event that
// carries one of them does not allocate its name. Names that only come off
// the wire are not added: a peer cannot fill the table.

// maxInterned bounds the table, for programs that register handlers under
// names built at run time.
const maxInterned = 256

var (
	internMu    sync.Mutex                        // serializes writers
	internTable atomic.Pointer[map[string]string] // read without a lock; never modified once stored
)

// Intern adds name to the event names that SplitEvent returns without
// allocating, while the table has room. Package shared calls it for the
// names a program declares or registers a handler for.
func Intern(name string) {
	if name == "" {
		return
	}
	if p := internTable.Load(); p != nil {
		if _, ok := (*p)[name]; ok || len(*p) >= maxInterned {
			return
		}
	}
	internMu.Lock()
	defer internMu.Unlock()
	var old map[string]string
	if p := internTable.Load(); p != nil {
		old = *p
	}
	if _, ok := old[name]; ok || len(old) >= maxInterned {
		return
	}
	m := make(map[string]string, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = name
	internTable.Store(&m)
}

// internedName returns the interned string equal to b, without allocating.
func internedName(b []byte) (string, bool) {
	p := internTable.Load()
	if p == nil {
		return "", false
	}
	s, ok := (*p)[string(b)]
	return s, ok
}
