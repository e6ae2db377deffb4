package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
)

// The token: a request carries it as "Authorization: Bearer TOKEN", or
// carries the cookie the login form sets once the token was typed into it.
// The cookie holds a MAC of the token under a key drawn when the console
// starts (so it is worthless after a restart and never is the token itself);
// it is HttpOnly and SameSite=Strict.

// CookieName is the login cookie's name.
const CookieName = "privagg_console"

// maxLoginBody bounds the login form's body.
const maxLoginBody = 4 << 10

func sessionValue(key []byte, token string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("privagg serve session\x00" + token))
	return hex.EncodeToString(m.Sum(nil))
}

// equal compares two secrets in constant time (their SHA-256, so that not
// even their lengths leak).
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// authorized reports whether r may read the console.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && equal(strings.TrimSpace(tok), s.cfg.Token)
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return equal(c.Value, s.session)
	}
	return false
}

// unauthorized answers a request without a valid token: a program that sent
// a bearer token gets 401; a browser is sent to the login form.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="privagg"`)
		s.fail(w, r, http.StatusUnauthorized, "The token is not valid.", nil)
		return
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// loginView is the login form's data.
type loginView struct {
	Next    string
	Problem string
}

// login shows the login form (GET) and checks the token typed into it
// (POST): right, it sets the cookie and sends the browser on; wrong, 401
// and the form again.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if s.cfg.Token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if r.Method != http.MethodPost {
		s.render(w, r, http.StatusOK, "login.html", s.newPage("Sign in", "", loginView{Next: next}))
		return
	}
	// The form posts to its own origin; a page elsewhere may not post it.
	if o := r.Header.Get("Origin"); o != "" && o != "null" && !sameOrigin(o, r) {
		s.fail(w, r, http.StatusForbidden, "The login form must be sent from this console's own page.", nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "The login form could not be read.", nil)
		return
	}
	next = safeNext(r.PostForm.Get("next"))
	if !equal(r.PostForm.Get("token"), s.cfg.Token) {
		s.cfg.Logger.Warn("console: wrong token in the login form", "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, "login.html", s.newPage("Sign in", "", loginView{Next: next, Problem: "That token is not valid."}))
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: s.session, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// sameOrigin reports whether the Origin header origin is the console's own.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host == r.Host
}

// safeNext keeps a redirect target inside the console: a path, never a
// scheme, another host or a scheme-relative //host.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "/login" {
		return "/"
	}
	return next
}
