// Package fetch does an HTTP request with the browser's Fetch API, called
// through safejs: the polling transport of wasmclient under js. net/http
// does the same under js, but linking its client links its whole native
// transport too (as a fallback for when fetch is missing), which nearly
// doubles client.wasm. Built with -tags tsunagi_nethttp, wasmclient uses
// net/http under js instead and this package is not linked.
//
// client.wasm (./cmd/clientwasm) without a build ID, compressed as
// web.BuildWasm does (brotli quality 11, lgwin 22): at c05af9b, the last
// commit before polling, and at 956e00a:
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w -buildid=" -o client.wasm ./cmd/clientwasm
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w -buildid=" -tags tsunagi_nethttp -o nethttp.wasm ./cmd/clientwasm
//
//	c05af9b, WebSocket only            1,205,893 bytes (raw  5,697,447)
//	956e00a, polling through this      1,237,561 bytes (raw  5,857,067)
//	956e00a, polling through net/http  2,152,876 bytes (raw 11,122,115)
//
// Unlike net/http under js, it also works under Node.js, whose fetch
// net/http refuses to use (the js/wasm tests run there).
package fetch
