//go:build unix

// Package walkthrough runs the README's "your own app" walkthrough as
// written: every code block marked with an HTML comment
//
//	<!-- walkthrough: file PATH -->   a file to write (a later one replaces it)
//	<!-- walkthrough: run -->         shell commands to run, in order
//	<!-- walkthrough: dev -->         the development command, run until the page works, then stopped
//	<!-- walkthrough: serve -->       the production binary, started and driven from Chromium
//
// in a temporary module that reaches this checkout through a replace, with
// the module cache only (GOPROXY=off): no network.
package walkthrough

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tsunagi/tsunagi/internal/leak"
	"github.com/tsunagi/tsunagi/internal/testenv"
	"github.com/tsunagi/tsunagi/internal/wait"
)

func TestMain(m *testing.M) {
	testenv.Require(testenv.NeedChromium)
	leak.VerifyTestMain(m)
}

// step is one marked code block of the README.
type step struct {
	kind, arg string // "file" and its path, "run", "dev", "serve"
	body      string
	line      int // of the marker, for messages
}

var marker = regexp.MustCompile(`^<!-- walkthrough: (file|run|dev|serve)(?: (\S+))? -->$`)

// steps reads the marked blocks of README, in order. A marker must be
// followed at once by a fenced block.
func steps(t *testing.T, readme []byte) []step {
	t.Helper()
	var out []step
	sc := bufio.NewScanner(bytes.NewReader(readme))
	n := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		n++
		return sc.Text(), true
	}
	for {
		line, ok := next()
		if !ok {
			break
		}
		m := marker.FindStringSubmatch(line)
		if m == nil {
			if strings.Contains(line, "walkthrough:") {
				t.Fatalf("README.md:%d: malformed marker %q", n, line)
			}
			continue
		}
		s := step{kind: m[1], arg: m[2], line: n}
		if (s.kind == "file") != (s.arg != "") {
			t.Fatalf("README.md:%d: %q: a file marker names a path, the others nothing", n, line)
		}
		fence, ok := next()
		if !ok || !strings.HasPrefix(fence, "```") {
			t.Fatalf("README.md:%d: a walkthrough marker must be followed by a fenced block", n)
		}
		var body strings.Builder
		for {
			l, ok := next()
			if !ok {
				t.Fatalf("README.md:%d: unclosed block", s.line)
			}
			if l == "```" {
				break
			}
			body.WriteString(l + "\n")
		}
		s.body = body.String()
		out = append(out, s)
	}
	return out
}

// The README tells a user to fetch the module; here it is this checkout.
const getLine = "go get github.com/tsunagi/tsunagi@latest"

// TestWalkthrough runs the walkthrough: a new module, its files, the
// devserver with -run serving the app in Chromium, the production build
// (-build -pkg), the production binary built and started, and Chromium on
// its page: the page gets the server's greeting and the server gets the
// page's answer, with client.wasm loaded under its content-hashed name.
func TestWalkthrough(t *testing.T) {
	root := testenv.ModuleRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	all := steps(t, readme)
	count := map[string]int{}
	for _, s := range all {
		count[s.kind]++
	}
	if count["file"] < 6 || count["run"] < 3 || count["dev"] != 1 || count["serve"] != 1 || all[len(all)-1].kind != "serve" {
		t.Fatalf("the README's walkthrough has %v marked blocks, ending with %q: want its files, commands, one dev and a last serve", count, all[len(all)-1].kind)
	}

	env := goEnv(t)
	base := t.TempDir()
	cwd := base
	ctx, cancel := context.WithTimeout(context.Background(), 3*testenv.BuildDeadline())
	defer cancel()
	sh := func(what, script string) {
		t.Helper()
		pwdFile := filepath.Join(base, ".pwd")
		cmd := exec.CommandContext(ctx, "sh", "-c", "set -e\n"+script+"\npwd > "+pwdFile)
		cmd.Dir = cwd
		cmd.Env = env
		cmd.WaitDelay = wait.Deadline()
		out, err := cmd.CombinedOutput()
		t.Logf("%s:\n%s%s", what, script, out)
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		b, err := os.ReadFile(pwdFile)
		if err != nil {
			t.Fatal(err)
		}
		cwd = strings.TrimSpace(string(b))
	}
	var serve step
	for _, s := range all {
		what := "README.md:" + strconv.Itoa(s.line) + " (" + s.kind + ")"
		switch s.kind {
		case "file":
			p := filepath.Join(cwd, filepath.FromSlash(s.arg))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(s.body), 0o644); err != nil {
				t.Fatal(err)
			}
		case "run":
			script := s.body
			// The module from this checkout, and the sums of its
			// dependencies (which go get would have written).
			script = strings.Replace(script, getLine,
				"go mod edit -require=github.com/tsunagi/tsunagi@v0.0.0 -replace=github.com/tsunagi/tsunagi="+shellQuote(root)+
					"\ncp "+shellQuote(filepath.Join(root, "go.sum"))+" go.sum", 1)
			sh(what, script)
		case "dev":
			line := strings.TrimSpace(s.body)
			if !strings.HasPrefix(line, "go run github.com/tsunagi/tsunagi/cmd/devserver ") || strings.Contains(line, "\n") {
				t.Fatalf("%s: %q is not one devserver command", what, s.body)
			}
			sh(what+": go vet of what it builds", "go vet ./...\nGOOS=js GOARCH=wasm go vet ./client")
			dev(t, ctx, line, cwd, env)
		case "serve":
			serve = s
		}
	}

	// The production binary, alone: from another directory, so that it
	// serves what it embeds and nothing from the module's folders.
	line := strings.TrimSpace(strings.SplitN(serve.body, "#", 2)[0])
	args := strings.Fields(line)
	if len(args) != 1 || !strings.HasPrefix(args[0], "./") {
		t.Fatalf("README.md:%d: serve %q: want ./binary", serve.line, line)
	}
	bin := filepath.Join(cwd, args[0])
	if err := os.RemoveAll(filepath.Join(cwd, "dist")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cwd, "web")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	cmd.Dir = t.TempDir()
	cmd.Env = env
	p := testenv.Start(t, cmd)
	url := p.WaitOutput(t, wait.Deadline(), `listening on (http://127\.0\.0\.1:\d+/)`)[1]

	// What the page loads, as a browser asks for it.
	res, err := http.Get(url + "socket.io/socket.io.js")
	if err != nil {
		t.Fatal(err)
	}
	loader := new(bytes.Buffer)
	loader.ReadFrom(res.Body)
	res.Body.Close()
	hashed := regexp.MustCompile(`"client\.wasm":"(client\.[0-9a-f]{16}\.wasm)"`).FindStringSubmatch(loader.String())
	if res.StatusCode != 200 || hashed == nil {
		t.Fatalf("the served loader (%s) does not name a content-hashed client.wasm", res.Status)
	}
	req, _ := http.NewRequest("HEAD", url+hashed[1], nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if h := res.Header; res.StatusCode != 200 || h.Get("Content-Type") != "application/wasm" || h.Get("Content-Encoding") != "br" ||
		h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("ETag") == "" {
		t.Fatalf("HEAD %s: %s %v", hashed[1], res.Status, res.Header)
	}

	browser := testenv.NewBrowser(t)
	bctx, bcancel := context.WithTimeout(browser, 2*wait.Deadline())
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	greeted(t, bctx, p)
	testenv.WaitJS(t, bctx, "client.wasm loaded under its hashed name",
		`performance.getEntriesByType("resource").map(e => new URL(e.name).pathname)`,
		`names => names.includes("/`+hashed[1]+`")`)
}

// dev runs the development command as written, on a free port, until the
// page it serves has the server's greeting and the server (run by the
// devserver with -run) has the page's answer; then stops it with SIGINT,
// as Ctrl-C would, and checks that it ends gracefully.
func dev(t *testing.T, ctx context.Context, line, dir string, env []string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "sh", "-c", "exec "+line+" -addr 127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = env
	p := testenv.Start(t, cmd)
	// The devserver's line, not the one of the server it runs (which its
	// output shows too, after "[.] ").
	url := p.WaitOutput(t, testenv.BuildDeadline(), `(?m)^[\d:]+ listening on (http://127\.0\.0\.1:\d+/)`)[1]
	tab, cancel := context.WithTimeout(testenv.NewBrowser(t), testenv.BuildDeadline())
	defer cancel()
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	greeted(t, tab, p)
	// The whole group: go run and the devserver it started.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// go run, interrupted too, exits 1 however its program ended: the
	// devserver's goodbye says that it ended gracefully.
	err := p.WaitExit(t, "SIGINT")
	if !strings.HasSuffix(p.Output(), "bye\n") {
		t.Fatalf("the devserver did not end gracefully after SIGINT (%v)", err)
	}
}

// greeted waits until the page of tab shows the server's greeting and the
// server's output p says it got the page's answer.
func greeted(t *testing.T, tab context.Context, p *testenv.Process) {
	t.Helper()
	testenv.WaitJS(t, tab, "the server's greeting on the page",
		`({status: document.getElementById("status").textContent, greeting: document.getElementById("greeting").textContent})`,
		`s => s.greeting === "hello from the server"`)
	p.WaitOutput(t, wait.Deadline(), `\S+ answered: hello from Go in the browser`)
}

// goEnv is the environment of the walkthrough's commands: the host's, the
// module cache only, the module's go.mod updated as needed.
func goEnv(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOFLAGS").Output()
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOOS", "GOARCH", "GOFLAGS", "GOPROXY", "GOWORK", "GOTOOLCHAIN":
		default:
			env = append(env, kv)
		}
	}
	return append(env,
		"GOFLAGS="+strings.TrimSpace(strings.TrimSpace(string(out))+" -mod=mod"),
		"GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
