//go:build !js

package wasmclient_test

import (
	"testing"

	"github.com/tsunagi/tsunagi/internal/leak"
	"github.com/tsunagi/tsunagi/internal/testenv"
)

func TestMain(m *testing.M) {
	// Chromium for the browser tests, node for the js/wasm tests.
	testenv.Require(testenv.NeedChromium, testenv.NeedNode)
	leak.VerifyTestMain(m)
}
