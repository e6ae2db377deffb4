package console

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/privagg/privagg/privacy"
)

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"datasets.html", "releases.html", "release.html", "table.html", "whatif.html", "login.html", "error.html"}

var funcs = template.FuncMap{
	"num":  fmtNum,
	"full": fullNum,
	"amt":  func(a privacy.Amount) string { return fmtNum(a.Float64()) },
	"int":  formatInt,
	"time": fmtTime,
	"ptime": func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return fmtTime(*t)
	},
	"join": func(s []string) string { return strings.Join(s, ", ") },
	"path": url.PathEscape,
	"add":  func(a, b float64) float64 { return a + b },
	"pct":  func(f float64) string { return fmtNum(100*f) + "%" },
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/chart.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// fmtNum formats a number for people: 4 significant digits, no exponent for
// ordinary magnitudes.
func fmtNum(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return strconv.FormatFloat(x, 'g', -1, 64)
	case x == 0:
		return "0"
	}
	if a := math.Abs(x); a >= 1e-4 && a < 1e9 {
		if r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 4, 64), 64); err == nil {
			return strconv.FormatFloat(r, 'f', -1, 64)
		}
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// fullNum is the shortest text that reads back to x (data-* attributes,
// for programs and tests).
func fullNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// px rounds an SVG coordinate to a tenth of a pixel.
func px(x float64) float64 { return math.Round(x*10) / 10 }
