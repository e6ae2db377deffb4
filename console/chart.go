package console

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/privagg/privagg/catalog"
	"github.com/privagg/privagg/privacy"
)

// A table's chart: the values of one metric with their 95% intervals, per
// key, drawn on the server as inline SVG (no script). The last group-by key
// is the x axis (weeks, say); the other keys make one series each, a line
// with its interval as a band, up to maxSeries (the filter picks others).
// A table with one key gets a dot with a whisker per key.

// maxSeries is how many series a chart draws.
const maxSeries = 8

// Chart geometry, in pixels.
const (
	tchartW, tchartH        = 760.0, 300.0
	tchartLeft, tchartRight = 64.0, 16.0
	tchartTop, tchartBottom = 12.0, 48.0
	chartMaxXLabels         = 12
	chartMinSpan            = 1.0
	chartLabelChars         = 14
	chartLegendSeparator    = " / "
	chartCISuffix           = privacy.CISuffix
)

// chart is a table's chart, laid out for templates/chart.html.
type chart struct {
	W, H                     float64
	Left, Right, Top, Bottom float64 // the plot area
	Zero                     float64 // y of 0, if inside the plot
	ZeroIn                   bool
	Metric, Label            string
	Dots                     bool
	Series                   []chartSeries
	YTicks, XTicks           []chartTick
	Note                     string
}

type chartSeries struct {
	Name   string
	Class  string // s0..s7: its colour
	Line   string // polyline points
	Band   string // polygon points of the interval
	Points []chartPoint
}

type chartPoint struct {
	X, Y, Lo, Hi float64
	Title        string
}

// chartMetrics are the value columns of t that have a _ci95 column in
// header: those a chart can draw.
func chartMetrics(t catalog.Table, header []string) []string {
	var out []string
	for _, m := range t.Metrics {
		for _, c := range m.Columns {
			if !strings.HasSuffix(c, chartCISuffix) && slices.Contains(header, c+chartCISuffix) {
				out = append(out, c)
			}
		}
	}
	return out
}

// newChart lays out metric (and its _ci95 column) of rows per key; nil if
// there is nothing to draw.
func newChart(groupBy, header []string, rows [][]string, metric string) *chart {
	col := func(name string) int { return slices.Index(header, name) }
	vi, ci := col(metric), col(metric+chartCISuffix)
	if metric == "" || vi < 0 || ci < 0 || len(groupBy) == 0 {
		return nil
	}
	xi := col(groupBy[len(groupBy)-1])
	var seriesCols []int
	for _, k := range groupBy[:len(groupBy)-1] {
		seriesCols = append(seriesCols, col(k))
	}
	type obs struct{ v, ci float64 }
	data := map[string]map[string]obs{} // series -> x -> value
	var xs, names []string
	for _, row := range rows {
		v, err1 := strconv.ParseFloat(row[vi], 64)
		e, err2 := strconv.ParseFloat(row[ci], 64)
		if err1 != nil || err2 != nil || math.IsNaN(v+e) || math.IsInf(v+e, 0) {
			continue
		}
		parts := make([]string, len(seriesCols))
		for i, c := range seriesCols {
			parts[i] = row[c]
		}
		name := strings.Join(parts, chartLegendSeparator)
		if data[name] == nil {
			data[name] = map[string]obs{}
			names = append(names, name)
		}
		if !slices.Contains(xs, row[xi]) {
			xs = append(xs, row[xi])
		}
		data[name][row[xi]] = obs{v, math.Abs(e)}
	}
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	slices.Sort(names)
	c := &chart{W: tchartW, H: tchartH, Left: tchartLeft, Right: tchartW - tchartRight, Top: tchartTop, Bottom: tchartH - tchartBottom,
		Metric: metric, Dots: len(groupBy) == 1}
	if len(names) > maxSeries {
		c.Note = fmt.Sprintf("The first %d of %d series are drawn; filter the table to choose others.", maxSeries, len(names))
		names = names[:maxSeries]
	}
	lo, hi := 0.0, 0.0
	for _, n := range names {
		for _, o := range data[n] {
			lo, hi = math.Min(lo, o.v-o.ci), math.Max(hi, o.v+o.ci)
		}
	}
	if hi-lo < chartMinSpan {
		hi = lo + chartMinSpan
	}
	y := func(u float64) float64 { return px(c.Bottom - (c.Bottom-c.Top)*(u-lo)/(hi-lo)) }
	step := (c.Right - c.Left) / float64(len(xs))
	x := func(i int) float64 { return px(c.Left + step*(float64(i)+0.5)) }
	c.Zero, c.ZeroIn = y(0), lo <= 0 && hi >= 0
	for i := 0; i <= 4; i++ {
		u := lo + (hi-lo)*float64(i)/4
		c.YTicks = append(c.YTicks, chartTick{X: c.Left - 6, Y: y(u), Label: fmtNum(u), Anchor: "end"})
	}
	every := max(1, (len(xs)+chartMaxXLabels-1)/chartMaxXLabels)
	for i, xv := range xs {
		if i%every == 0 {
			c.XTicks = append(c.XTicks, chartTick{X: x(i), Y: c.Bottom + 16, Label: shorten(xv), Anchor: "middle"})
		}
	}
	for si, n := range names {
		s := chartSeries{Name: n, Class: "s" + strconv.Itoa(si)}
		var line, upper, lower []string
		for i, xv := range xs {
			o, ok := data[n][xv]
			if !ok {
				continue
			}
			p := chartPoint{X: x(i), Y: y(o.v), Lo: y(o.v - o.ci), Hi: y(o.v + o.ci),
				Title: fmt.Sprintf("%s: %s ± %s", strings.TrimPrefix(n+chartLegendSeparator+xv, chartLegendSeparator), catalog.ReadableFloat(o.v), catalog.ReadableFloat(o.ci))}
			s.Points = append(s.Points, p)
			line = append(line, fmt.Sprintf("%g,%g", p.X, p.Y))
			upper = append(upper, fmt.Sprintf("%g,%g", p.X, p.Hi))
			lower = append(lower, fmt.Sprintf("%g,%g", p.X, p.Lo))
		}
		slices.Reverse(lower)
		s.Line, s.Band = strings.Join(line, " "), strings.Join(append(upper, lower...), " ")
		c.Series = append(c.Series, s)
	}
	what := "per " + groupBy[len(groupBy)-1]
	if !c.Dots {
		what += ", one line per " + strings.Join(groupBy[:len(groupBy)-1], chartLegendSeparator)
	}
	c.Label = fmt.Sprintf("Chart of %s with its 95%% confidence interval %s (%d series)", metric, what, len(c.Series))
	return c
}

// shorten cuts a long axis label.
func shorten(s string) string {
	if r := []rune(s); len(r) > chartLabelChars {
		return string(r[:chartLabelChars-1]) + "…"
	}
	return s
}
