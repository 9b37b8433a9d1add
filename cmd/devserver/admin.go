package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tsunagi/tsunagi/server"
	"github.com/tsunagi/tsunagi/server/admin"
)

var (
	adminOn = flag.Bool("admin", false, "add the Admin UI's /admin namespace (development mode, no auth, loopback clients only) and serve the UI on a loopback port")
	adminUI = flag.String("admin-ui", "", "the Admin UI's files (`DIR`, the ui/dist of npm @socket.io/admin-ui); by default looked for under node_modules here and in ~/.cache/tsunagi/node")
)

// startAdmin instruments io for the Admin UI and serves the UI's files on
// a loopback port of their own, printing where to open it.
func startAdmin(io *server.Server) {
	adm, err := admin.Instrument(io, admin.Options{NoAuth: true, Mode: admin.ModeDevelopment})
	if err != nil {
		log.Fatal(err)
	}
	adm.Namespace().Use(loopbackOnly)
	addr := "127.0.0.1:8124"
	if f := flag.Lookup("addr"); f != nil {
		addr = f.Value.String()
	}
	serverURL := "http://" + addr
	dist := findAdminUI(*adminUI)
	if dist == "" {
		log.Printf("Admin UI: namespace /admin on %s (development mode, no auth, loopback only); no ui/dist found (npm install @socket.io/admin-ui, or -admin-ui DIR)", serverURL)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: adminUIHandler(dist, serverURL), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("Admin UI: %v", err)
		}
	}()
	log.Printf("Admin UI: open http://%s/ (server URL %s, namespace /admin, development mode, no auth, loopback only)", ln.Addr(), serverURL)
}

// loopbackOnly refuses admin clients that are not on this machine.
func loopbackOnly(s *server.Socket) error {
	host := s.Handshake().Address
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return errors.New("the admin namespace takes loopback clients only")
}

// findAdminUI is dir, or the first ui/dist of @socket.io/admin-ui found.
func findAdminUI(dir string) string {
	cands := []string{dir}
	if dir == "" {
		cands = []string{"node_modules"}
		if home, err := os.UserHomeDir(); err == nil {
			cands = append(cands, filepath.Join(home, ".cache", "tsunagi", "node", "node_modules"))
		}
		for i, c := range cands {
			cands[i] = filepath.Join(c, "@socket.io", "admin-ui", "ui", "dist")
		}
	}
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(c, "index.html")); err == nil {
			return c
		}
	}
	return ""
}

// adminUIHandler serves dist, with an index.html that fills in the UI's
// connection settings on first use: serverURL, and WebSocket only (the UI
// is on another origin, and its polling requests ask for credentials).
func adminUIHandler(dist, serverURL string) http.Handler {
	files := http.FileServer(http.Dir(dist))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			files.ServeHTTP(w, r)
			return
		}
		page, err := os.ReadFile(filepath.Join(dist, "index.html"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		preset := fmt.Sprintf(`<script>if (!localStorage.getItem("server_url")) {
localStorage.setItem("server_url", %q); localStorage.setItem("namespace", "/admin");
localStorage.setItem("path", "/socket.io"); localStorage.setItem("ws_only", "true"); }</script>`, serverURL)
		if i := bytes.Index(page, []byte("<head>")); i >= 0 && !strings.HasSuffix(serverURL, ":0") {
			page = append(page[:i+len("<head>"):i+len("<head>")], append([]byte(preset), page[i+len("<head>"):]...)...)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
}
