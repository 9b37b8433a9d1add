package server_test

import (
	"slices"
	"testing"

	"github.com/tsunagi/tsunagi/server"
)

// TestObserveRooms checks the room events of the in-memory adapter against
// Node's adapter: create-room before the first join-room, leave-room then
// delete-room for the last socket, nothing for a repeated join or a leave
// of a room the socket is not in, and nothing once off is called.
func TestObserveRooms(t *testing.T) {
	srv := server.New(nil)
	ro, ok := srv.Of("/obs").Adapter().(server.RoomObserver)
	if !ok {
		t.Fatal("the default adapter is not a RoomObserver")
	}
	a := srv.Of("/obs").Adapter()
	var got []string
	off := ro.ObserveRooms(func(ev server.RoomEvent) {
		// The adapter's lock is released: reading it must not deadlock.
		_ = a.SocketRooms(ev.ID)
		got = append(got, ev.Kind.String()+" "+ev.Room+" "+ev.ID)
	})
	a.AddAll("s1", []string{"s1", "r"})
	a.AddAll("s2", []string{"r"})
	a.AddAll("s2", []string{"r"}) // already in: nothing
	a.Del("s1", "r")
	a.Del("s1", "nowhere") // not in: nothing
	a.DelAll("s2")
	a.DelAll("s1")
	want := []string{
		"create-room s1 ", "join-room s1 s1", "create-room r ", "join-room r s1",
		"join-room r s2",
		"leave-room r s1",
		"leave-room r s2", "delete-room r ",
		"leave-room s1 s1", "delete-room s1 ",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	off()
	off() // twice is harmless
	a.AddAll("s3", []string{"s3"})
	if len(got) != len(want) {
		t.Fatalf("events after off: %q", got[len(want):])
	}
}

// TestOnNamespace checks that OnNamespace sees the namespaces there are and
// those made later, a dynamic namespace's child included.
func TestOnNamespace(t *testing.T) {
	srv := server.New(nil)
	srv.Of("/a")
	var seen []string
	srv.OnNamespace(func(ns *server.Namespace) { seen = append(seen, ns.Name()) })
	srv.Of("/b")
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"/", "/a", "/b"}) {
		t.Fatalf("seen %q", seen)
	}
	if n := len(srv.Namespaces()); n != 3 {
		t.Fatalf("Namespaces: %d", n)
	}
}

// BenchmarkAdapterJoinLeave: a socket joins its own room and another, and
// leaves, on an adapter that nobody observes (ObserveRooms costs an atomic
// load then).
func BenchmarkAdapterJoinLeave(b *testing.B) {
	a := server.New(nil).Of("/bench").Adapter()
	rooms := []string{"s1", "r"}
	for b.Loop() {
		a.AddAll("s1", rooms)
		a.Del("s1", "r")
		a.DelAll("s1")
	}
}
