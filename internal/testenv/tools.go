//go:build !js

package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A Tool is a thing from the machine that a test package needs: Require
// checks a package's tools once, in its TestMain.
type Tool int

const (
	NeedChromium    Tool = iota // headless Chromium (NewBrowser)
	NeedNode                    // node on PATH (RunNode, go_js_wasm_exec)
	NeedNodeModules             // the npm packages socket.io and socket.io-client (RunNode)
)

// Require checks that the machine has every tool the test package needs,
// before any test runs. When one is missing it prints one line that names
// the package, what is missing and scripts/test (which installs it), and
// exits 1: a package whose tools are missing fails once and clearly, not
// test by test, and never skips. Call it first in TestMain.
func Require(tools ...Tool) {
	if line := missingLine(packageName(), host, tools); line != "" {
		fmt.Fprintln(os.Stderr, line)
		os.Exit(1)
	}
}

// machine is where the tools are looked up; tests of this package give it
// a made-up environment.
type machine struct {
	getenv   func(string) string
	lookPath func(string) (string, error)
	home     func() (string, error)
	isExec   func(string) bool
	isFile   func(string) bool
}

var host = machine{
	getenv:   os.Getenv,
	lookPath: exec.LookPath,
	home:     os.UserHomeDir,
	isExec:   isExecutable,
	isFile: func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir()
	},
}

// missingError says that a tool is missing, and what else than
// scripts/test provides it.
type missingError struct {
	what string // "chromium not found"
	alt  string // "or set TSUNAGI_CHROMIUM"
}

func (e *missingError) Error() string {
	return e.what + ": " + installHint + " (" + e.alt + ")"
}

const installHint = "run scripts/test, which installs it"

// missingLine is the one line Require prints for pkg, or "" when the
// machine has every tool.
func missingLine(pkg string, m machine, tools []Tool) string {
	var what, alt []string
	for _, tool := range tools {
		if _, err := m.find(tool); err != nil {
			what, alt = append(what, err.what), append(alt, err.alt)
		}
	}
	switch len(what) {
	case 0:
		return ""
	case 1:
		return pkg + ": " + what[0] + ": " + installHint + " (" + alt[0] + ")"
	}
	return pkg + ": " + strings.Join(what, "; ") + ": run scripts/test, which installs them (" + strings.Join(alt, "; ") + ")"
}

// find returns the path of tool on m: a binary, or for NeedNodeModules the
// node_modules directory.
func (m machine) find(tool Tool) (string, *missingError) {
	switch tool {
	case NeedChromium:
		return m.chromium()
	case NeedNode:
		if p, err := m.lookPath("node"); err == nil {
			return p, nil
		}
		return "", &missingError{"node not found on PATH", "Node.js 20 or later"}
	case NeedNodeModules:
		return m.nodeModules()
	}
	return "", &missingError{fmt.Sprintf("unknown tool %d", tool), "a bug in the test"}
}

func (m machine) chromium() (string, *missingError) {
	if p := m.getenv("TSUNAGI_CHROMIUM"); p != "" {
		if m.isExec(p) {
			return p, nil
		}
		return "", &missingError{fmt.Sprintf("chromium not found at TSUNAGI_CHROMIUM=%s", p), "or set TSUNAGI_CHROMIUM to a chromium binary"}
	}
	if m.isExec("/usr/bin/chromium") {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := m.lookPath(name); err == nil {
			return p, nil
		}
	}
	return "", &missingError{"chromium not found", "or set TSUNAGI_CHROMIUM"}
}

func (m machine) nodeModules() (string, *missingError) {
	dir := m.getenv("TSUNAGI_NODE_MODULES")
	if dir == "" {
		home, err := m.home()
		if err != nil {
			return "", &missingError{fmt.Sprintf("npm packages not found: TSUNAGI_NODE_MODULES is unset and there is no home directory (%v)", err), "or set TSUNAGI_NODE_MODULES"}
		}
		dir = filepath.Join(home, ".cache", "tsunagi", "node", "node_modules")
	}
	var missing []string
	for _, pkg := range []string{"socket.io-client", "socket.io"} {
		if !m.isFile(filepath.Join(dir, pkg, "package.json")) {
			missing = append(missing, pkg)
		}
	}
	switch len(missing) {
	case 0:
		return dir, nil
	case 1:
		return "", &missingError{fmt.Sprintf("npm package %s not found in %s", missing[0], dir), "or set TSUNAGI_NODE_MODULES"}
	}
	return "", &missingError{fmt.Sprintf("npm packages %s not found in %s", strings.Join(missing, " and "), dir), "or set TSUNAGI_NODE_MODULES"}
}

// packageName names the package being tested by its directory under the
// module root ("wasmclient", "internal/interop"): go test runs a test
// binary in its package's directory.
func packageName() string {
	wd, err := os.Getwd()
	if err != nil {
		return "testenv"
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if rel, err := filepath.Rel(dir, wd); err == nil && rel != "." {
				return filepath.ToSlash(rel)
			}
			return filepath.Base(wd)
		}
		if filepath.Dir(dir) == dir {
			return filepath.Base(wd)
		}
	}
}
