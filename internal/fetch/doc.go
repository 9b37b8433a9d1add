// Package fetch does an HTTP request with the browser's Fetch API, called
// through safejs: the polling transport of wasmclient under js. net/http
// does the same under js, but linking its client links its whole native
// transport too (as a fallback for when fetch is missing), which nearly
// doubles client.wasm. Built with -tags tsunagi_nethttp, wasmclient uses
// net/http under js instead and this package is not linked.
//
// client.wasm (./cmd/clientwasm), brotli -q 11 with lgwin 22 as web.BuildWasm
// compresses it, at the commit that added polling (the figures
// move by about 1.5 KB with the build ID alone):
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o client.wasm ./cmd/clientwasm
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -tags tsunagi_nethttp -o nethttp.wasm ./cmd/clientwasm
//
//	before polling (WebSocket only)    1,200,075 bytes (raw  5,697,625)
//	polling through this package       1,241,284 bytes (raw  5,863,920)
//	polling through net/http           2,147,124 bytes (raw 11,123,556)
//
// Unlike net/http under js, it also works under Node.js, whose fetch
// net/http refuses to use (the js/wasm tests run there).
package fetch
