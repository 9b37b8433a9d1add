package redisadapter

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"
)

func TestPacketValue(t *testing.T) {
	for _, c := range []struct {
		name string
		data string
		bufs [][]byte
		hex  string // notepack.io's encoding of the same JavaScript value
		back string // PacketData's JSON, when it differs from data
	}{
		{"no binary", `["ev",{"b":1,"a":[true,null,1.5,-3]},"x"]`, nil,
			"93a2657682a16201a16194c3c0cb3ff8000000000000fda178", ""},
		{"a placeholder", `["ev",{"a":1,"b":{"_placeholder":true,"num":0}},"x"]`, [][]byte{{1, 2, 3}},
			"93a2657682a16101a162c403010203a178", ""},
		{"keys in the other order, and whitespace", `["ev", {"num": 1, "_placeholder": true}, {"_placeholder":true,"num":0}]`, [][]byte{{9}, {}},
			"93a26576c400c40109", `["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
		{"num out of range stays an object", `["ev",{"_placeholder":true,"num":1}]`, [][]byte{{1}},
			"92a2657682ac5f706c616365686f6c646572c3a36e756d01", `["ev",{"_placeholder":true,"num":1}]`},
		{"two keys with a nested array", `["ev",{"a":[{"_placeholder":true,"num":0}],"num":0}]`, [][]byte{{7}},
			"92a2657682a16191c40107a36e756d00", ""},
		{"placeholder false", `["ev",{"_placeholder":false,"num":0}]`, [][]byte{{7}},
			"92a2657682ac5f706c616365686f6c646572c2a36e756d00", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := PacketValue(json.RawMessage(c.data), c.bufs)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(v); got != c.hex {
				t.Fatalf("PacketValue = %s\nwant          %s", got, c.hex)
			}
			data, bufs, err := v.PacketData()
			if err != nil {
				t.Fatal(err)
			}
			want := c.back
			if want == "" {
				want = c.data
			}
			if string(data) != want {
				t.Fatalf("PacketData = %s, want %s", data, want)
			}
			// PacketData numbers the attachments in the order they occur.
			var used [][]byte
			var walk func(any)
			walk = func(x any) {
				switch x := x.(type) {
				case []any:
					for _, e := range x {
						walk(e)
					}
				case map[string]any:
					if x["_placeholder"] == true {
						if n, ok := x["num"].(float64); ok && int(n) < len(c.bufs) {
							used = append(used, c.bufs[int(n)])
							return
						}
					}
					for _, e := range x {
						walk(e)
					}
				}
			}
			var tree any
			if err := json.Unmarshal([]byte(c.data), &tree); err != nil {
				t.Fatal(err)
			}
			walk(tree)
			if len(bufs) != len(used) {
				t.Fatalf("PacketData gave %d attachments, want %d", len(bufs), len(used))
			}
			for i := range bufs {
				if !bytes.Equal(bufs[i], used[i]) {
					t.Fatalf("attachment %d = %x, want %x", i, bufs[i], used[i])
				}
			}
		})
	}
}

func TestPacketValueRefusesBadJSON(t *testing.T) {
	for _, data := range []string{``, `[`, `["a"]]`, `{"_placeholder":true,"num":0`} {
		if _, err := PacketValue(json.RawMessage(data), [][]byte{{1}}); err == nil {
			t.Errorf("PacketValue(%q) succeeded", data)
		}
	}
}
