// Package web holds the static files of the devserver: the demo page and the
// loader script that gives a page a socket.io-client-shaped io().
package web

import _ "embed"

// Loader is the script served at /socket.io/socket.io.js.
//
//go:embed socket.io.js
var Loader []byte
