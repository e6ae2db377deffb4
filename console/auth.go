package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The token: a request carries it as "Authorization: Bearer TOKEN", or
// carries the cookie that the login URL (/login?token=TOKEN, which privagg
// serve prints when it drew the token itself, as Jupyter does) or the login
// form sets. The cookie holds a MAC of the token under a key drawn when the
// console starts (so it is worthless after a restart and never is the token
// itself); it is HttpOnly and SameSite=Strict.

// tokenBytes is the entropy of a token NewToken draws: 192 bits.
const tokenBytes = 24

// NewToken draws a random token (crypto/rand; 48 hex digits) for a console
// started without one.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("console: draw a token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// LoginURL is the URL that signs a browser in to the console at base
// (http://host:port) with token.
func LoginURL(base, token string) string {
	return strings.TrimSuffix(base, "/") + "/login?" + url.Values{"token": {token}}.Encode()
}

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

// BearerOK reports whether the Authorization value authorization is
// "Bearer TOKEN" with token (the scheme's case aside), comparing in constant
// time. The console and the Flight SQL endpoint of privagg serve both check
// their requests with it.
func BearerOK(authorization, token string) bool {
	scheme, tok, ok := strings.Cut(authorization, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && equal(strings.TrimSpace(tok), token)
}

// authorized reports whether r may read the console.
func (s *Server) authorized(r *http.Request) bool {
	if h := r.Header.Get("Authorization"); h != "" {
		return BearerOK(h, s.cfg.Token)
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return equal(c.Value, s.session)
	}
	return false
}

// unauthorized answers a request without a valid token: a request to the
// JSON API or a program that sent a bearer token gets 401; a browser is sent
// to the login form.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, APIPrefix) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="privagg"`)
		writeAPIError(w, r, http.StatusUnauthorized, "send the console's token as \"Authorization: Bearer TOKEN\"")
		return
	}
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

// login checks the token of the login URL (GET /login?token=TOKEN), shows
// the login form (GET without a token) and checks the token typed into it
// (POST): right, it sets the cookie and sends the browser on (to next, else
// /); wrong, 401 and the form again.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if r.Method != http.MethodPost {
		if q := r.URL.Query(); q.Has("token") {
			s.signIn(w, r, q.Get("token"), next)
			return
		}
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
	s.signIn(w, r, r.PostForm.Get("token"), safeNext(r.PostForm.Get("next")))
}

// signIn checks token: right, it sets the session cookie and redirects to
// next; wrong, 401 and the login form.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, token, next string) {
	if !equal(token, s.cfg.Token) {
		s.cfg.Logger.Warn("console: wrong token in a login", "remote", r.RemoteAddr)
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
