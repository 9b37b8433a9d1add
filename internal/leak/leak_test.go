package leak

import (
	"strings"
	"testing"

	"github.com/tsunagi/tsunagi/internal/wait"
)

func TestMain(m *testing.M) { VerifyTestMain(m) }

func parked(stop <-chan struct{}) { <-stop }

// TestInteresting: a goroutine a test left running is reported, and no
// longer once it has ended.
func TestInteresting(t *testing.T) {
	stop := make(chan struct{})
	go parked(stop)
	wait.For(t, "the parked goroutine in the report", func() bool { return strings.Contains(interesting(), "leak.parked") })
	close(stop)
	wait.For(t, "an empty report once it has ended", func() bool { return interesting() == "" })
}
