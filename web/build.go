package web

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// BuildOptions tune BuildWasm. The zero value (or nil) is a development
// build.
type BuildOptions struct {
	// Production strips the symbol table, the DWARF data and the wasm
	// "name" section (-ldflags=-s -w): a smaller client.wasm whose panics
	// and profiles show no function names. Development builds keep them.
	Production bool
	// Dir is the directory go build runs in, and so the module pkg is
	// resolved in; "" is the current directory.
	Dir string
	// Flags are more go build flags, such as -tags, put before the package.
	Flags []string
}

// BuildError is a failed go build: Output is what the compiler printed.
type BuildError struct {
	Pkg    string
	Output string
	Err    error
}

func (e *BuildError) Error() string {
	msg := fmt.Sprintf("building %s for js/wasm: %v", e.Pkg, e.Err)
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += "\n" + out
	}
	return msg
}

func (e *BuildError) Unwrap() error { return e.Err }

// BuildWasm builds the main package pkg for GOOS=js GOARCH=wasm with the go
// command on $PATH, and reads the wasm_exec.js of the same Go toolchain, so
// the two always match. client.wasm comes gzipped at once; call
// Wasm.AddBrotli for the brotli form. Ending ctx ends the build. A failed
// build is a *BuildError holding the compiler's output.
func BuildWasm(ctx context.Context, pkg string, opts *BuildOptions) (*Assets, error) {
	if opts == nil {
		opts = &BuildOptions{}
	}
	dir, err := os.MkdirTemp("", "tsunagi-wasm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "client.wasm")
	args := []string{"build", "-trimpath"}
	if opts.Production {
		args = append(args, "-ldflags=-s -w")
	}
	args = append(args, opts.Flags...)
	args = append(args, "-o", out, pkg)
	var output bytes.Buffer
	cmd := goCommand(ctx, opts.Dir, args...)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &BuildError{Pkg: pkg, Output: output.String(), Err: err}
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	execJS, err := WasmExec(ctx)
	if err != nil {
		return nil, err
	}
	return NewAssets(raw, execJS)
}

// WasmExec reads the wasm_exec.js of the go command on $PATH, from
// $(go env GOROOT)/lib/wasm.
func WasmExec(ctx context.Context) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := goCommand(ctx, "", "env", "GOROOT")
	cmd.Stderr = &stderr
	goroot, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return nil, fmt.Errorf("reading wasm_exec.js: %w", err)
	}
	return b, nil
}

// goCommand is the go command, asked to stop (and to clean up after
// itself) with an interrupt when ctx ends, and killed 5 s later.
func goCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
