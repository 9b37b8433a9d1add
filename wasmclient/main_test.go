//go:build !js

package wasmclient_test

import (
	"testing"

	"github.com/tsunagi/tsunagi/internal/leak"
)

func TestMain(m *testing.M) { leak.VerifyTestMain(m) }
