package devserver

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsunagi/tsunagi/web"
)

// TestBuild: -build writes a build that web.OpenBuild serves, with -pkg an
// embed.go beside it, and reports the files; a bad -pkg is refused.
func TestBuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dist")
	var out bytes.Buffer
	if err := Build(dir, "dist", Config{Wasm: DefaultWasm}, &out); err != nil {
		t.Fatal(err)
	}
	b, err := web.OpenBuild(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{b.Manifest["client.wasm"], b.Manifest["wasm_exec.js"], "socket.io.js", "manifest.json"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("the report does not name %s:\n%s", name, out.String())
		}
	}
	src, err := os.ReadFile(filepath.Join(dir, "embed.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\npackage dist\n", "\n//go:embed manifest.json socket.io.js* client.*.wasm* wasm_exec.*.js*\nvar FS embed.FS\n", "DO NOT EDIT."} {
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("embed.go lacks %q:\n%s", want, src)
		}
	}
	for _, bad := range []string{"main", "my-pkg", "1x", "func"} {
		if err := Build(t.TempDir(), bad, Config{Wasm: DefaultWasm}, &out); err == nil {
			t.Errorf("-pkg %q: no error", bad)
		}
	}
}
