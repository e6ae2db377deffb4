package console

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestWorkspaceInChromium (issue 24, item 6) signs in to an analyst's
// console in headless Chromium and loads a table's page filtered on one
// campaign: the rendered DOM has the filter form, the SVG chart (no script
// runs) and the CSV and Parquet links carrying the filter. The screenshots
// are kept in PRIVAGG_CONSOLE_SCREENSHOTS if set, and their paths logged.
func TestWorkspaceInChromium(t *testing.T) {
	browser := chromium(t)
	srv := httptest.NewServer(analyst(t))
	defer srv.Close()
	shots := t.TempDir()
	if keep := os.Getenv("PRIVAGG_CONSOLE_SCREENSHOTS"); keep != "" {
		shots = keep
	}
	for _, p := range []struct{ name, path string }{
		{"workspace-release", "/releases/r-web-parquet"},
		{"workspace-table", "/releases/r-web-parquet/tables/by_channel_parquet?f.campaign=cmp_a&chart=people"},
	} {
		login := LoginURL(srv.URL, testToken) + "&next=" + url.QueryEscape(p.path)
		dom := runChromium(t, browser, login, "--dump-dom", "--virtual-time-budget=5000")
		doc, err := html.Parse(bytes.NewReader(dom))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(findAll(doc, func(n *html.Node) bool { c, _ := attr(n, "class"); return n.Data == "svg" && c == "table-chart" })); n == 0 {
			t.Errorf("%s: no chart in Chromium's DOM", p.name)
		}
		hrefs := map[string]bool{}
		for _, a := range findAll(doc, tag("a")) {
			h, _ := attr(a, "href")
			hrefs[h] = true
		}
		want := "/releases/r-web-parquet/tables/by_channel_parquet.csv"
		if p.name == "workspace-table" {
			want += "?f.campaign=cmp_a"
			if len(findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "name"); return n.Data == "input" && v == "f.channel" })) != 1 {
				t.Errorf("%s: no filter input for channel", p.name)
			}
			if body := text(doc); !strings.Contains(body, "2 of the table's rows match") {
				t.Errorf("%s: the filter was not applied", p.name)
			}
		}
		if !hrefs[want] {
			t.Errorf("%s: no link %s", p.name, want)
		}
		shot := filepath.Join(shots, p.name+".png")
		runChromium(t, browser, login, "--screenshot="+shot, "--window-size=1280,1600", "--hide-scrollbars")
		if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
			t.Fatalf("%s: no screenshot (%v)", p.name, err)
		}
		t.Logf("screenshot %s: %s", p.name, shot)
	}
}
