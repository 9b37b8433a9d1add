//go:build !race

// Allocation counts do not hold under the race detector (it makes sync.Pool
// drop items): these tests exist only without it; scripts/test runs them.

package shared

import (
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
