// Package leak fails a test run that leaves goroutines behind.
package leak

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// VerifyTestMain runs the tests, then waits (for at most wait.Deadline())
// until every goroutine they started has ended, and fails the run when some
// remain.
func VerifyTestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		var leaked string
		if !wait.Until(func() bool { leaked = interesting(); return leaked == "" }) {
			fmt.Fprintf(os.Stderr, "leak: goroutines left behind after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func interesting() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if g == "" || strings.Contains(g, "leak.interesting") || strings.Contains(g, "testing.(*M).") ||
			strings.Contains(g, "testing.tRunner") && strings.Contains(g, "testing.(*T).Run") ||
			strings.Contains(g, "runtime.goexit") && strings.Contains(g, "created by runtime.gc") ||
			strings.Contains(g, "signal.signal_recv") || strings.Contains(g, "os/signal.loop") ||
			strings.Contains(g, "runtime.ensureSigM") || strings.Contains(g, "testing.runFuzz") {
			continue
		}
		out = append(out, g)
	}
	return strings.Join(out, "\n\n")
}
