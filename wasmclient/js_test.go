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

// TestJSClientPolling runs under GOOS=js GOARCH=wasm against the official
// socket.io server that TestWasmClientUnderNode serves, polling only, at
// TSUNAGI_TEST_POLLING_URL: the Fetch API path of the polling transport
// (internal/fetch), with acks and binary both ways.
func TestJSClientPolling(t *testing.T) {
	url := os.Getenv("TSUNAGI_TEST_POLLING_URL")
	if url == "" {
		t.Fatal("TSUNAGI_TEST_POLLING_URL is not set: this test is run by the native TestWasmClientUnderNode")
	}
	s, err := wasmclient.New(url, &wasmclient.Options{Transports: []string{"polling"}, NoReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	s.On("question", func(a shared.Args, ack shared.AckFunc) error {
		var n int
		if err := a.Decode(0, &n); err != nil {
			return err
		}
		return ack(2 * n)
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	if tr := s.Manager().Transport(); tr != "polling" {
		t.Fatalf("Transport() = %q", tr)
	}
	res, err := s.EmitWithAck(ctx, "echo", "from wasm")
	if v, _ := res.Values(); err != nil || len(v) != 1 || v[0] != "from wasm" {
		t.Fatalf("echo = %v, %v", v, err)
	}
	res, err = s.EmitWithAck(ctx, "ask")
	if v, _ := res.Values(); err != nil || len(v) != 1 || v[0] != 40.0 {
		t.Fatalf("ask = %v, %v", v, err)
	}
	res, err = s.EmitWithAck(ctx, "bin", []byte{1, 2, 3})
	var b []byte
	if err != nil || res.Decode(0, &b) != nil || !bytes.Equal(b, []byte{3, 2, 1}) {
		t.Fatalf("bin = %v, %v", b, err)
	}
}
