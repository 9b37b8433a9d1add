//go:build !js

package main

import (
	"testing"

	"github.com/tsunagi/tsunagi/internal/leak"
	"github.com/tsunagi/tsunagi/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.Require(testenv.NeedChromium)
	leak.VerifyTestMain(m)
}
