package main

import (
	"bufio"
	"io"
	"net/http"
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

// startServe starts privagg serve with args on 127.0.0.1:0 and returns its
// base URL; the process is interrupted (and must exit 0) when the test ends.
func startServe(t *testing.T, env []string, args ...string) string {
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
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		l, _ := r.ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, r)
		done <- cmd.Wait()
	}()
	select {
	case l := <-line:
		m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(l)
		if m == "" {
			t.Fatalf("privagg serve printed %q, want its address\n%s", l, stderr.String())
		}
		return strings.TrimSuffix(m, "/")
	case <-time.After(60 * time.Second):
		t.Fatalf("privagg serve did not start\n%s", stderr.String())
	}
	return ""
}

func httpGet(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeOfficerAndAnalyst runs the console as a process: an officer's
// on the ledger, an analyst's on a published folder, one behind a token.
func TestServeOfficerAndAnalyst(t *testing.T) {
	dir, ledger := publishTwo(t)
	base := startServe(t, []string{"PRIVAGG_SERVE_TOKEN="}, "--ledger", ledger, "--jobs", dir)
	code, b := httpGet(t, base+"/releases")
	if code != http.StatusOK || !strings.Contains(b, "r1") || !strings.Contains(b, "r2") {
		t.Errorf("officer GET /releases: %d\n%s", code, b)
	}
	if code, b = httpGet(t, base+"/datasets"); code != http.StatusOK || !strings.Contains(b, "cmd_events") {
		t.Errorf("officer GET /datasets: %d\n%s", code, b)
	}
	if code, b = httpGet(t, base+"/whatif?job=job_r1.yaml&epsilon=2"); code != http.StatusOK || !strings.Contains(b, "by_channel") {
		t.Errorf("officer GET /whatif: %d\n%s", code, b)
	}
	resp, err := http.Post(base+"/releases", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("officer POST /releases: %d, want 405", resp.StatusCode)
	}

	analystBase := startServe(t, []string{"PRIVAGG_SERVE_TOKEN="}, "--from", filepath.Join(dir, "out_parquet"))
	if code, b = httpGet(t, analystBase+"/"); code != http.StatusOK || !strings.Contains(b, "r2") || strings.Contains(b, "r1") || strings.Contains(b, ledger) {
		t.Errorf("analyst GET /: %d, want r2 (the published folder's) only\n%s", code, b)
	}

	const token = "a-token-of-twenty-chars"
	tokenBase := startServe(t, []string{"PRIVAGG_SERVE_TOKEN=" + token}, "--ledger", ledger)
	if code, _ = httpGet(t, tokenBase+"/releases"); code != http.StatusSeeOther {
		t.Errorf("GET without the token: %d, want 303 to the login form", code)
	}
	if code, _ = httpGet(t, tokenBase+"/releases", "Authorization", "Bearer "+token); code != http.StatusOK {
		t.Errorf("GET with the token: %d", code)
	}
}
