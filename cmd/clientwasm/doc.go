// Command clientwasm is the default client.wasm (built with GOOS=js
// GOARCH=wasm): it exposes a socket.io-client-shaped io() to the page.
package main
