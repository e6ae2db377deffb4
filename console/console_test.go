package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/privagg/privagg/release"
)

const testToken = "s3cret-token-for-tests"

func TestOfficerPages(t *testing.T) {
	fx := demo(t)
	s := officer(t, false)
	if s.Mode() != ModeOfficer {
		t.Fatalf("mode %s, want officer", s.Mode())
	}
	doc, b := getPage(t, s, "/")
	for _, want := range []string{"web_events", "crm_events", "r-web-csv", "r-web-parquet", "r-crm", "per calendar month", "Budget changes"} {
		if !strings.Contains(b, want) {
			t.Errorf("datasets page lacks %q", want)
		}
	}
	bars := findAll(doc, func(n *html.Node) bool { c, _ := attr(n, "class"); return n.Data == "svg" && c == "budget" })
	if len(bars) != 4 {
		t.Errorf("datasets page has %d budget bars, want 4 (epsilon and delta of 2 datasets)", len(bars))
	}
	// web_events spent 2 of 10: the spent bar is a fifth of the bar.
	spent := findAll(bars[2], func(n *html.Node) bool { c, _ := attr(n, "class"); return c == "bar-spent" })
	if w, _ := attr(spent[0], "width"); len(bars) == 4 && w != "72" {
		t.Errorf("web_events epsilon bar: spent width %s, want 72 (2 of 10 of 360 px)", w)
	}
	charts := findAll(doc, func(n *html.Node) bool { c, _ := attr(n, "class"); return n.Data == "svg" && c == "spend" })
	if len(charts) != 2 {
		t.Errorf("datasets page has %d spend charts, want 2", len(charts))
	}
	if dots := findAll(charts[1], tag("circle")); len(dots) != 2 {
		t.Errorf("web_events chart has %d release dots, want 2", len(dots))
	}

	_, b = getPage(t, s, "/releases")
	for _, id := range fx.ids {
		if !strings.Contains(b, `href="/releases/`+id+`"`) {
			t.Errorf("releases page lacks a link to %s", id)
		}
	}

	doc, b = getPage(t, s, "/releases/r-web-csv")
	for _, want := range []string{"by_channel_csv", "Open the release report", "/releases/r-web-csv/files/by_channel_csv.csv", "/releases/r-web-csv/files/by_channel_csv.manifest.json", "cmp_a"} {
		if !strings.Contains(b, want) {
			t.Errorf("release page lacks %q", want)
		}
	}
	if bars := findAll(doc, func(n *html.Node) bool { c, _ := attr(n, "class"); return c == "errbar" }); len(bars) != 4*4 {
		t.Errorf("release page has %d error bars, want 16 (4 rows x 4 metrics)", len(bars))
	}
	// Alice (2 events, clamped to 3) and Bob: cmp_a/email has 3 events, 2 people, revenue 320.
	row := findAll(doc, func(n *html.Node) bool { return n.Data == "tr" && strings.HasPrefix(text(n), "cmp_a email") })
	if len(row) != 1 || !strings.Contains(text(row[0]), "3 ±0") || !strings.Contains(text(row[0]), "320 ±0") {
		t.Errorf("row cmp_a/email: %v", func() string {
			if len(row) == 0 {
				return "missing"
			}
			return text(row[0])
		}())
	}
	// The duckdb release of the other dataset reads too.
	_, b = getPage(t, s, "/releases/r-crm")
	// Its revenue max is auto: the page says what the bounds were and
	// what each interval covers.
	for _, want := range []string{">europe<", ">americas<", ">asia<", "releases.duckdb", "Contribution bounds: L0 = 1;", "max", "(auto)", "CI covers"} {
		if !strings.Contains(b, want) {
			t.Errorf("r-crm page lacks %q", want)
		}
	}
}

func TestInternalCountsOnlyWithInternal(t *testing.T) {
	fx := demo(t)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(fx.ledger), "privagg-releases", "r-web-csv", release.ReportJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := release.ReadReleaseReport(data)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Internal.RowsRead != 9 || rep.Internal.RowsExcludedByConsent != 1 {
		t.Fatalf("fixture report: read %d, excluded %d; want 9, 1", rep.Internal.RowsRead, rep.Internal.RowsExcludedByConsent)
	}

	hidden := officer(t, false)
	doc, b := getPage(t, hidden, "/releases/r-web-csv")
	if strings.Contains(b, "INTERNAL") || strings.Contains(b, "data-internal") || len(findAll(doc, func(n *html.Node) bool { id, _ := attr(n, "id"); return id == "internal" })) > 0 {
		t.Errorf("release page without --internal shows internal counts")
	}
	resp := get(t, hidden, "/releases/r-web-csv/report")
	rb := body(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(rb, "r-web-csv") || !strings.Contains(rb, "Privacy budget") {
		t.Fatalf("report without --internal: status %d\n%s", resp.StatusCode, rb)
	}
	if strings.Contains(rb, "INTERNAL") || strings.Contains(rb, `class="internal"`) || strings.Contains(rb, "candidate partitions") {
		t.Errorf("report without --internal shows the internal section")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || strings.Contains(csp, "script") {
		t.Errorf("report CSP %q: want sandbox and no script source", csp)
	}

	shown := officer(t, true)
	doc, b = getPage(t, shown, "/releases/r-web-csv")
	cells := map[string]string{}
	for _, n := range findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-internal"); return ok }) {
		k, _ := attr(n, "data-internal")
		cells[k] = text(n)
	}
	if cells["rows_read"] != "9" || cells["rows_rejected"] != "1" || cells["rows_excluded_by_consent"] != "1" || !strings.Contains(b, "INTERNAL") {
		t.Errorf("release page with --internal: internal cells %v, want read 9, rejected 1, excluded 1", cells)
	}
	rb = body(t, get(t, shown, "/releases/r-web-csv/report"))
	stored, err := os.ReadFile(filepath.Join(filepath.Dir(fx.ledger), "privagg-releases", "r-web-csv", release.ReportHTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if rb != string(stored) {
		t.Errorf("report with --internal is not the stored REPORT.html")
	}
}

func TestAnalystMode(t *testing.T) {
	fx := demo(t)
	s := analyst(t)
	if s.Mode() != ModeAnalyst {
		t.Fatalf("mode %s, want analyst", s.Mode())
	}
	_, b := getPage(t, s, "/")
	for _, id := range fx.ids {
		if !strings.Contains(b, id) {
			t.Errorf("analyst start page lacks release %s", id)
		}
	}
	if strings.Contains(b, `href="/datasets"`) || strings.Contains(b, fx.ledger) || strings.Contains(b, "ledger") && strings.Contains(b, "privagg-ledger.duckdb") {
		t.Errorf("analyst page shows the ledger or the datasets page")
	}
	for _, path := range []string{"/datasets", "/releases/r-web-csv/report"} {
		if resp := get(t, s, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("analyst GET %s: status %d, want 404", path, resp.StatusCode)
		}
	}
	doc, b := getPage(t, s, "/releases/r-web-parquet")
	if !strings.Contains(b, "cmp_a") || strings.Contains(b, "INTERNAL") || strings.Contains(b, "Open the release report") || strings.Contains(b, "Budget charged") {
		t.Errorf("analyst release page: want the table, no report, no internal counts\n%s", b)
	}
	if len(findAll(doc, func(n *html.Node) bool { c, _ := attr(n, "class"); return c == "errbar" })) == 0 {
		t.Errorf("analyst release page has no error bars")
	}
	if _, err := New(Config{Published: fx.published, Internal: true}); err == nil {
		t.Errorf("New: analyst with Internal: want an error")
	}
	if _, err := New(Config{Published: fx.published, LedgerPath: fx.ledger}); err == nil {
		t.Errorf("New: ledger and published folders: want an error")
	}
}

func TestReadOnlyMethods(t *testing.T) {
	s := officer(t, false)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "TRACE"} {
		for _, path := range []string{"/", "/datasets", "/releases/r-web-csv", "/releases/r-web-csv/files/by_channel_csv.csv", "/whatif", "/static/style.css"} {
			resp := do(t, s, m, path, nil)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: status %d, Allow %q; want 405, GET, HEAD", m, path, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
	if resp := do(t, s, http.MethodPut, "/login", nil); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT /login: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp := do(t, s, http.MethodHead, "/releases", nil)
	if resp.StatusCode != http.StatusOK || body(t, resp) != "" {
		t.Errorf("HEAD /releases: status %d, want 200 without a body", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := officer(t, false)
	for _, path := range []string{"/", "/releases", "/releases/r-web-csv", "/whatif", "/static/style.css", "/nowhere", "/static/", "/releases/r-web-csv/files/by_channel_csv.csv"} {
		resp := get(t, s, path)
		b := body(t, resp)
		h := resp.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: headers %v", path, h)
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			low := strings.ToLower(b)
			for _, bad := range []string{"<script", "<style", " style=", "javascript:", "http://", "https://"} {
				if strings.Contains(low, bad) {
					t.Errorf("GET %s: page contains %q (no scripts, inline styles or outside resources)", path, bad)
				}
			}
		}
	}
	// No directory listing: the static folder and the release store are not browsable.
	for _, path := range []string{"/static/", "/static", "/releases/r-web-csv/files/", "/releases/r-web-csv/files"} {
		if resp := get(t, s, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
		}
	}
	// On loopback, only loopback names are answered (DNS rebinding), even
	// with the token.
	for _, h := range [][]string{anonymous, nil} {
		req := get(t, s, "/login", append(h, "Host", "evil.example:8080")...)
		if req.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host evil.example (%q): status %d, want 421", h, req.StatusCode)
		}
	}
}

func TestDownloads(t *testing.T) {
	fx := demo(t)
	s := officer(t, false)
	store := filepath.Join(filepath.Dir(fx.ledger), "privagg-releases", "r-web-parquet")
	for _, name := range []string{"by_channel_parquet.parquet", "by_channel_parquet.manifest.json"} {
		resp := get(t, s, "/releases/r-web-parquet/files/"+name)
		got := body(t, resp)
		want, err := os.ReadFile(filepath.Join(store, name))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || got != string(want) || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("download %s: status %d, %d bytes (want %d), disposition %q", name, resp.StatusCode, len(got), len(want), resp.Header.Get("Content-Disposition"))
		}
	}
	// Only files a manifest lists, by name: nothing else of the store, no path.
	for _, name := range []string{"report.json", "REPORT.html", "job.yaml", "published-files.json", "..", "...",
		url.PathEscape("../../privagg-ledger.duckdb"), url.PathEscape("../r-web-csv/by_channel_csv.csv"), "%2e%2e%2fr-web-csv", url.PathEscape(fx.ledger),
		"by_channel_csv.csv"} {
		resp := get(t, s, "/releases/r-web-parquet/files/"+name)
		if resp.StatusCode == http.StatusOK {
			t.Errorf("download %q: status 200, want a refusal", name)
		}
	}
	for _, path := range []string{"/releases/r-web-parquet/files/../../../ledger/privagg-ledger.duckdb", "/releases/..%2f..%2fledger/files/privagg-ledger.duckdb", "/releases/nope/files/x.csv"} {
		resp := get(t, s, path)
		if b := body(t, resp); resp.StatusCode == http.StatusOK && !strings.Contains(b, "<!DOCTYPE html>") {
			t.Errorf("GET %s: served a file", path)
		}
	}

	// A published folder whose data file was changed: refused (409), since
	// it is not what the manifest describes.
	dir := t.TempDir()
	src := fx.published[0] // out_csv
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue // history/: without it, the top of the folder is read alone
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "by_channel_csv.csv" {
			data = append(data, "cmp_z,email,1,0,1,0,1,0,1,0\n"...)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := newTestServer(t, Config{Published: []string{dir}, Token: testToken})
	if resp := get(t, a, "/releases/r-web-csv/files/by_channel_csv.csv"); resp.StatusCode != http.StatusConflict {
		t.Errorf("download of a changed file: status %d, want 409", resp.StatusCode)
	}
	// A symlink is never followed.
	link := filepath.Join(t.TempDir(), "link.csv")
	if err := os.Symlink(filepath.Join(dir, "by_channel_csv.csv"), link); err != nil {
		t.Fatal(err)
	}
	if f, err := openFile(link); err == nil {
		f.Close()
		t.Errorf("openFile(symlink): no error")
	}
	if f, err := openFile(filepath.Join(filepath.Dir(link), ".", "link.csv")); err == nil {
		f.Close()
		t.Errorf("openFile(symlink): no error")
	}
}

func TestAuth(t *testing.T) {
	fx := demo(t)
	s := newTestServer(t, Config{LedgerPath: fx.ledger, Token: testToken})
	// No credentials: a browser goes to the login form.
	resp := get(t, s, "/releases?x=1", anonymous...)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?next="+url.QueryEscape("/releases?x=1") {
		t.Fatalf("no token: status %d, Location %q", resp.StatusCode, loc)
	}
	// The stylesheet and the login form need none.
	for _, path := range []string{"/static/style.css", "/login"} {
		if resp := get(t, s, path, anonymous...); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: status %d", path, resp.StatusCode)
		}
	}
	// Bearer tokens.
	for _, h := range []string{"Bearer wrong-token-of-some-length", "Bearer " + testToken + "x", "Basic " + testToken, testToken, "Bearer"} {
		resp := get(t, s, "/releases", "Authorization", h)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: status %d, want 401 with WWW-Authenticate", h, resp.StatusCode)
		}
	}
	if resp := get(t, s, "/releases", "Authorization", "Bearer "+testToken); resp.StatusCode != http.StatusOK {
		t.Errorf("right bearer token: status %d", resp.StatusCode)
	}
	// A token makes any Host acceptable (the token is the check).
	if resp := get(t, s, "/releases", "Authorization", "Bearer "+testToken, "Host", "console.example:8080"); resp.StatusCode != http.StatusOK {
		t.Errorf("right bearer token, other host: status %d", resp.StatusCode)
	}

	// The login form.
	form := func(token, next string, header ...string) *http.Response {
		v := url.Values{"token": {token}, "next": {next}}
		h := append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)
		return do(t, s, http.MethodPost, "/login", strings.NewReader(v.Encode()), h...)
	}
	if resp := form("wrong", "/releases"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("login with a wrong token: status %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp := form(testToken, "/releases", "Origin", "http://evil.example"); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("login posted from another origin: status %d", resp.StatusCode)
	}
	resp = form(testToken, "//evil.example/x", "Origin", "http://127.0.0.1:8080")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("login with next //evil.example: status %d, Location %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = form(testToken, "/releases/r-web-csv")
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/releases/r-web-csv" || len(cookies) != 1 {
		t.Fatalf("login: status %d, Location %q, cookies %v", resp.StatusCode, resp.Header.Get("Location"), cookies)
	}
	c := cookies[0]
	if c.Name != CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Value == testToken || strings.Contains(c.Value, testToken) {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, not the token", c)
	}
	if resp := get(t, s, "/releases/r-web-csv", "Cookie", c.Name+"="+c.Value); resp.StatusCode != http.StatusOK {
		t.Errorf("with the login cookie: status %d", resp.StatusCode)
	}
	if resp := get(t, s, "/releases", "Cookie", c.Name+"="+testToken); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("with the token as cookie: status %d, want 303 to the login form", resp.StatusCode)
	}
	// Another console (another key) does not take this one's cookie.
	other := newTestServer(t, Config{LedgerPath: fx.ledger, Token: testToken})
	if resp := get(t, other, "/releases", "Cookie", c.Name+"="+c.Value); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("cookie of another console: status %d, want 303", resp.StatusCode)
	}
	if _, err := New(Config{LedgerPath: fx.ledger, Token: "short"}); err == nil {
		t.Errorf("New with a short token: want an error")
	}
}

// TestTokenRequired (audit 2, M2): a console needs a token, even on
// loopback, where every local account can reach it.
func TestTokenRequired(t *testing.T) {
	fx := demo(t)
	for _, cfg := range []Config{{LedgerPath: fx.ledger, Loopback: true}, {Published: fx.published, Loopback: true}} {
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "token") {
			t.Errorf("New without a token (%+v): %v, want an error about the token", cfg, err)
		}
	}
	s := officer(t, true)
	for _, path := range []string{"/", "/datasets", "/releases", "/releases/r-web-csv", "/releases/r-web-csv/report", "/whatif"} {
		if resp := get(t, s, path, anonymous...); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("GET %s without the token on loopback: status %d, want 303 to the login form", path, resp.StatusCode)
		}
	}
}

// TestLoginURL: /login?token=TOKEN (the URL privagg serve prints when it drew
// the token) sets the session cookie and sends the browser to / (or to a
// safe next); a wrong token gets 401 and no cookie.
func TestLoginURL(t *testing.T) {
	s := officer(t, false)
	for _, tc := range []struct{ query, location string }{
		{"?token=" + testToken, "/"},
		{"?token=" + testToken + "&next=" + url.QueryEscape("/releases/r-web-csv"), "/releases/r-web-csv"},
		{"?token=" + testToken + "&next=" + url.QueryEscape("//evil.example/"), "/"},
	} {
		resp := get(t, s, "/login"+tc.query, anonymous...)
		cookies := resp.Cookies()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.location || len(cookies) != 1 {
			t.Fatalf("GET /login%s: status %d, Location %q, cookies %v; want 303 to %s with the cookie", tc.query, resp.StatusCode, resp.Header.Get("Location"), cookies, tc.location)
		}
		c := cookies[0]
		if c.Name != CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, testToken) {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, not the token", c)
		}
		if resp := get(t, s, "/releases", "Cookie", c.Name+"="+c.Value); resp.StatusCode != http.StatusOK {
			t.Errorf("with the cookie of the login URL: status %d", resp.StatusCode)
		}
	}
	for _, q := range []string{"?token=", "?token=" + testToken + "x", "?token=wrong-token-of-some-length"} {
		if resp := get(t, s, "/login"+q, anonymous...); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Errorf("GET /login%s: status %d, cookies %v; want 401 and none", q, resp.StatusCode, resp.Cookies())
		}
	}
	if got, want := LoginURL("http://127.0.0.1:8080/", "a b"), "http://127.0.0.1:8080/login?token=a+b"; got != want {
		t.Errorf("LoginURL = %q, want %q", got, want)
	}
}

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 2*tokenBytes || strings.Trim(tok, "0123456789abcdef") != "" || seen[tok] {
			t.Fatalf("NewToken = %q: want %d hex digits, never twice", tok, 2*tokenBytes)
		}
		seen[tok] = true
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"": "/", "/releases": "/releases", "/releases?x=1": "/releases?x=1", "//evil.example": "/",
		"http://evil.example/": "/", "/\\evil.example": "/", "releases": "/", "/login": "/", "/a\r\nSet-Cookie: x": "/",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:0": true, "[::1]:8080": true, "localhost:80": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.168.1.5:8080": false, "example.com:80": false,
	} {
		got, err := IsLoopback(addr)
		if err != nil || got != want {
			t.Errorf("IsLoopback(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
	if _, err := IsLoopback("127.0.0.1"); err == nil {
		t.Errorf("IsLoopback without a port: want an error")
	}
}

func TestStripInternal(t *testing.T) {
	in := `<main><p>a</p><section class="internal" id="internal"><h2>INTERNAL</h2></section></main>`
	if got := string(stripInternal([]byte(in))); got != `<main><p>a</p></main>` {
		t.Errorf("stripInternal: %s", got)
	}
}

// TestReleasesJSONUnaffected guards that the console reads what `privagg
// releases list` reads: the same catalog.
func TestReleasesMatchCatalog(t *testing.T) {
	fx := demo(t)
	s := officer(t, false)
	cat, err := s.loadCatalog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range cat.Releases {
		ids = append(ids, r.ReleaseID)
	}
	if !slices.Equal(ids, fx.ids) {
		js, _ := json.Marshal(cat)
		t.Errorf("catalog releases %v, want %v\n%s", ids, fx.ids, js)
	}
}
