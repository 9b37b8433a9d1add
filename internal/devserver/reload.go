package devserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"log"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// The live reload endpoints: the WebSocket that pages keep open, and the
// script, added to every HTML page served, that opens it.
const (
	reloadPath   = "/_tsunagi/reload"
	reloadScript = "/_tsunagi/reload.js"
)

//go:embed reload.js
var reloadJS []byte

// reloader tells the open pages to reload, and shows them the build errors.
// It is the hub of their WebSockets: one writer goroutine per page, fed by
// a small queue; a page too slow to take its messages is disconnected, and
// catches up when it reconnects (its hello names the version to be at).
type reloader struct {
	instance string // differs after a restart of the devserver

	mu      sync.Mutex
	gen     int               // pages reloaded so far
	errs    map[string]string // build errors, by what failed to build
	pages   map[*page]struct{}
	stopped bool
}

type page struct {
	send chan []byte
	conn *websocket.Conn
}

func newReloader() *reloader {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &reloader{instance: hex.EncodeToString(b[:]), errs: map[string]string{}, pages: map[*page]struct{}{}}
}

// message is what a page is told.
type message struct {
	Type  string `json:"type"` // hello, reload, error, ok
	V     string `json:"v,omitempty"`
	Error string `json:"error,omitempty"`
}

// version names what the pages served now show, under r.mu.
func (r *reloader) version() string { return fmt.Sprintf("%s-%d", r.instance, r.gen) }

// errorText is every build error, under r.mu.
func (r *reloader) errorText() string {
	keys := make([]string, 0, len(r.errs))
	for k := range r.errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(r.errs[k])
	}
	return b.String()
}

// Reload tells every open page to reload, and returns how many there were.
func (r *reloader) Reload() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	return r.broadcast(message{Type: "reload"})
}

// Failed shows the output of the failed build of what in every page, until
// Fixed(what).
func (r *reloader) Failed(what, output string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs[what] = output
	r.broadcast(message{Type: "error", Error: r.errorText()})
}

// Fixed clears the error of what; the overlay goes when no error is left.
func (r *reloader) Fixed(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.errs[what]; !ok {
		return
	}
	delete(r.errs, what)
	if len(r.errs) == 0 {
		r.broadcast(message{Type: "ok"})
	} else {
		r.broadcast(message{Type: "error", Error: r.errorText()})
	}
}

// broadcast queues m for every page, under r.mu, and returns their count.
func (r *reloader) broadcast(m message) int {
	b, _ := json.Marshal(m)
	for p := range r.pages {
		select {
		case p.send <- b:
		default: // too far behind: it reconnects and catches up
			delete(r.pages, p)
			close(p.send)
		}
	}
	return len(r.pages)
}

// Stop closes every page's connection (the pages reconnect to the next
// devserver) and refuses new ones.
func (r *reloader) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for p := range r.pages {
		delete(r.pages, p)
		close(p.send)
	}
}

// ServeHTTP is the WebSocket at reloadPath. Like the Socket.IO endpoint, it
// takes pages of loopback origins only; and the Host must be loopback or an
// IP address, which a DNS rebinding attack cannot give (Vite's fix of
// CVE-2025-24010 checks the same).
func (r *reloader) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !devHost(req.Host) {
		http.Error(w, "devserver: the reload endpoint answers loopback hosts only", http.StatusForbidden)
		return
	}
	conn, err := websocket.Accept(w, req, &websocket.AcceptOptions{OriginPatterns: LoopbackOrigins})
	if err != nil {
		return // Accept has answered
	}
	p := &page{send: make(chan []byte, 16), conn: conn}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		conn.Close(websocket.StatusGoingAway, "devserver stopping")
		return
	}
	hello, _ := json.Marshal(message{Type: "hello", V: r.version(), Error: r.errorText()})
	p.send <- hello
	r.pages[p] = struct{}{}
	r.mu.Unlock()

	ctx := conn.CloseRead(context.Background()) // ends when the page goes
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case b, ok := <-p.send:
			if !ok {
				conn.Close(websocket.StatusGoingAway, "")
				return
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				r.drop(p)
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				r.drop(p)
				return
			}
		case <-ctx.Done():
			r.drop(p)
			return
		}
	}
}

func (r *reloader) drop(p *page) {
	r.mu.Lock()
	if _, ok := r.pages[p]; ok {
		delete(r.pages, p)
		close(p.send)
	}
	r.mu.Unlock()
	p.conn.CloseNow()
}

// devHost reports whether a Host header names this machine by loopback
// name (localhost, *.localhost) or by an IP address.
func devHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host) != nil
}

// scriptTag is the tag added to HTML pages.
func (r *reloader) scriptTag() []byte {
	r.mu.Lock()
	v := r.version()
	r.mu.Unlock()
	return []byte(`<script src="` + reloadScript + `" data-v="` + html.EscapeString(v) + `"></script>`)
}

// inject adds the reload script to an HTML document: before its last
// </body>, or at its end when it has none.
func (r *reloader) inject(doc []byte) []byte {
	tag := r.scriptTag()
	i := bytes.LastIndex(bytes.ToLower(doc), []byte("</body"))
	if i < 0 {
		return append(doc[:len(doc):len(doc)], tag...)
	}
	out := make([]byte, 0, len(doc)+len(tag))
	out = append(out, doc[:i]...)
	out = append(out, tag...)
	return append(out, doc[i:]...)
}

// handle registers the endpoint and its script on mux.
func (r *reloader) handle(mux *http.ServeMux) {
	mux.Handle("GET "+reloadPath, r)
	mux.HandleFunc("GET "+reloadScript, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(reloadJS)
	})
}

// htmlPages serves the HTML pages of dir with the reload script added, and
// passes every other request to next. A page is a path ending in / (its
// index.html) or in .html or .htm, other than index.html itself (which the
// file server redirects to its folder).
func (r *reloader) htmlPages(dir string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		name := htmlPage(dir, req.URL.Path)
		if name == "" || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
			next.ServeHTTP(w, req)
			return
		}
		doc, err := os.ReadFile(name)
		if err != nil {
			next.ServeHTTP(w, req)
			return
		}
		doc = r.inject(doc)
		sum := sha256.Sum256(doc)
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(doc))
	})
}

// htmlPage is the file of dir that urlPath names when it is an HTML page
// there, else "".
func htmlPage(dir, urlPath string) string {
	p := path.Clean("/" + urlPath)
	switch {
	case strings.HasSuffix(urlPath, "/"):
		p = path.Join(p, "index.html")
	case path.Base(p) == "index.html":
		return ""
	case path.Ext(p) != ".html" && path.Ext(p) != ".htm":
		return ""
	}
	name := filepath.Join(dir, filepath.FromSlash(p))
	if fi, err := os.Stat(name); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return name
}

// logReload says in the terminal what was reloaded.
func logReload(why string, pages int) {
	switch pages {
	case 0:
		log.Printf("%s: no page open to reload", why)
	case 1:
		log.Printf("%s: reloading 1 page", why)
	default:
		log.Printf("%s: reloading %d pages", why, pages)
	}
}
