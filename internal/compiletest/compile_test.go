//go:build !js

// Package compiletest checks the promise of shared's typed events that a
// payload or handler of the wrong type does not compile. It writes small
// programs into the module, builds each with the go command and inspects the
// compiler's verdict.
package compiletest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// The declarations of a user's events package, and a few ends to use them on.
const prelude = `package main

import (
	"context"
	"fmt"

	"github.com/tsunagi/tsunagi/shared"
)

type News struct {
	Hello string ` + "`json:\"hello\"`" + `
}

type MyData struct {
	My string ` + "`json:\"my\"`" + `
}

var (
	NewsEvent = shared.NewEvent[News]("news")
	PairEvent = shared.NewEvent2[string, int]("pair")
	Echo      = shared.NewRequest[string, string]("echo")
)

type end struct{ shared.Registry }

func (*end) Emit(event string, args ...any) error { fmt.Println(event, args); return nil }

func (*end) EmitWithAck(ctx context.Context, event string, args ...any) (shared.Args, error) {
	return shared.Args{}, nil
}

var _, _ = context.Background, fmt.Println
`

var programs = []struct {
	name string
	body string // main's body; the line marked "// line" must be the one rejected
	want []string
}{
	{
		name: "right",
		body: `
	e := &end{}
	_ = NewsEvent.Emit(e, News{Hello: "world"})
	NewsEvent.On(e, func(n News) { fmt.Println(n.Hello) })
	NewsEvent.Once(e, func(News) {})
	_ = PairEvent.Emit(e, "a", 1)
	PairEvent.On(e, func(a string, b int) {})
	Echo.Handle(e, func(s string) (string, error) { return s, nil })
	var reply string
	reply, _ = Echo.Call(context.Background(), e, "hi")
	_ = reply
`,
	},
	{
		name: "wrong_payload",
		body: `
	e := &end{}
	_ = NewsEvent.Emit(e, MyData{My: "data"}) // line
`,
		want: []string{"cannot use", "MyData", "as News value in argument to NewsEvent.Emit"},
	},
	{
		name: "wrong_handler",
		body: `
	e := &end{}
	NewsEvent.On(e, func(d MyData) { fmt.Println(d.My) }) // line
`,
		want: []string{"cannot use", "func(d MyData)", "as func(News) value in argument to NewsEvent.On"},
	},
	{
		name: "wrong_request_handler",
		body: `
	e := &end{}
	Echo.Handle(e, func(n int) (string, error) { return "", nil }) // line
`,
		want: []string{"cannot use", "func(n int) (string, error)", "as func(string) (string, error) value in argument to Echo.Handle"},
	},
	{
		name: "wrong_second_argument",
		body: `
	e := &end{}
	_ = PairEvent.Emit(e, "a", "b") // line
`,
		want: []string{"cannot use", `"b"`, "as int value in argument to PairEvent.Emit"},
	},
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

func goCommand(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatal("go command not found")
	}
	return p
}

func TestTypedEventsCompile(t *testing.T) {
	root := moduleRoot(t)
	goCmd := goCommand(t)
	// A directory inside the module, so the programs import shared from this
	// checkout; testdata keeps it out of ./... patterns.
	base := filepath.Join(root, "internal", "compiletest", "testdata")
	tmp, err := os.MkdirTemp(base, "tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })

	for _, prog := range programs {
		t.Run(prog.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(tmp, prog.name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			src := prelude + "\nfunc main() {" + prog.body + "}\n"
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			rel, err := filepath.Rel(root, dir)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(goCmd, "build", "-o", os.DevNull, "./"+filepath.ToSlash(rel))
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOOS=", "GOARCH=", "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if prog.want == nil {
				if err != nil {
					t.Fatalf("the right program does not build: %v\n%s", err, out)
				}
				return
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			// The error is on the marked line, and names the mismatch.
			line := 1 + strings.Count(src[:strings.Index(src, "// line")], "\n")
			msg := string(out)
			t.Logf("go build:\n%s", msg)
			if !strings.Contains(msg, "main.go:"+strconv.Itoa(line)+":") {
				t.Errorf("no error at main.go:%d:\n%s", line, msg)
			}
			for _, w := range prog.want {
				if !strings.Contains(msg, w) {
					t.Errorf("compiler output does not mention %q:\n%s", w, msg)
				}
			}
			if strings.Count(msg, "main.go:") != 1 {
				t.Errorf("want exactly one error:\n%s", msg)
			}
		})
	}
}
