package shared

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestArgsInline(t *testing.T) {
	for n := range 12 {
		elems := make([]string, n)
		for i := range elems {
			elems[i] = fmt.Sprintf(`{"i":%d}`, i)
		}
		list := strings.Join(elems, " , ")
		event := `["ev"` + strings.Repeat(",", min(n, 1)) + list + `]`
		name, ev, err := ParseEvent(json.RawMessage(event), nil)
		if err != nil || name != "ev" {
			t.Fatalf("ParseEvent(%s) = %q %v", event, name, err)
		}
		ack, err := ParseArgs(json.RawMessage("["+list+"]"), nil)
		if err != nil {
			t.Fatalf("ParseArgs: %v", err)
		}
		raw := make([]json.RawMessage, n)
		for i := range raw {
			raw[i] = json.RawMessage(elems[i])
		}
		for _, a := range []Args{ev, ack, newArgs(raw, nil)} {
			if a.Len() != n {
				t.Fatalf("%d arguments: Len = %d", n, a.Len())
			}
			for i := range n {
				var v struct{ I int }
				if string(a.Raw(i)) != elems[i] || a.Decode(i, &v) != nil || v.I != i {
					t.Fatalf("%d arguments: Raw(%d) = %s, decoded %d", n, i, a.Raw(i), v.I)
				}
			}
			if a.Raw(n) != nil || a.Raw(-1) != nil {
				t.Fatalf("%d arguments: Raw out of range", n)
			}
			if vs, err := a.Values(); err != nil || len(vs) != n {
				t.Fatalf("%d arguments: Values = %v %v", n, vs, err)
			}
		}
	}
}

// newArgs returns Args over raw JSON values and binary attachments.
func newArgs(raw []json.RawMessage, bufs [][]byte) Args { return Args{raw: raw, bufs: bufs} }
