package wire

import (
	"encoding/json"
	"strconv"
	"testing"
)

// Interned names come out of SplitEvent without allocating; names off the
// wire are not added, and the table is bounded.
func TestInternedNames(t *testing.T) {
	Intern("interned")
	Intern("news")
	for _, name := range []string{"interned", "news"} {
		got, ok := internedName([]byte(name))
		if !ok || got != name {
			t.Errorf("%q not interned", name)
		}
		data := json.RawMessage(`["` + name + `",{"hello":"world"},1,2]`)
		if raceEnabled {
			continue
		}
		arg := func(json.RawMessage) {}
		if n := testing.AllocsPerRun(100, func() { _, _ = SplitEvent(data, arg) }); n != 0 {
			t.Errorf("SplitEvent with %q: %v allocations", name, n)
		}
	}
	// Names off the wire are not added.
	name, err := SplitEvent(json.RawMessage(`["only-on-the-wire"]`), func(json.RawMessage) {})
	if _, ok := internedName([]byte(name)); ok || err != nil {
		t.Errorf("wire name interned (%v)", err)
	}
	// The table is bounded.
	for i := range 2 * maxInterned {
		Intern("bounded-" + strconv.Itoa(i))
	}
	if n := len(*internTable.Load()); n != maxInterned {
		t.Errorf("%d names interned", n)
	}
	if _, ok := internedName([]byte("news")); !ok {
		t.Error("news dropped")
	}
}
