package devserver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tsunagi/tsunagi/internal/wait"
)

// startWatcher watches pages (may be "") until the test ends.
func startWatcher(t *testing.T, pages string) *watcher {
	t.Helper()
	w, err := newWatcher(pages)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		wait.Closed(t, "the watcher to stop", done)
	})
	return w
}

// until takes batches until one names want, and returns what the batches
// were for and every name they held.
func until(t *testing.T, w *watcher, want string) (target, []string) {
	t.Helper()
	var all target
	var names []string
	timer := time.NewTimer(wait.Deadline())
	defer timer.Stop()
	for !slices.Contains(names, want) {
		select {
		case <-w.Batches():
		case <-timer.C:
			t.Fatalf("no batch named %s within %v; got %v", want, wait.Deadline(), names)
		}
		tg, n := w.Take()
		all |= tg
		names = append(names, n...)
	}
	return all, names
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchPages: a change of a page, in a folder made after the watch
// began too, makes a batch for the pages; editors' temporary files and a
// chmod alone do not. Each check is ordered before a real change that the
// batch must name, so what it must not hold would already be in it.
func TestWatchPages(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "index.html"), "a")
	w := startWatcher(t, dir)

	for _, temp := range []string{".index.html.swp", "4913", "index.html~", "#index.html#", "index.html___jb_tmp___", "x.tmp"} {
		writeFile(t, filepath.Join(dir, temp), "t")
	}
	now := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "index.html"), now, now); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "page.html")
	writeFile(t, page, "b")
	tg, names := until(t, w, page)
	if tg != targetPages {
		t.Errorf("a page's batch is for %b, want pages (%b)", tg, targetPages)
	}
	for _, n := range names {
		if n != page {
			t.Errorf("the batch names %s: temporary files and a chmod must not count", n)
		}
	}

	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	until(t, w, sub) // the new folder, now watched
	nested := filepath.Join(sub, "deep.css")
	writeFile(t, nested, "c")
	until(t, w, nested)
}

// TestWatchGoSources: in a package folder, the .go files count (tests and
// other files do not), the files it embeds count, and a module root's
// go.mod does.
func TestWatchGoSources(t *testing.T) {
	root := t.TempDir()
	pkg := filepath.Join(root, "client")
	static := filepath.Join(root, "client", "static")
	for _, f := range []string{filepath.Join(pkg, "main.go"), filepath.Join(static, "a.txt"), filepath.Join(root, "go.mod")} {
		writeFile(t, f, "x")
	}
	w := startWatcher(t, "")
	w.SetSources(targetWasm, &goSources{
		dirs:      map[string]bool{pkg: true},
		embeds:    map[string]bool{filepath.Join(static, "a.txt"): true},
		embedDirs: map[string]bool{static: true},
		mods:      map[string]bool{root: true},
	})
	writeFile(t, filepath.Join(pkg, "main_test.go"), "t")
	writeFile(t, filepath.Join(pkg, "notes.md"), "n")
	writeFile(t, filepath.Join(root, "README.md"), "r")
	src := filepath.Join(pkg, "main.go")
	writeFile(t, src, "y")
	tg, names := until(t, w, src)
	slices.Sort(names)
	if names = slices.Compact(names); tg != targetWasm || len(names) != 1 {
		t.Errorf("batch for %b with %v, want client.wasm's (%b) with %s alone", tg, names, targetWasm, src)
	}
	for _, f := range []string{filepath.Join(static, "a.txt"), filepath.Join(static, "new.txt"), filepath.Join(root, "go.mod")} {
		writeFile(t, f, "z")
		until(t, w, f)
	}
}

// TestListSources: the sources of a build are the packages of the main
// module it imports, not those of the module cache or the standard library.
func TestListSources(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), wait.Deadline())
	defer cancel()
	s, err := listSources(ctx, DefaultWasm, []string{"GOOS=js", "GOARCH=wasm"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(mustAbs(t, ".")))
	for _, d := range []string{"cmd/clientwasm", "wasmclient", "shared"} {
		if !s.dirs[filepath.Join(root, filepath.FromSlash(d))] {
			t.Errorf("the sources of client.wasm lack %s: %v", d, s.dirs)
		}
	}
	for d := range s.dirs {
		if !strings.HasPrefix(d, root+string(filepath.Separator)) {
			t.Errorf("a source folder outside the module: %s", d)
		}
	}
	if !s.mods[root] {
		t.Errorf("the module root %s is not among %v", root, s.mods)
	}
	if s.dirs[filepath.Join(root, "server")] {
		t.Errorf("client.wasm does not import server/, yet it is a source")
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestWasmSum: two builds that differ only in their go:buildid section
// are the same; any other difference is not.
func TestWasmSum(t *testing.T) {
	section := func(id byte, payload []byte) []byte {
		return append([]byte{id, byte(len(payload))}, payload...)
	}
	custom := func(name, data string) []byte {
		return section(0, append([]byte{byte(len(name))}, name+data...))
	}
	module := func(parts ...[]byte) []byte {
		return bytes.Join(append([][]byte{[]byte("\x00asm\x01\x00\x00\x00")}, parts...), nil)
	}
	code := section(10, []byte{1, 2, 3})
	a := module(custom("go:buildid", "aaaa"), code, custom("name", "main"))
	b := module(custom("go:buildid", "bbbbbb"), code, custom("name", "main"))
	c := module(custom("go:buildid", "aaaa"), section(10, []byte{1, 2, 4}), custom("name", "main"))
	d := module(custom("go:buildid", "aaaa"), code, custom("name", "other"))
	if wasmSum(a) != wasmSum(b) {
		t.Error("builds that differ only in the build id differ")
	}
	if wasmSum(a) == wasmSum(c) || wasmSum(a) == wasmSum(d) {
		t.Error("builds whose code or names differ are the same")
	}
	if wasmSum([]byte("not wasm")) == wasmSum([]byte("not wasm!")) {
		t.Error("files that are not wasm are compared whole")
	}
	if wasmSum(a[:len(a)-2]) == wasmSum(a[:len(a)-1]) { // a cut section: all of it counts
		t.Error("a truncated module is compared whole")
	}
}
