package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesOpenAddrWithoutToken: a console reachable from other
// machines needs a token; without one privagg serve does not start (exit 2)
// and says how to give one. Nothing is bound, so no ledger is needed.
func TestServeRefusesOpenAddrWithoutToken(t *testing.T) {
	noToken := cliRun{env: []string{"PRIVAGG_SERVE_TOKEN="}}
	ledger := filepath.Join(t.TempDir(), "privagg-ledger.duckdb")
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:8080"} {
		code, stdout, stderr := noToken.privagg(t, "serve", "--ledger", ledger, "--addr", addr)
		if code != 2 || !strings.Contains(stderr, "needs a token") || !strings.Contains(stderr, "PRIVAGG_SERVE_TOKEN") || stdout != "" {
			t.Errorf("serve --addr %s without a token: exit %d, want 2 naming PRIVAGG_SERVE_TOKEN\n%s%s", addr, code, stdout, stderr)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--ledger", ledger, "--addr", "0.0.0.0:0", "--token", "short"}, "at least 16"},
		{[]string{"serve", "--ledger", ledger, "--addr", "nonsense"}, "--addr"},
		{[]string{"serve", "--from", t.TempDir(), "--internal"}, "--internal"},
		{[]string{"serve", "--from", t.TempDir(), "--ledger", ledger}, "not both"},
		{[]string{"serve", "--from", filepath.Join(t.TempDir(), "missing")}, "no such folder"},
		{[]string{"serve", "--ledger", ledger, "--jobs", filepath.Join(t.TempDir(), "missing")}, "--jobs"},
		{[]string{"serve", "--ledger", ledger}, "no ledger at"},
	} {
		code, _, stderr := noToken.privagg(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("privagg %v: exit %d, want 2 with %q\n%s", c.args, code, c.want, stderr)
		}
	}
}

// served is a running privagg serve: its base URL and the login URL it
// printed ("" when it was given a token).
type served struct{ base, login string }

// token is the token of the login URL.
func (s served) token() string {
	u, err := url.Parse(s.login)
	if err != nil {
		return ""
	}
	return u.Query().Get("token")
}

// startServe starts privagg serve with args on 127.0.0.1:0 and returns its
// base URL and login URL; the process is interrupted (and must exit 0) when
// the test ends.
func startServe(t *testing.T, env []string, args ...string) served {
	t.Helper()
	cmd := exec.Command(cliBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), cliChildEnv+"=1"), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("privagg serve after an interrupt: %v\n%s", err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("privagg serve did not stop on an interrupt")
		}
	})
	// Without a token, a second line has the login URL.
	lines := 2
	for _, e := range env {
		if strings.HasPrefix(e, serveTokenEnv+"=") && e != serveTokenEnv+"=" {
			lines = 1
		}
	}
	printed := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		var text string
		for range lines {
			l, _ := r.ReadString('\n')
			text += l
		}
		printed <- text
		_, _ = io.Copy(io.Discard, r)
		done <- cmd.Wait()
	}()
	select {
	case text := <-printed:
		m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(text)
		if m == "" {
			t.Fatalf("privagg serve printed %q, want its address\n%s", text, stderr.String())
		}
		s := served{base: strings.TrimSuffix(m, "/")}
		if lines == 2 {
			s.login = regexp.MustCompile(`http://127\.0\.0\.1:\d+/login\?token=[0-9a-f]+`).FindString(text)
			if s.login == "" || s.token() == "" {
				t.Fatalf("privagg serve without a token printed %q, want a login URL with a token\n%s", text, stderr.String())
			}
		}
		return s
	case <-time.After(60 * time.Second):
		t.Fatalf("privagg serve did not start\n%s", stderr.String())
	}
	return served{}
}

func httpGet(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	code, b, _ := httpDo(t, nil, url, header...)
	return code, b
}

// httpDo gets url with client (nil: one that follows no redirect) and
// returns the status, the body and the response.
func httpDo(t *testing.T, client *http.Client, url string, header ...string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp
}

// TestServeWithoutTokenNeedsTheLoginURL (audit 2, M2): a console started
// without a token still needs one, so that other accounts of the machine
// cannot read it through the loopback socket. It draws a random token and
// prints a login URL; that URL sets the session cookie and sends the
// browser to /, and the token works as a bearer token. Each start draws
// another.
func TestServeWithoutTokenNeedsTheLoginURL(t *testing.T) {
	dir, ledger := publishTwo(t)
	s := startServe(t, []string{"PRIVAGG_SERVE_TOKEN="}, "--ledger", ledger, "--internal")
	if len(s.token()) < 32 {
		t.Fatalf("login URL %q: want a token of at least 32 characters", s.login)
	}
	for _, path := range []string{"/", "/releases", "/datasets", "/releases/r1", "/releases/r1/report"} {
		code, b, resp := httpDo(t, nil, s.base+path)
		if code != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?") || strings.Contains(b, "by_channel") {
			t.Errorf("GET %s without the token: %d, want 303 to the login form\n%s", path, code, b)
		}
	}
	code, _, resp := httpDo(t, nil, s.base+"/login?token=not-the-token-at-all")
	if code != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("login URL with a wrong token: %d, cookies %v; want 401 and none", code, resp.Cookies())
	}
	code, _, resp = httpDo(t, nil, s.login)
	if code != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(resp.Cookies()) != 1 {
		t.Fatalf("login URL: %d, Location %q, cookies %v; want 303 to / with the session cookie", code, resp.Header.Get("Location"), resp.Cookies())
	}
	// A browser: the cookie jar keeps the session.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	if code, b, _ := httpDo(t, browser, s.login); code != http.StatusOK || !strings.Contains(b, "cmd_events") {
		t.Errorf("login URL in a browser: %d, want the datasets page\n%s", code, b)
	}
	if code, b, _ := httpDo(t, browser, s.base+"/releases"); code != http.StatusOK || !strings.Contains(b, "r1") {
		t.Errorf("GET /releases after the login URL: %d\n%s", code, b)
	}
	if code, _ := httpGet(t, s.base+"/releases", "Authorization", "Bearer "+s.token()); code != http.StatusOK {
		t.Errorf("GET /releases with the printed token as bearer: %d", code)
	}
	if other := startServe(t, []string{"PRIVAGG_SERVE_TOKEN="}, "--from", filepath.Join(dir, "out_parquet")); other.token() == s.token() {
		t.Errorf("two consoles drew the same token %q", s.token())
	}
}

// TestServeOfficerAndAnalyst runs the console as a process: an officer's
// on the ledger, an analyst's on a published folder, one behind a token.
func TestServeOfficerAndAnalyst(t *testing.T) {
	dir, ledger := publishTwo(t)
	s := startServe(t, []string{"PRIVAGG_SERVE_TOKEN="}, "--ledger", ledger, "--jobs", dir)
	base, auth := s.base, []string{"Authorization", "Bearer " + s.token()}
	code, b := httpGet(t, base+"/releases", auth...)
	if code != http.StatusOK || !strings.Contains(b, "r1") || !strings.Contains(b, "r2") {
		t.Errorf("officer GET /releases: %d\n%s", code, b)
	}
	if code, b = httpGet(t, base+"/datasets", auth...); code != http.StatusOK || !strings.Contains(b, "cmd_events") {
		t.Errorf("officer GET /datasets: %d\n%s", code, b)
	}
	if code, b = httpGet(t, base+"/whatif?job=job_r1.yaml&epsilon=2", auth...); code != http.StatusOK || !strings.Contains(b, "by_channel") {
		t.Errorf("officer GET /whatif: %d\n%s", code, b)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/releases", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(auth[0], auth[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("officer POST /releases: %d, want 405", resp.StatusCode)
	}

	a := startServe(t, []string{"PRIVAGG_SERVE_TOKEN="}, "--from", filepath.Join(dir, "out_parquet"))
	if code, b = httpGet(t, a.base+"/", "Authorization", "Bearer "+a.token()); code != http.StatusOK || !strings.Contains(b, "r2") || strings.Contains(b, "r1") || strings.Contains(b, ledger) {
		t.Errorf("analyst GET /: %d, want r2 (the published folder's) only\n%s", code, b)
	}

	const token = "a-token-of-twenty-chars"
	tokenBase := startServe(t, []string{"PRIVAGG_SERVE_TOKEN=" + token}, "--ledger", ledger).base
	if code, _ = httpGet(t, tokenBase+"/releases"); code != http.StatusSeeOther {
		t.Errorf("GET without the token: %d, want 303 to the login form", code)
	}
	if code, _ = httpGet(t, tokenBase+"/releases", "Authorization", "Bearer "+token); code != http.StatusOK {
		t.Errorf("GET with the token: %d", code)
	}
}
