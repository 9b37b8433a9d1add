// Package shared is the part of tsunagi that both ends compile: the wire
// protocol (Engine.IO v4 and Socket.IO v5 packets over WebSocket) and the
// typed event declarations.
//
// It uses the standard library only, does no I/O and starts no goroutines,
// so it builds unchanged for the native server and for the js/wasm client.
//
// Events are declared once, in a package that both ends import:
//
//	var (
//		News    = shared.NewEvent[News]("news")
//		Echo    = shared.NewRequest[string, string]("echo")
//	)
//
//	events.News.Emit(socket, events.News{Hello: "world"}) // server
//	events.News.On(client, func(n events.News) { … })     // browser
//	reply, err := events.Echo.Call(ctx, client, "hi")      // either end
package shared
