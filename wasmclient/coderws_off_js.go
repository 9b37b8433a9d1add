//go:build js && !tsunagi_coderws

package wasmclient

// coderWS is false: the client uses browserWS (build with the tag
// tsunagi_coderws for coder/websocket's js Conn).
const coderWS = false
