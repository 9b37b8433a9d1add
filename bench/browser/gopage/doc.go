// Command gopage is page (c) of bench/browser: a Go program for the browser
// (GOOS=js GOARCH=wasm) on wasmclient with typed handlers, which exposes to
// the bench the same calls as the JavaScript pages: globalThis.__go.recv,
// emit and acks, each ending with a callback that gets {n, ms}.
package main
