package pipeline

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/privagg/privagg/release"
)

// chromiumBinaries are the names Debian and others give headless Chromium.
var chromiumBinaries = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// TestReleaseReportRenders opens REPORT.html in headless Chromium and checks
// that it renders to a non-trivial screenshot. Set PRIVAGG_REPORT_SCREENSHOT
// to a path to keep the PNG (and the page, as <path>.html) for a look.
func TestReleaseReportRenders(t *testing.T) {
	var browser string
	for _, name := range chromiumBinaries {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("chromium is not installed: skipping the REPORT.html render check (Debian: apt-get install -y chromium; CI installs it in .ci/run)")
	}
	_, store := runForReport(t, goldenJob, "render-1")
	page, err := filepath.Abs(filepath.Join(store, release.ReportHTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "--window-size=1200,1600",
		"file://"+page)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium failed: %v\n%s", err, out.Bytes())
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out.Bytes())
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() != 1200 || b.Dy() != 1600 {
		t.Errorf("screenshot is %dx%d, want 1200x1600", b.Dx(), b.Dy())
	}
	// A blank or failed page is one colour; the report has text, bars in
	// several colours and the internal section's stripes.
	colours := map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[(r>>11)<<10|(g>>11)<<5|bl>>11] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("screenshot has %d distinct colours, want a rendered page (>= 20)", len(colours))
	}
	if keep := os.Getenv("PRIVAGG_REPORT_SCREENSHOT"); keep != "" {
		data, err := os.ReadFile(shot)
		if err == nil {
			err = os.WriteFile(keep, data, 0o644)
		}
		if html, rerr := os.ReadFile(page); rerr == nil && err == nil {
			err = os.WriteFile(keep+".html", html, 0o644)
		}
		if err != nil {
			t.Errorf("keep screenshot: %v", err)
		}
	}
}
