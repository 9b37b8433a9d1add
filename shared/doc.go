// Package shared is what a program's events package imports: typed event
// declarations that the native server and the js/wasm client both compile,
// and the small interfaces each end implements for them.
//
// Events are declared once, in a package that both ends import:
//
//	type News struct{ Hello string `json:"hello"` }
//
//	var (
//		NewsEvent = shared.NewEvent[News]("news")
//		Echo      = shared.NewRequest[string, string]("echo") // acknowledged
//	)
//
//	events.NewsEvent.Emit(socket, events.News{Hello: "world"}) // server
//	events.NewsEvent.On(client, func(n events.News) { … })     // browser
//	reply, err := events.Echo.Call(ctx, client, "hi")           // either end
//
// A payload of the wrong type does not compile. One that does not decode
// does not reach the handler: the end reports a *DecodeError. A Request's
// handler error comes back to the caller as a *RemoteError. Handlers that
// take any payload get its Args. The wire protocol is package
// shared/wire.
package shared
