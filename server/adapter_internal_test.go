package server

import (
	"slices"
	"testing"
)

func TestIDSet(t *testing.T) {
	var s idSet
	members := func() []string {
		var out []string
		for v := range s.all {
			out = append(out, v)
		}
		slices.Sort(out)
		return out
	}
	check := func(step string, want ...string) {
		t.Helper()
		if got := members(); !slices.Equal(got, want) || s.len() != len(want) {
			t.Fatalf("%s: members %q (len %d), want %q", step, got, s.len(), want)
		}
		for _, v := range want {
			if !s.has(v) {
				t.Fatalf("%s: has(%q) false", step, v)
			}
		}
		if s.has("zz") {
			t.Fatalf("%s: has a non-member", step)
		}
	}
	check("empty")
	s.add("")
	check("the empty string", "")
	s.del("")
	s.add("a")
	s.add("a")
	check("one, added twice", "a")
	s.del("b")
	check("deleting a non-member", "a")
	s.add("b")
	s.add("c")
	check("three", "a", "b", "c")
	s.del("a")
	s.del("c")
	check("back to one", "b")
	s.del("b")
	check("none")
}
