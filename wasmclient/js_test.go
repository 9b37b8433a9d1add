//go:build js

package wasmclient_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/tsunagi/tsunagi/internal/wait"
	"github.com/tsunagi/tsunagi/shared"
	"github.com/tsunagi/tsunagi/wasmclient"
)

// TestJSClient runs under GOOS=js GOARCH=wasm, started by the native
// TestWasmClientUnderNode, which serves a real server at TSUNAGI_TEST_URL.
func TestJSClient(t *testing.T) {
	url := os.Getenv("TSUNAGI_TEST_URL")
	if url == "" {
		t.Fatal("TSUNAGI_TEST_URL is not set: this test is run by the native TestWasmClientUnderNode")
	}
	type news struct {
		Hello string `json:"hello"`
	}
	newsEvent := shared.NewEvent[news]("news")
	echo := shared.NewRequest[string, string]("echo")
	blob := shared.NewRequest[[]byte, []byte]("reverse")

	s, err := wasmclient.New(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan news, 1)
	newsEvent.On(s, func(n news) { got <- n })
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n.Hello != "world" {
			t.Fatalf("news = %+v", n)
		}
	case <-ctx.Done():
		t.Fatal("no news")
	}
	if res, err := echo.Call(ctx, s, "from wasm"); err != nil || res != "from wasm" {
		t.Fatalf("echo = %q, %v", res, err)
	}
	res, err := blob.Call(ctx, s, []byte{1, 2, 3})
	if err != nil || !bytes.Equal(res, []byte{3, 2, 1}) {
		t.Fatalf("reverse = %v, %v", res, err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if s.Connected() {
		t.Fatal("still connected")
	}
}
