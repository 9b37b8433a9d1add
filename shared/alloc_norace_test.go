//go:build !race && !tsunagi_stdjson

// Allocation counts do not hold under the race detector (it makes sync.Pool
// drop items): these tests exist only without it; scripts/test runs them.
// They pin the own JSON codec's, not encoding/json's (tsunagi_stdjson).

package shared

import (
	"encoding/json"
	"testing"

	"github.com/tsunagi/tsunagi/shared/wire"
)

// TestDecodeEventAllocs pins what issue 3 reached: decoding a small typed
// event allocates its string field and the value Decode fills, nothing else.
func TestDecodeEventAllocs(t *testing.T) {
	var v benchNews
	n := testing.AllocsPerRun(100, func() {
		_, data, _ := wire.DecodeEIO(benchMsg)
		p, _ := wire.DecodePacket(data, wire.Limits{})
		_, args, _ := ParseEvent(p.Data, p.Buffers)
		v = benchNews{}
		_ = args.Decode(0, &v)
	})
	if n > 2 || v.Hello != "world" {
		t.Errorf("%v allocations, decoded %+v", n, v)
	}
}

// A declared event's name, and one a handler is registered for, are
// interned: ParseEvent returns them without allocating. (wire's
// TestInternedNames tests the table.)
func TestInternedNames(t *testing.T) {
	NewEvent[int]("interned-by-declaration")
	var r Registry
	r.On("interned-by-handler", func(Args, AckFunc) error { return nil })()
	for _, name := range []string{"interned-by-declaration", "interned-by-handler", "news", "not-interned"} {
		data := json.RawMessage(`["` + name + `",{"hello":"world"},1,2]`)
		n := testing.AllocsPerRun(100, func() { _, _, _ = ParseEvent(data, nil) })
		if want := 0.0; name == "not-interned" && n == want || name != "not-interned" && n != want {
			t.Errorf("ParseEvent with %q: %v allocations", name, n)
		}
	}
}
