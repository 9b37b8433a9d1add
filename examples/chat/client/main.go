//go:build js

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/tsunagi/tsunagi/examples/chat/events"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// page wraps the few DOM calls the chat needs.
type page struct{ doc safejs.Value }

func (p page) el(id string) safejs.Value {
	v, _ := p.doc.Call("getElementById", id)
	return v
}

func (p page) value(id string) string {
	v, _ := p.el(id).Get("value")
	s, _ := v.String()
	return s
}

func (p page) setText(id, text string) { _ = p.el(id).Set("textContent", text) }

func (p page) addLine(cls, text string) {
	li, _ := p.doc.Call("createElement", "li")
	_ = li.Set("className", cls)
	_ = li.Set("textContent", text)
	_, _ = p.el("messages").Call("appendChild", li)
}

// on runs fn in a goroutine for each DOM event: a JS callback must not block.
func (p page) on(id, event string, fn func()) {
	f, _ := safejs.FuncOf(func(safejs.Value, []safejs.Value) any { go fn(); return nil })
	_, _ = p.el(id).Call("addEventListener", event, f.Value())
}

func main() {
	doc, _ := safejs.Global().Get("document")
	p := page{doc: doc}
	loc, _ := safejs.Global().Get("location")
	origin, _ := loc.Get("origin")
	url, _ := origin.String()

	sock, err := wasmclient.New(url, nil)
	if err != nil {
		p.setText("status", err.Error())
		return
	}
	join := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		room := p.value("room")
		n, err := events.Join.Call(ctx, sock, events.JoinRequest{Room: room, User: p.value("name")})
		if err != nil {
			p.setText("status", "join failed: "+err.Error())
			return
		}
		p.setText("status", fmt.Sprintf("in %s with %d", room, n))
	}
	events.Said.On(sock, func(m events.Message) {
		p.addLine("said", fmt.Sprintf("[%s] %s: %s", m.Room, m.User, m.Text))
	})
	events.Joined.On(sock, func(j events.Presence) {
		p.addLine("joined", fmt.Sprintf("%s joined %s (%d here)", j.User, j.Room, j.Count))
	})
	sock.OnConnect(func() { go join() })
	sock.OnDisconnect(func(reason string) { p.setText("status", "disconnected: "+reason) })
	sock.OnConnectError(func(err error) { p.setText("status", "cannot connect: "+err.Error()) })

	p.on("join", "click", join)
	p.on("send", "click", func() {
		text := p.value("text")
		if err := events.Say.Emit(sock, events.Message{User: p.value("name"), Text: text}); err != nil {
			p.setText("status", err.Error())
		}
		_ = p.el("text").Set("value", "")
	})
	sock.Open()
	select {}
}
