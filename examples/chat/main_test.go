//go:build !js

package main

import (
	"testing"

	"github.com/tsunagi/tsunagi/internal/leak"
)

func TestMain(m *testing.M) { leak.VerifyTestMain(m) }
