package devserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// What a change in a watched file asks for.
type target int

const (
	targetPages target = 1 << iota // a file of -web: reload the pages
	targetWasm                     // a source of client.wasm: rebuild it
	targetRun                      // a source of the -run server: rebuild and restart it
)

// The debounce: a batch of changes is handled once no file has changed for
// quiet, or maxWait after its first change when changes keep coming.
// Editors write a file in several steps (a temporary file, a rename, a
// chmod; gofmt on save writes it twice), all within a few milliseconds.
const (
	quiet   = 80 * time.Millisecond
	maxWait = time.Second
)

// goSources is what one Go main package is built from, in the main
// module(s): the folders of its packages, the files they embed, and the
// folders of the go.mod files.
type goSources struct {
	dirs      map[string]bool
	embeds    map[string]bool
	embedDirs map[string]bool // folders holding embedded files
	mods      map[string]bool
}

// listSources asks the go command which packages pkg is built from (with
// env added to the environment, such as GOOS=js), keeping those of the
// main module(s): a dependency in the module cache does not change. With
// -e, a package that does not compile is listed too, so that its fix is
// seen.
func listSources(ctx context.Context, pkg string, env, flags []string) (*goSources, error) {
	args := append([]string{"list", "-e", "-deps", "-json=Dir,Standard,Module,EmbedFiles"}, flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %v\n%s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	src := &goSources{dirs: map[string]bool{}, embeds: map[string]bool{}, embedDirs: map[string]bool{}, mods: map[string]bool{}}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir        string
			Standard   bool
			EmbedFiles []string
			Module     *struct {
				Main  bool
				GoMod string
			}
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list %s: %w", pkg, err)
		}
		if p.Standard || p.Dir == "" || p.Module == nil || !p.Module.Main {
			continue
		}
		src.dirs[p.Dir] = true
		for _, f := range p.EmbedFiles {
			e := filepath.Join(p.Dir, f)
			src.embeds[e] = true
			src.embedDirs[filepath.Dir(e)] = true
		}
		if p.Module.GoMod != "" {
			src.mods[filepath.Dir(p.Module.GoMod)] = true
		}
	}
	return src, nil
}

// concerns reports whether a change of the file name matters to the build.
func (s *goSources) concerns(name string) bool {
	if s == nil {
		return false
	}
	dir, base := filepath.Split(name)
	dir = filepath.Clean(dir)
	switch {
	case s.embeds[name]:
		return true
	case s.dirs[dir] && strings.HasSuffix(base, ".go") && !strings.HasSuffix(base, "_test.go"):
		return true
	case s.mods[dir] && (base == "go.mod" || base == "go.sum" || base == "go.work" || base == "go.work.sum"):
		return true
	case s.embedDirs[dir]:
		return true // a file added where a pattern may embed it
	}
	return false
}

// watcher watches the pages folder and the sources of the Go builds, and
// hands on the changes in debounced batches. Its goroutine (run) owns the
// fsnotify watcher's events; the folders watched and the sources of each
// build are under mu, set by SetSources after each build.
type watcher struct {
	fs    *fsnotify.Watcher
	pages string // absolute; "" when not watched

	mu      sync.Mutex
	sources map[target]*goSources
	watched map[string]bool // folders given to fs
	pending target
	changed []string // names in the pending batch, for the log

	batch chan struct{} // a batch is pending; capacity 1
}

func newWatcher(pages string) (*watcher, error) {
	// Buffered, so that the end of a burst can tell events that are
	// already waiting from a quiet file system.
	fw, err := fsnotify.NewBufferedWatcher(256)
	if err != nil {
		return nil, err
	}
	w := &watcher{fs: fw, sources: map[target]*goSources{}, watched: map[string]bool{}, batch: make(chan struct{}, 1)}
	if pages != "" {
		if abs, err := filepath.Abs(pages); err == nil {
			w.pages = abs
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sync()
	return w, nil
}

// SetSources sets what build t is made of, and watches its folders.
func (w *watcher) SetSources(t target, s *goSources) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sources[t] = s
	w.sync()
}

// sync makes the folders watched those the pages and the builds need,
// under w.mu.
func (w *watcher) sync() {
	want := map[string]bool{}
	if w.pages != "" {
		_ = filepath.WalkDir(w.pages, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if p != w.pages && ignoredDir(d.Name()) {
				return filepath.SkipDir
			}
			want[p] = true
			return nil
		})
	}
	for _, s := range w.sources {
		if s == nil {
			continue
		}
		for d := range s.dirs {
			want[d] = true
		}
		for d := range s.mods {
			want[d] = true
		}
		for d := range s.embedDirs {
			want[d] = true
		}
	}
	for d := range w.watched {
		if !want[d] {
			_ = w.fs.Remove(d)
			delete(w.watched, d)
		}
	}
	for d := range want {
		if w.watched[d] {
			continue
		}
		if err := w.fs.Add(d); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				log.Printf("watch %s: %v", d, err)
			}
			continue
		}
		w.watched[d] = true
	}
}

// ignoredDir is a folder of the pages that is not watched.
func ignoredDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "node_modules"
}

// editorTemp reports whether base names a file that editors write on the
// way to saving another: vim's swap files and 4913 probe, emacs's locks
// and autosaves, backups, JetBrains' safe-write files, other temp files.
func editorTemp(base string) bool {
	switch {
	case base == "4913",
		strings.HasPrefix(base, "."), // .foo.swp, .#foo, .DS_Store
		strings.HasPrefix(base, "#") && strings.HasSuffix(base, "#"),
		strings.HasSuffix(base, "~"),
		strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"), strings.HasSuffix(base, ".swo"),
		strings.HasSuffix(base, ".tmp"), strings.HasSuffix(base, ".bak"), strings.HasSuffix(base, ".orig"),
		strings.Contains(base, "___jb_"):
		return true
	}
	return false
}

// classify says which targets a change of name concerns, under w.mu.
func (w *watcher) classify(name string) target {
	if editorTemp(filepath.Base(name)) {
		return 0
	}
	var t target
	if w.pages != "" && (name == w.pages || strings.HasPrefix(name, w.pages+string(filepath.Separator))) {
		t |= targetPages
	}
	for k, s := range w.sources {
		if s.concerns(name) {
			t |= k
		}
	}
	return t
}

// run reads the file events until ctx ends, and queues a batch once each
// burst of them is over.
func (w *watcher) run(ctx context.Context) {
	defer w.fs.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time // of the burst under way; zero when none
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			log.Printf("watch: %v", err)
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			// A chmod alone (touch, an editor resetting modes) changes no
			// content.
			if ev.Op == fsnotify.Chmod {
				continue
			}
			name := filepath.Clean(ev.Name)
			w.mu.Lock()
			if ev.Has(fsnotify.Create) && w.pages != "" && strings.HasPrefix(name, w.pages) {
				if fi, err := os.Stat(name); err == nil && fi.IsDir() {
					w.sync() // a new folder of pages
				}
			}
			t := w.classify(name)
			if t != 0 {
				w.pending |= t
				w.changed = append(w.changed, name)
			}
			w.mu.Unlock()
			if t == 0 {
				continue
			}
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			wait := quiet
			if left := maxWait - now.Sub(first); left < wait {
				wait = max(left, 0)
			}
			timer.Reset(wait)
		case <-timer.C:
			if len(w.fs.Events) > 0 && time.Since(first) < maxWait {
				timer.Reset(quiet) // more of the burst, read late: it is not over
				continue
			}
			first = time.Time{}
			select {
			case w.batch <- struct{}{}:
			default: // one is pending already: it takes these changes too
			}
		}
	}
}

// Batches is signalled when changes are pending; Take takes them.
func (w *watcher) Batches() <-chan struct{} { return w.batch }

// Take returns the pending changes and clears them.
func (w *watcher) Take() (target, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, names := w.pending, w.changed
	w.pending, w.changed = 0, nil
	return t, names
}
