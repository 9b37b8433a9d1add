package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// A production build is a folder of files (see WriteBuild):
//
//	manifest.json                    {"client.wasm": "client.<hash>.wasm", …}
//	client.<hash>.wasm  .wasm.br  .wasm.gz
//	wasm_exec.<hash>.js .js.br    .js.gz
//	socket.io.js        .js.br    .js.gz     the loader, naming the hashed files
//
// <hash> is the first 16 hex digits of the file's SHA-256.

// ManifestName is the name of the manifest in a production build.
const ManifestName = "manifest.json"

// Manifest maps each logical name of a production build (client.wasm,
// wasm_exec.js, socket.io.js) to the name of the file that holds it.
type Manifest map[string]string

// The logical names of the files of a build, in the order they are written.
var logicalNames = []string{"client.wasm", "wasm_exec.js", "socket.io.js"}

// defaultFiles is the loader's table of the files it loads, as this
// package ships it; WriteBuild replaces it.
const defaultFiles = `var files = {"client.wasm": "client.wasm", "wasm_exec.js": "wasm_exec.js"};`

// LoaderFor returns loader (the code of Loader, or of an Assets.Loader)
// with the names of client.wasm and wasm_exec.js it loads replaced.
func LoaderFor(loader []byte, wasm, wasmExec string) ([]byte, error) {
	if !bytes.Contains(loader, []byte(defaultFiles)) {
		return nil, errors.New("web: the loader has no table of files to fill in")
	}
	names, err := json.Marshal(map[string]string{"client.wasm": wasm, "wasm_exec.js": wasmExec})
	if err != nil {
		return nil, err
	}
	return bytes.Replace(loader, []byte(defaultFiles), []byte("var files = "+string(names)+";"), 1), nil
}

// hashedName puts the first 16 hex digits of the SHA-256 of p into name:
// client.wasm becomes client.0123456789abcdef.wasm.
func hashedName(name string, p *Precompressed) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + p.Hash()[:16] + ext
}

// owned matches the files a build writes, so that WriteBuild may remove
// those of an earlier build.
var owned = regexp.MustCompile(`^(client\.[0-9a-f]{16}\.wasm|wasm_exec\.[0-9a-f]{16}\.js|socket\.io\.js|manifest\.json)(\.br|\.gz)?$`)

// WriteBuild writes a into dir (made if need be) as a production build:
// client.wasm and wasm_exec.js under content-hashed names, the loader
// with those names filled in, each with its .br and .gz forms, and
// manifest.json. It makes the brotli forms first (AddBrotli), and removes
// the files of an earlier build that this one does not have. Serve the
// folder with OpenBuild.
func WriteBuild(dir string, a *Assets) (Manifest, error) {
	if err := a.AddBrotli(); err != nil {
		return nil, fmt.Errorf("brotli: %w", err)
	}
	m := Manifest{
		"client.wasm":  hashedName("client.wasm", a.Wasm),
		"wasm_exec.js": hashedName("wasm_exec.js", a.WasmExec),
		"socket.io.js": "socket.io.js",
	}
	code, err := LoaderFor(a.Loader.Raw, m["client.wasm"], m["wasm_exec.js"])
	if err != nil {
		return nil, err
	}
	loader, err := NewPrecompressed(TypeJS, code)
	if err != nil {
		return nil, err
	}
	if err := loader.AddBrotli(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{ManifestName: append(manifest, '\n')}
	for name, p := range map[string]*Precompressed{m["client.wasm"]: a.Wasm, m["wasm_exec.js"]: a.WasmExec, m["socket.io.js"]: loader} {
		files[name], files[name+".gz"], files[name+".br"] = p.Raw, p.GZ, p.BR()
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range old {
		if _, keep := files[e.Name()]; !keep && owned.MatchString(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := writeFile(filepath.Join(dir, name), files[name]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// writeFile writes b to a temporary file beside path, then renames it, so
// that a server reading the folder never sees half a file.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// plainName is what a file named in a manifest may be called: one path
// element, no pattern syntax.
var plainName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)

// Build is a production build, opened by OpenBuild, ready to serve.
type Build struct {
	Manifest Manifest
	routes   map[string]http.Handler // by ServeMux pattern
	mux      *http.ServeMux
}

// OpenBuild opens a production build written by WriteBuild (or `devserver
// -build`) in fsys: a folder (os.DirFS) or an embed.FS. The Build serves
// GET and HEAD of
//
//	/socket.io/socket.io.js          the loader, naming the hashed files: no-cache
//	/client.<hash>.wasm              Cache-Control: public, max-age=31536000, immutable
//	/wasm_exec.<hash>.js             likewise
//	/client.wasm, /wasm_exec.js      the same files under names that stay: no-cache
//
// each as brotli, gzip or identity by the request's Accept-Encoding (from
// the .br and .gz files beside it), with Vary: Accept-Encoding and a strong
// ETag from the content hash (If-None-Match → 304). OpenBuild reads the
// manifest and hashes each file once; the bodies are read from fsys at
// each request, so the folder must not change while it is served (write
// the next build to another folder).
func OpenBuild(fsys fs.FS) (*Build, error) {
	b, err := fs.ReadFile(fsys, ManifestName)
	if err != nil {
		return nil, fmt.Errorf("web: reading the build's manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("web: %s: %w", ManifestName, err)
	}
	d := &Build{Manifest: m, routes: map[string]http.Handler{}, mux: http.NewServeMux()}
	for _, logical := range logicalNames {
		name := m[logical]
		if !plainName.MatchString(name) {
			return nil, fmt.Errorf("web: %s: %q names %q, not a plain file name", ManifestName, logical, name)
		}
		typ := TypeJS
		if strings.HasSuffix(logical, ".wasm") {
			typ = TypeWasm
		}
		v, err := fileVariants(fsys, name, typ)
		if err != nil {
			return nil, err
		}
		if logical == "socket.io.js" {
			v.cache = cacheRevalidate
			d.routes["GET /socket.io/socket.io.js"] = http.HandlerFunc(v.serve)
			continue
		}
		plain := *v
		plain.cache = cacheRevalidate
		d.routes["GET /"+logical] = http.HandlerFunc(plain.serve)
		if name != logical {
			v.cache = cacheImmutable
			d.routes["GET /"+name] = http.HandlerFunc(v.serve)
		}
	}
	d.Handle(d.mux)
	return d, nil
}

// Handle registers the build's files on mux, at the paths OpenBuild lists.
// The patterns are more specific than "/socket.io/" and "/", so the
// Socket.IO endpoint and the app's pages may be registered on the same mux.
func (d *Build) Handle(mux *http.ServeMux) {
	for pattern, h := range d.routes {
		mux.Handle(pattern, h)
	}
}

// ServeHTTP serves the build's files, and 404 for any other path.
func (d *Build) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// fileVariants finds name in fsys with its .br and .gz forms, and hashes it.
func fileVariants(fsys fs.FS, name, typ string) (*variants, error) {
	raw, err := fsSource(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("web: the build lacks %s: %w", name, err)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return nil, err
	}
	v := &variants{typ: typ, tag: `"` + hex.EncodeToString(h.Sum(nil))[:32] + `"`, raw: *raw}
	for _, enc := range []struct {
		ext string
		dst **source
	}{{".br", &v.br}, {".gz", &v.gz}} {
		s, err := fsSource(fsys, name+enc.ext)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		*enc.dst = s
	}
	return v, nil
}

func fsSource(fsys fs.FS, name string) (*source, error) {
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("web: %s is not a regular file", name)
	}
	return &source{size: fi.Size(), open: func() (io.Reader, error) { return fsys.Open(name) }}, nil
}
