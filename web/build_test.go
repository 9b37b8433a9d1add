package web

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// wasmSections lists the names of the custom sections of a wasm module
// ("" for each standard section).
func wasmSections(t *testing.T, b []byte) []string {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\x00asm\x01\x00\x00\x00")) {
		t.Fatal("not a wasm module")
	}
	uleb := func() int {
		v, shift := 0, 0
		for i := 0; i < 5; i++ {
			if len(b) == 0 {
				t.Fatal("truncated wasm module")
			}
			c := b[0]
			b = b[1:]
			v |= int(c&0x7f) << shift
			if c < 0x80 {
				return v
			}
			shift += 7
		}
		t.Fatal("bad LEB128")
		return 0
	}
	var names []string
	b = b[8:]
	for len(b) > 0 {
		id := b[0]
		b = b[1:]
		n := uleb()
		if n > len(b) {
			t.Fatal("truncated section")
		}
		sec := b[:n]
		b = b[n:]
		name := ""
		if id == 0 {
			rest := b
			b = sec
			l := uleb()
			name = string(b[:l])
			b = rest
		}
		names = append(names, name)
	}
	return names
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestBuildWasm: a development build keeps the wasm "name" section (stack
// traces and profiles name functions), a production build strips it and is
// smaller; wasm_exec.js is the toolchain's; a broken package is a
// BuildError holding the compiler's message.
func TestBuildWasm(t *testing.T) {
	ctx := context.Background()
	const pkg = "github.com/tsunagi/tsunagi/cmd/clientwasm"
	dev, err := BuildWasm(ctx, pkg, nil)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := BuildWasm(ctx, pkg, &BuildOptions{Production: true})
	if err != nil {
		t.Fatal(err)
	}
	if !has(wasmSections(t, dev.Wasm.Raw), "name") {
		t.Fatal("the development build has no name section")
	}
	if has(wasmSections(t, prod.Wasm.Raw), "name") {
		t.Fatal("the production build kept its name section")
	}
	if len(prod.Wasm.Raw) >= len(dev.Wasm.Raw) {
		t.Fatalf("production %d bytes, development %d", len(prod.Wasm.Raw), len(dev.Wasm.Raw))
	}
	if !bytes.Contains(dev.WasmExec.Raw, []byte("globalThis.Go")) || !bytes.Equal(dev.WasmExec.Raw, prod.WasmExec.Raw) {
		t.Fatal("wasm_exec.js is not the toolchain's")
	}
	if !bytes.Equal(dev.Loader.Raw, Loader) {
		t.Fatal("the loader is not this package's")
	}

	mod := t.TempDir()
	for name, src := range map[string]string{
		"go.mod":  "module broken\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() { undefinedThing() }\n",
	} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = BuildWasm(ctx, ".", &BuildOptions{Dir: mod})
	var be *BuildError
	if !errors.As(err, &be) || !bytes.Contains([]byte(be.Output), []byte("undefined: undefinedThing")) {
		t.Fatalf("broken build: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := BuildWasm(cctx, pkg, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled build: %v", err)
	}
}
