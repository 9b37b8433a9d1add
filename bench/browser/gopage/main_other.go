//go:build !js

package main

func main() { println("gopage runs in a browser: GOOS=js GOARCH=wasm go build ./bench/browser/gopage") }
