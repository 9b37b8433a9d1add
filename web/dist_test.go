package web

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

// TestWriteAndOpenBuild writes a build, then serves it from the folder and
// from an in-memory FS (as an embed.FS would be): hashed names immutable,
// plain names no-cache, the loader naming the hashed files.
func TestWriteAndOpenBuild(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	// A file of an earlier build goes; a file of the user's stays.
	stale := "client.0123456789abcdef.wasm.br"
	for _, name := range []string{stale, "README"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wasm := []byte(strings.Repeat("\x00asm tsunagi client ", 4000))
	execJS := []byte(strings.Repeat("// wasm_exec.js\n", 300))
	a, err := NewAssets(wasm, execJS)
	if err != nil {
		t.Fatal(err)
	}
	m, err := WriteBuild(dir, a)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^client\.[0-9a-f]{16}\.wasm$`).MatchString(m["client.wasm"]) ||
		!regexp.MustCompile(`^wasm_exec\.[0-9a-f]{16}\.js$`).MatchString(m["wasm_exec.js"]) || m["socket.io.js"] != "socket.io.js" {
		t.Fatalf("manifest %v", m)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var want []string
	for _, n := range []string{m["client.wasm"], m["wasm_exec.js"], "socket.io.js"} {
		want = append(want, n, n+".br", n+".gz")
	}
	want = append(want, "README", ManifestName)
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("folder holds\n%v\nwant\n%v", names, want)
	}
	var onDisk Manifest
	if b, _ := os.ReadFile(filepath.Join(dir, ManifestName)); json.Unmarshal(b, &onDisk) != nil || len(onDisk) != 3 || onDisk["client.wasm"] != m["client.wasm"] {
		t.Fatalf("manifest.json: %v", onDisk)
	}
	loader, _ := os.ReadFile(filepath.Join(dir, "socket.io.js"))
	if !bytes.Contains(loader, []byte(`"client.wasm":"`+m["client.wasm"]+`"`)) || !bytes.Contains(loader, []byte(`"wasm_exec.js":"`+m["wasm_exec.js"]+`"`)) {
		t.Fatal("the written loader does not name the hashed files")
	}

	mem := fstest.MapFS{}
	for _, n := range want {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		mem[n] = &fstest.MapFile{Data: b}
	}
	for label, fsys := range map[string]fs.FS{"folder": os.DirFS(dir), "embedded": mem} {
		t.Run(label, func(t *testing.T) {
			b, err := OpenBuild(fsys)
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(b)
			defer hs.Close()
			immutable := "public, max-age=31536000, immutable"
			checkServed(t, hs.URL+"/"+m["client.wasm"], TypeWasm, immutable, wasm, true)
			checkServed(t, hs.URL+"/"+m["wasm_exec.js"], TypeJS, immutable, execJS, true)
			checkServed(t, hs.URL+"/client.wasm", TypeWasm, "no-cache", wasm, true)
			checkServed(t, hs.URL+"/wasm_exec.js", TypeJS, "no-cache", execJS, true)
			checkServed(t, hs.URL+"/socket.io/socket.io.js", TypeJS, "no-cache", loader, true)
			for _, p := range []string{"/manifest.json", "/README", "/" + stale, "/socket.io.js"} {
				if res, _ := fetch(t, "GET", hs.URL+p); res.StatusCode != 404 {
					t.Fatalf("%s: %s", p, res.Status)
				}
			}
		})
	}

	// Without its .br, a file is served as gzip.
	delete(mem, m["client.wasm"]+".br")
	b, err := OpenBuild(mem)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(b)
	defer hs.Close()
	checkServed(t, hs.URL+"/"+m["client.wasm"], TypeWasm, "public, max-age=31536000, immutable", wasm, false)
}

// TestOpenBuildRefuses: a build that is not whole, or a manifest that names
// something other than a file beside it, is an error, not a panic.
func TestOpenBuildRefuses(t *testing.T) {
	good := fstest.MapFS{
		"client.0123456789abcdef.wasm":    {Data: []byte("w")},
		"wasm_exec.0123456789abcdef.js":   {Data: []byte("e")},
		"socket.io.js":                    {Data: []byte("l")},
		"client.0123456789abcdef.wasm.br": {Data: []byte("b")},
	}
	manifest := func(wasm string) *fstest.MapFile {
		b, _ := json.Marshal(Manifest{"client.wasm": wasm, "wasm_exec.js": "wasm_exec.0123456789abcdef.js", "socket.io.js": "socket.io.js"})
		return &fstest.MapFile{Data: b}
	}
	with := func(extra fstest.MapFS) fstest.MapFS {
		m := fstest.MapFS{}
		for k, v := range good {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	if _, err := OpenBuild(with(fstest.MapFS{ManifestName: manifest("client.0123456789abcdef.wasm")})); err != nil {
		t.Fatalf("a whole build: %v", err)
	}
	for label, fsys := range map[string]fs.FS{
		"no manifest":    good,
		"not JSON":       with(fstest.MapFS{ManifestName: {Data: []byte("{")}}),
		"missing file":   with(fstest.MapFS{ManifestName: manifest("client.fedcba9876543210.wasm")}),
		"a path":         with(fstest.MapFS{ManifestName: manifest("../client.wasm")}),
		"a pattern":      with(fstest.MapFS{ManifestName: manifest("{x}")}),
		"a space":        with(fstest.MapFS{ManifestName: manifest("client .wasm")}),
		"empty":          with(fstest.MapFS{ManifestName: manifest("")}),
		"a folder":       with(fstest.MapFS{ManifestName: manifest("sub"), "sub/x": {Data: []byte("x")}}),
		"no loader":      with(fstest.MapFS{ManifestName: {Data: []byte(`{"client.wasm":"client.0123456789abcdef.wasm","wasm_exec.js":"wasm_exec.0123456789abcdef.js"}`)}}),
		"manifest array": with(fstest.MapFS{ManifestName: {Data: []byte(`[]`)}}),
	} {
		if _, err := OpenBuild(fsys); err == nil {
			t.Errorf("%s: no error", label)
		}
	}
}

// TestLoaderFor: the shipped loader has the table WriteBuild fills in.
func TestLoaderFor(t *testing.T) {
	out, err := LoaderFor(Loader, "client.x.wasm", "wasm_exec.y.js")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(defaultFiles)) || !bytes.Contains(out, []byte(`var files = {"client.wasm":"client.x.wasm","wasm_exec.js":"wasm_exec.y.js"};`)) {
		t.Fatal("the table was not filled in")
	}
	if _, err := LoaderFor([]byte("(function(){})()"), "a", "b"); err == nil {
		t.Fatal("a loader without the table: no error")
	}
}
