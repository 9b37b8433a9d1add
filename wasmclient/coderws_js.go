//go:build js && tsunagi_coderws

package wasmclient

// coderWS: the build tag tsunagi_coderws makes the client use
// coder/websocket's js Conn rather than browserWS.
const coderWS = true
