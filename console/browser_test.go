package console

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// chromiumBinaries are the names Debian and others give headless Chromium.
var chromiumBinaries = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range chromiumBinaries {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed: skipping the console's browser check (Debian: apt-get install -y chromium; CI installs it in .ci/run)")
	return ""
}

// runChromium runs headless Chromium with args and the URL; it returns its stdout.
func runChromium(t *testing.T, browser, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, browser, append(all, url)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, errb.Bytes())
	}
	return out.Bytes()
}

// TestConsoleInChromium serves an officer's console on a real socket and
// signs in as its owner does, through the login URL privagg serve prints
// (/login?token=..., with next= the page). It loads the datasets and a
// release page in headless Chromium (which obeys the Content-Security-Policy
// and the cookie's SameSite=Strict), checks the rendered DOM and keeps
// screenshots. Without the login URL Chromium gets the login form. Set
// PRIVAGG_CONSOLE_SCREENSHOTS to a folder to keep the screenshots.
func TestConsoleInChromium(t *testing.T) {
	browser := chromium(t)
	srv := httptest.NewServer(officer(t, false))
	defer srv.Close()
	login := func(path string) string {
		return LoginURL(srv.URL, testToken) + "&next=" + url.QueryEscape(path)
	}
	if dom := runChromium(t, browser, srv.URL+"/datasets", "--dump-dom", "--virtual-time-budget=5000"); !bytes.Contains(dom, []byte(`name="token"`)) || bytes.Contains(dom, []byte("web_events")) {
		t.Errorf("/datasets without signing in: Chromium did not get the login form\n%s", dom)
	}
	shots := t.TempDir()
	if keep := os.Getenv("PRIVAGG_CONSOLE_SCREENSHOTS"); keep != "" {
		shots = keep
	}
	for _, p := range []struct {
		name, path string
		want       []string
		check      func(doc *html.Node) string
	}{
		{"datasets", "/datasets", []string{"web_events", "crm_events", "r-web-csv", "epsilon", "remaining"}, func(doc *html.Node) string {
			if n := len(findAll(doc, func(n *html.Node) bool { c, _ := attr(n, "class"); return n.Data == "svg" && c == "budget" })); n != 4 {
				return fmt.Sprintf("%d budget bars, want 4", n)
			}
			if len(findAll(doc, func(n *html.Node) bool { return n.Data == "polyline" })) == 0 {
				return "no spend line"
			}
			return ""
		}},
		{"release", "/releases/r-web-csv", []string{"r-web-csv", "by_channel_csv", "cmp_a", "Download"}, func(doc *html.Node) string {
			if len(findAll(doc, func(n *html.Node) bool { c, _ := attr(n, "class"); return c == "errbar" })) == 0 {
				return "no error bars"
			}
			return ""
		}},
	} {
		dom := runChromium(t, browser, login(p.path), "--dump-dom", "--virtual-time-budget=5000")
		doc, err := html.Parse(bytes.NewReader(dom))
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		body := text(doc)
		for _, w := range p.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s page in Chromium lacks %q", p.name, w)
			}
		}
		if p.check != nil {
			if problem := p.check(doc); problem != "" {
				t.Errorf("%s page in Chromium: %s", p.name, problem)
			}
		}
		shot := filepath.Join(shots, p.name+".png")
		runChromium(t, browser, login(p.path), "--screenshot="+shot, "--window-size=1280,1400", "--hide-scrollbars")
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("%s: no screenshot: %v", p.name, err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: screenshot is not a PNG: %v", p.name, err)
		}
		b := img.Bounds()
		if b.Dx() != 1280 || b.Dy() != 1400 {
			t.Errorf("%s: screenshot %dx%d, want 1280x1400", p.name, b.Dx(), b.Dy())
		}
		// A page whose stylesheet loaded has the header's dark band and
		// many colours; a failed or unstyled page has few.
		colours := map[uint32]bool{}
		for y := b.Min.Y; y < b.Max.Y; y += 4 {
			for x := b.Min.X; x < b.Max.X; x += 4 {
				r, g, bl, _ := img.At(x, y).RGBA()
				colours[(r>>11)<<10|(g>>11)<<5|bl>>11] = true
			}
		}
		if len(colours) < 12 {
			t.Errorf("%s: screenshot has %d colours, want a rendered page", p.name, len(colours))
		}
		if r, g, bl, _ := img.At(5, 5).RGBA(); !(r>>8 < 0x40 && g>>8 < 0x50 && bl>>8 < 0x70) {
			t.Errorf("%s: the top-left pixel is #%02x%02x%02x, want the header's dark band (stylesheet not applied?)", p.name, r>>8, g>>8, bl>>8)
		}
	}
}
