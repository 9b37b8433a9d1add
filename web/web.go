// Package web serves the browser side of a tsunagi app: client.wasm (a Go
// main package built for GOOS=js GOARCH=wasm), the wasm_exec.js of the
// toolchain that built it, and the loader that gives a page a
// socket.io-client-shaped io() at /socket.io/socket.io.js.
//
// In development, BuildWasm builds the client and Assets serves it (this is
// what cmd/devserver does). For production, `go run
// github.com/tsunagi/tsunagi/cmd/devserver -build DIR` (or WriteBuild)
// writes the files with content-hashed names, precompressed, and a
// manifest, into a folder or an embeddable package; OpenBuild serves them:
//
//	build, err := web.OpenBuild(dist.FS) // the package `-build dist -pkg dist` wrote
//	…
//	mux := http.NewServeMux()
//	mux.Handle("/socket.io/", io) // a *server.Server
//	build.Handle(mux)             // the loader, client.wasm, wasm_exec.js
//	mux.Handle("/", pages)
//
// Both serve with Content-Type: application/wasm, Vary: Accept-Encoding,
// brotli or gzip as the request's Accept-Encoding prefers, a strong ETag
// (If-None-Match → 304), Cache-Control: no-cache for names that stay and
// immutable caching for content-hashed names.
//
// The package also holds the devserver's demo page (index.html).
package web

import _ "embed"

// Loader is the script served at /socket.io/socket.io.js.
//
//go:embed socket.io.js
var Loader []byte
