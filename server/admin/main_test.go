package admin_test

import (
	"testing"

	"github.com/tsunagi/tsunagi/internal/leak"
)

func TestMain(m *testing.M) { leak.VerifyTestMain(m) }
