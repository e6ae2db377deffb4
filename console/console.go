// Package console is `privagg serve`: a read-only web console for privacy
// officers and analysts.
//
// It has three pages: the datasets (budget bars and a chart of the spend
// over time per dataset and period; officers only), the releases (each with
// its report, its tables with 95% confidence-interval error bars, and
// download links for the files its manifests list) and a what-if page that
// shows, for the job files of a folder and the epsilons the user picks, the
// expected error per metric and the chance of release (explain.Explain; it
// reads no data).
//
// An officer's console reads a ledger, opened read-only, and its release
// store; an analyst's reads published folders only (no ledger, no internal
// counts). The exact, non-private counts of the release reports are shown
// only when Config.Internal is set. Nothing is ever written: every route is
// GET (HEAD) only, except the login form's POST.
//
// Every page is rendered on the server with html/template; the stylesheet is
// embedded and charts are inline SVG, so the console needs no network and
// runs no script. Responses carry a Content-Security-Policy of
// default-src 'self', X-Content-Type-Options: nosniff and no-store caching.
// Every request needs Config.Token: as a bearer header, or through the login
// URL (/login?token=...) or the login form, which set an HttpOnly,
// SameSite=Strict cookie. NewToken draws one for a console started without.
package console

import (
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/privagg/privagg/privacy"
)

//go:embed assets/style.css templates/*.html
var assets embed.FS

// Mode is who the console is for.
type Mode string

// The console's modes.
const (
	// ModeOfficer reads a ledger (read-only) and its release store.
	ModeOfficer Mode = "officer"
	// ModeAnalyst reads published folders only.
	ModeAnalyst Mode = "analyst"
)

// MinTokenLength is the shortest token New accepts.
const MinTokenLength = 16

// Config says what a console reads and who may read it.
type Config struct {
	// LedgerPath is the ledger of an officer's console; it is opened
	// read-only. Exactly one of LedgerPath and Published is set.
	LedgerPath string
	// Published are the published folders of an analyst's console.
	Published []string
	// JobsDir is the folder of job files for the what-if page; empty: the
	// page says how to give one.
	JobsDir string
	// Internal shows the exact, non-private counts of the release reports
	// (officer mode only).
	Internal bool
	// Token is required on every request but the login form's and the
	// stylesheet's; at least MinTokenLength characters. Required: on a
	// shared machine loopback is every local account's (NewToken draws one).
	Token string
	// Loopback says the console listens on a loopback address only: it then
	// answers only requests addressed to a loopback name, so that a page
	// elsewhere cannot reach it by pointing a name of its own at 127.0.0.1
	// (DNS rebinding).
	Loopback bool
	// Logger receives the errors of requests; nil discards them.
	Logger *slog.Logger
	// Now is the clock of the charts; nil is time.Now.
	Now func() time.Time
}

// Server is the console's http.Handler.
type Server struct {
	cfg     Config
	mode    Mode
	led     *privacy.Ledger
	mux     *http.ServeMux
	pages   map[string]*template.Template
	style   []byte
	session string // the login cookie's value: a MAC of the token under a per-process key
}

// New checks cfg, opens the ledger read-only (officer mode) and returns the
// console.
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, mode: ModeOfficer}
	switch {
	case cfg.LedgerPath != "" && len(cfg.Published) > 0:
		return nil, errors.New("console: a ledger or published folders, not both")
	case cfg.LedgerPath == "" && len(cfg.Published) == 0:
		return nil, errors.New("console: a ledger (officer) or published folders (analyst) to read")
	case len(cfg.Published) > 0:
		s.mode = ModeAnalyst
		if cfg.Internal {
			return nil, errors.New("console: internal counts are in the ledger's release store: an analyst's console (published folders) has none")
		}
	}
	if len(cfg.Token) < MinTokenLength {
		return nil, fmt.Errorf("console: token: has %d characters, want at least %d (NewToken draws one)", len(cfg.Token), MinTokenLength)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.Logger == nil {
		s.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.JobsDir != "" {
		st, err := os.Lstat(cfg.JobsDir)
		if err != nil {
			return nil, fmt.Errorf("console: jobs folder: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("console: jobs folder %s: is not a folder (symlinks are refused)", cfg.JobsDir)
		}
		if s.cfg.JobsDir, err = filepath.Abs(cfg.JobsDir); err != nil {
			return nil, fmt.Errorf("console: jobs folder: %w", err)
		}
	}
	if s.mode == ModeOfficer {
		led, err := privacy.OpenLedger(cfg.LedgerPath, privacy.WithReadOnly())
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		s.led = led
	}
	var err error
	if s.style, err = assets.ReadFile("assets/style.css"); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("console: session key: %w", err)
	}
	s.session = sessionValue(key, cfg.Token)
	s.routes()
	return s, nil
}

// Mode is who the console is for.
func (s *Server) Mode() Mode { return s.mode }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.home)
	m.HandleFunc("GET /datasets", s.datasets)
	m.HandleFunc("GET /releases", s.releases)
	m.HandleFunc("GET /releases/{id}", s.release)
	m.HandleFunc("GET /releases/{id}/report", s.report)
	m.HandleFunc("GET /releases/{id}/files/{name}", s.download)
	m.HandleFunc("GET /releases/{id}/tables/{name}", s.tableRoute)
	m.HandleFunc("GET /whatif", s.whatIf)
	s.apiRoutes(m)
	m.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "There is no page at this address.", nil)
	})
	s.mux = m
}

// The headers of every response. Pages load only the console's stylesheet;
// no script runs, nothing is framed, no referrer leaves.
const pageCSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// ServeHTTP applies the console's rules (security headers, read-only
// methods, the loopback host check, the token) and routes the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if s.cfg.Loopback && !LoopbackHost(r.Host) {
		// A console on loopback answers only requests made to a loopback
		// name: a page elsewhere that points a name of its own at
		// 127.0.0.1 (DNS rebinding) cannot even reach its login form.
		s.fail(w, r, http.StatusMisdirectedRequest, "This console answers only at 127.0.0.1, [::1] or localhost.", nil)
		return
	}
	login := r.URL.Path == "/login"
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
	case r.Method == http.MethodPost && login:
	default:
		allow := "GET, HEAD"
		if login {
			allow += ", POST"
		}
		w.Header().Set("Allow", allow)
		s.fail(w, r, http.StatusMethodNotAllowed, "The console only reads: "+r.Method+" is not allowed here.", nil)
		return
	}
	switch {
	case r.URL.Path == "/static/style.css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(s.style)
		return
	case login:
		s.login(w, r)
		return
	case !s.authorized(r):
		s.unauthorized(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// LoopbackHost reports whether host (a Host header or a gRPC :authority,
// with or without a port) names this machine's loopback interface.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback reports whether the listen address addr (host:port) binds only
// the loopback interface: a loopback IP (127.0.0.0/8, ::1) or localhost. An
// empty host (all interfaces) is not.
func IsLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if s.mode == ModeAnalyst {
		s.releases(w, r)
		return
	}
	s.datasets(w, r)
}

// page is what every template gets.
type page struct {
	Title    string
	Nav      string // the current section: datasets | releases | whatif
	Mode     Mode
	Officer  bool
	Internal bool
	Source   string // what the console reads
	Data     any
}

func (s *Server) newPage(title, nav string, data any) page {
	src := "ledger " + s.cfg.LedgerPath
	if s.mode == ModeAnalyst {
		src = "published folders " + strings.Join(s.cfg.Published, ", ")
	}
	return page{Title: title, Nav: nav, Mode: s.mode, Officer: s.mode == ModeOfficer, Internal: s.cfg.Internal, Source: src, Data: data}
}

// render writes a page with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t := s.pages[name]
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.cfg.Logger.Error("console: render", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(buf.String()))
	}
}

// errorView is the error page's data.
type errorView struct {
	Status  int
	Text    string
	Message string
}

// fail shows an error page; err, if any, is logged, and shown only when it
// is not an internal failure.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	if err != nil {
		s.cfg.Logger.Error("console: request failed", "path", r.URL.Path, "status", status, "err", err)
		msg += " " + publicError(err)
	}
	s.render(w, r, status, "error.html", s.newPage(http.StatusText(status), "", errorView{Status: status, Text: http.StatusText(status), Message: msg}))
}

// publicError is what a page says about err. The console's users may read
// what it reads, so the error (a ledger, catalog or permission error naming
// the file and the fix) is shown as it is.
func publicError(err error) string { return err.Error() }
