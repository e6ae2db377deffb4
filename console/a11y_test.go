package console

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// luminance is the WCAG 2 relative luminance of a #rrggbb colour.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 || hex[0] != '#' {
		t.Fatalf("colour %q: want #rrggbb", hex)
	}
	var l [3]float64
	for i := range l {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatalf("colour %q: %v", hex, err)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			l[i] = c / 12.92
		} else {
			l[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TestStylesheetContrast checks every colour pair the stylesheet declares:
// text at WCAG AA (4.5:1), controls and chart marks at 3:1; and that every
// text colour and background the rules use is in a declared text pair, and
// no colour is written outside the variables.
func TestStylesheetContrast(t *testing.T) {
	if got := contrast(t, "#000000", "#ffffff"); math.Abs(got-21) > 1e-9 {
		t.Fatalf("contrast black/white = %v, want 21", got)
	}
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(css)
	root := regexp.MustCompile(`(?s):root\s*\{(.*?)\}`).FindStringSubmatch(s)
	if root == nil {
		t.Fatal("style.css has no :root block")
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(--[\w-]+):\s*(#[0-9a-fA-F]{6});`).FindAllStringSubmatch(root[1], -1) {
		vars[m[1]] = strings.ToLower(m[2])
	}
	textFG, textBG := map[string]bool{}, map[string]bool{}
	pairs := regexp.MustCompile(`(text|ui): (--[\w-]+) on (--[\w-]+)`).FindAllStringSubmatch(s, -1)
	if len(pairs) < 20 {
		t.Fatalf("style.css declares %d colour pairs, want them all", len(pairs))
	}
	for _, p := range pairs {
		fg, bg := vars[p[2]], vars[p[3]]
		if fg == "" || bg == "" {
			t.Errorf("pair %s on %s: undefined variable", p[2], p[3])
			continue
		}
		need := 4.5
		if p[1] == "ui" {
			need = 3
		} else {
			textFG[p[2]], textBG[p[3]] = true, true
		}
		if c := contrast(t, fg, bg); c < need {
			t.Errorf("%s pair %s (%s) on %s (%s): contrast %.2f:1, want >= %g:1", p[1], p[2], fg, p[3], bg, c, need)
		}
	}
	rules := s[strings.Index(s, root[0])+len(root[0]):]
	rules = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(rules, "")
	if hex := regexp.MustCompile(`#[0-9a-fA-F]{3,8}\b`).FindAllString(rules, -1); len(hex) > 0 {
		t.Errorf("colours outside :root's variables: %v", hex)
	}
	for _, m := range regexp.MustCompile(`([^{}]+)\{([^}]*)\}`).FindAllStringSubmatch(rules, -1) {
		selector := strings.TrimSpace(m[1])
		for _, decl := range strings.Split(m[2], ";") {
			prop, val, ok := strings.Cut(decl, ":")
			if !ok {
				continue
			}
			prop, val = strings.TrimSpace(prop), strings.TrimSpace(val)
			v := regexp.MustCompile(`var\((--[\w-]+)\)`).FindStringSubmatch(val)
			switch {
			case prop == "color", prop == "fill" && strings.Contains(selector, "text"):
				if v == nil || !textFG[v[1]] {
					t.Errorf("%s { %s: %s }: a text colour must be a variable of a declared text pair", selector, prop, val)
				}
			case prop == "background", prop == "background-color":
				if v == nil || !textBG[v[1]] {
					t.Errorf("%s { %s: %s }: a background must be a variable of a declared text pair", selector, prop, val)
				}
			}
		}
	}
	// The focus ring is visible: an outline on :focus-visible.
	if !regexp.MustCompile(`:focus-visible\s*\{[^}]*outline:\s*3px solid var\(--focus\)`).MatchString(s) {
		t.Errorf("style.css: no visible focus outline")
	}
}

// focusable reports whether the element is reached by the Tab key.
func focusable(n *html.Node) bool {
	if ti, ok := attr(n, "tabindex"); ok {
		return !strings.HasPrefix(ti, "-")
	}
	if _, disabled := attr(n, "disabled"); disabled {
		return false
	}
	switch n.Data {
	case "a":
		_, ok := attr(n, "href")
		return ok
	case "input":
		typ, _ := attr(n, "type")
		return typ != "hidden"
	case "button", "select", "textarea":
		return true
	}
	return false
}

// TestKeyboardNavigation checks, on every page, what a keyboard user
// needs: the skip link is the first stop and leads to main; no positive
// tabindex reorders the stops; every link and control is reachable and
// named; tables have header cells with a scope; the navigation is marked.
func TestKeyboardNavigation(t *testing.T) {
	s := officer(t, true)
	a := analyst(t)
	tok := newTestServer(t, Config{LedgerPath: demo(t).ledger, Token: testToken})
	pages := []struct {
		s    *Server
		path string
	}{
		{s, "/datasets"}, {s, "/releases"}, {s, "/releases/r-web-csv"}, {s, "/releases/r-crm"}, {s, "/whatif"},
		{s, "/whatif?job=audience.yaml"}, {s, "/nowhere"}, {a, "/releases"}, {a, "/releases/r-web-parquet"}, {tok, "/login"},
	}
	for _, p := range pages {
		resp := get(t, p.s, p.path)
		doc, err := html.Parse(strings.NewReader(body(t, resp)))
		if err != nil {
			t.Fatal(err)
		}
		if h := findAll(doc, tag("html")); len(h) != 1 || func() bool { l, _ := attr(h[0], "lang"); return l == "" }() {
			t.Errorf("%s: <html> has no lang", p.path)
		}
		stops := findAll(doc, focusable)
		if len(stops) == 0 {
			t.Fatalf("%s: nothing to focus", p.path)
		}
		if href, _ := attr(stops[0], "href"); href != "#main" || !strings.Contains(text(stops[0]), "Skip to content") {
			t.Errorf("%s: first tab stop is %s %q, want the skip link to #main", p.path, stops[0].Data, text(stops[0]))
		}
		if main := findAll(doc, func(n *html.Node) bool { id, _ := attr(n, "id"); return n.Data == "main" && id == "main" }); len(main) != 1 {
			t.Errorf("%s: no <main id=main> for the skip link", p.path)
		}
		for _, n := range findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "tabindex"); return ok }) {
			if ti, _ := attr(n, "tabindex"); ti != "0" && ti != "-1" {
				t.Errorf("%s: tabindex=%s on <%s> reorders the tab stops", p.path, ti, n.Data)
			}
		}
		for _, n := range findAll(doc, tag("a")) {
			href, ok := attr(n, "href")
			if !ok || href == "" {
				t.Errorf("%s: link %q without href is not reachable", p.path, text(n))
			}
			if _, label := attr(n, "aria-label"); text(n) == "" && !label {
				t.Errorf("%s: link to %s has no text", p.path, href)
			}
		}
		labels := map[string]bool{}
		for _, l := range findAll(doc, tag("label")) {
			f, _ := attr(l, "for")
			labels[f] = true
		}
		for _, n := range findAll(doc, func(n *html.Node) bool { return n.Data == "input" || n.Data == "select" || n.Data == "textarea" }) {
			if typ, _ := attr(n, "type"); typ == "hidden" {
				continue
			}
			if id, _ := attr(n, "id"); !labels[id] {
				t.Errorf("%s: <%s id=%q> has no <label for>", p.path, n.Data, id)
			}
		}
		for _, th := range findAll(doc, tag("th")) {
			if sc, _ := attr(th, "scope"); sc != "col" && sc != "row" {
				t.Errorf("%s: <th> %q without scope", p.path, text(th))
			}
		}
		for _, tbl := range findAll(doc, tag("table")) {
			if len(findAll(tbl, tag("caption"))) == 0 {
				t.Errorf("%s: a table without a caption", p.path)
			}
		}
		if p.path != "/login" {
			nav := findAll(doc, func(n *html.Node) bool { l, _ := attr(n, "aria-label"); return n.Data == "nav" && l == "Main" })
			if len(nav) != 1 || len(findAll(nav[0], func(n *html.Node) bool { _, ok := attr(n, "aria-current"); return ok })) > 1 {
				t.Errorf("%s: want one <nav aria-label=Main> with at most one aria-current", p.path)
			}
		}
		for _, svg := range findAll(doc, tag("svg")) {
			if role, _ := attr(svg, "role"); role != "img" {
				t.Errorf("%s: <svg> without role=img", p.path)
			}
			if l, _ := attr(svg, "aria-label"); l == "" {
				t.Errorf("%s: <svg> without aria-label", p.path)
			}
		}
	}
}
