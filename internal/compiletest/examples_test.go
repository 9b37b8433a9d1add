//go:build !js

package compiletest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestExamplesImportNoInternal: an example is an app a user could copy into
// a module of their own, where this module's internal/ packages are out of
// reach (`use of internal package … not allowed`). So no package under
// examples/ may import one, for the server (native) or for the browser
// (js/wasm). Only their test files may.
func TestExamplesImportNoInternal(t *testing.T) {
	root := moduleRoot(t)
	goCmd := goCommand(t)
	const internal = "github.com/tsunagi/tsunagi/internal"
	for _, env := range [][]string{nil, {"GOOS=js", "GOARCH=wasm"}} {
		cmd := exec.Command(goCmd, "list", "-e", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{if .Error}} ERROR:{{.Error}}{{end}}", "./examples/...")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v go list: %v", env, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 3 { // chat, chat/client, chat/events at least
			t.Fatalf("%v: go list found only %q", env, lines)
		}
		for _, line := range lines {
			fields := strings.Fields(line)
			for _, imp := range fields[1:] {
				if strings.HasPrefix(imp, "ERROR:") {
					t.Errorf("%v %s: %s", env, fields[0], line)
					break
				}
				if imp == internal || strings.HasPrefix(imp, internal+"/") {
					t.Errorf("%v: %s imports %s: an example may import public packages only", env, fields[0], imp)
				}
			}
		}
	}
}
