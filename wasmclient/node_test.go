//go:build !js

package wasmclient_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/shared"
)

// TestWasmClientUnderNode builds this package's tests for js/wasm and runs
// them under Node against a real native server, like coder/websocket does,
// and against the official socket.io server over polling.
func TestWasmClientUnderNode(t *testing.T) {
	t.Parallel()
	srv := server.New(nil)
	type news struct {
		Hello string `json:"hello"`
	}
	srv.OnConnection(func(s *server.Socket) {
		shared.NewEvent[news]("news").Emit(s, news{Hello: "world"})
		shared.NewRequest[string, string]("echo").Handle(s, func(in string) (string, error) { return in, nil })
		shared.NewRequest[[]byte, []byte]("reverse").Handle(s, func(in []byte) ([]byte, error) {
			out := slices.Clone(in)
			slices.Reverse(out)
			return out, nil
		})
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	execWasm := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "go_js_wasm_exec")
	// It builds the tests for js/wasm first.
	ctx, cancel := context.WithTimeout(context.Background(), testenv.BuildDeadline())
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-exec="+execWasm, ".")
	polling := startNodePolling(t, "polling")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "TSUNAGI_TEST_URL="+hs.URL, "TSUNAGI_TEST_POLLING_URL="+polling,
		"NODE_OPTIONS=--experimental-websocket")
	out, err := cmd.CombinedOutput()
	t.Logf("js/wasm tests:\n%s", out)
	if err != nil {
		t.Fatalf("js/wasm tests failed: %v", err)
	}
	if !strings.Contains(string(out), "ok") {
		t.Fatal("js/wasm tests did not report ok")
	}
}
