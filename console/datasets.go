package console

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/privagg/privagg/privacy"
)

// The datasets page: per dataset, its budget (epsilon and delta: spent and
// remaining in the current period) as bars, and a chart of the epsilon
// spent over time within each period, with the table of its releases as
// the chart's text alternative.

// SVG geometry, in pixels.
const (
	barWidth    = 360.0
	barHeight   = 18.0
	chartWidth  = 720.0
	chartHeight = 240.0
	chartLeft   = 64.0 // y labels
	chartRight  = 16.0
	chartTop    = 16.0
	chartBottom = 40.0 // x labels
)

type datasetsView struct {
	Datasets []datasetView
}

type datasetView struct {
	Anchor    string
	Name      string
	HasBudget bool
	Period    string // how the period reads
	Status    privacy.BudgetStatus
	Bars      []budgetBar
	Chart     *spendChart
	Releases  []spendRow
	Changes   []privacy.BudgetChange // newest first
}

// budgetBar is one of a dataset's two bars (epsilon, delta).
type budgetBar struct {
	Label                   string
	Spent, Total, Remaining string
	Percent                 string
	Width, SpentW           float64
	Over                    bool // spent more than a budget lowered since
}

// spendRow is one release charged to a dataset, with the epsilon spent in
// its period once it was charged.
type spendRow struct {
	Rec        privacy.ReleaseRecord
	InPeriod   float64
	PeriodName string
}

type spendChart struct {
	W, H           float64
	Left, Right    float64
	Top, Bottom    float64
	Lines          []string // polyline points, one per period
	Dots           []chartDot
	Limit          *chartRule // the current budget
	YTicks, XTicks []chartTick
	Bounds         []chartTick // period starts
	Label          string      // aria-label
}

// point is a point of a chart's line, in pixels.
type point struct{ x, y float64 }

type chartDot struct {
	X, Y  float64
	Title string
}

type chartRule struct {
	Y     float64
	Label string
}

type chartTick struct {
	X, Y   float64
	Label  string
	Anchor string // text-anchor of an x label
}

func (s *Server) datasets(w http.ResponseWriter, r *http.Request) {
	if s.mode == ModeAnalyst {
		s.fail(w, r, http.StatusNotFound, "An analyst's console reads published folders only: budgets are in the ledger, which it does not read.", nil)
		return
	}
	ctx := r.Context()
	sts, err := s.led.Statuses(ctx)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The ledger could not be read.", err)
		return
	}
	recs, err := s.led.Releases(ctx)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The ledger could not be read.", err)
		return
	}
	v := buildDatasets(sts, recs, s.cfg.Now())
	for i := range v.Datasets {
		d := &v.Datasets[i]
		if d.Changes, err = s.led.BudgetChanges(ctx, d.Name); err != nil {
			s.fail(w, r, http.StatusInternalServerError, "The ledger could not be read.", err)
			return
		}
		slices.Reverse(d.Changes) // newest first
	}
	s.render(w, r, http.StatusOK, "datasets.html", s.newPage("Datasets and budgets", "datasets", v))
}

// buildDatasets lays out every dataset with a budget, and every dataset
// that has releases without one (a budget cannot be removed, so normally
// none), sorted by name.
func buildDatasets(sts []privacy.BudgetStatus, recs []privacy.ReleaseRecord, now time.Time) datasetsView {
	byDataset := map[string][]privacy.ReleaseRecord{}
	for _, rec := range recs {
		byDataset[rec.Dataset] = append(byDataset[rec.Dataset], rec)
	}
	status := map[string]privacy.BudgetStatus{}
	names := []string{}
	for _, st := range sts {
		status[st.Dataset] = st
		names = append(names, st.Dataset)
	}
	for name := range byDataset {
		if _, ok := status[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var v datasetsView
	for i, name := range names {
		st, ok := status[name]
		dv := datasetView{Anchor: "dataset-" + strconv.Itoa(i+1), Name: name, HasBudget: ok, Status: st}
		if ok {
			dv.Period = periodText(st)
			dv.Bars = []budgetBar{
				newBudgetBar("epsilon", st.EpsilonSpent, st.EpsilonTotal, st.EpsilonRemaining),
				newBudgetBar("delta", st.DeltaSpent, st.DeltaTotal, st.DeltaRemaining),
			}
		}
		rs := byDataset[name]
		slices.SortStableFunc(rs, func(a, b privacy.ReleaseRecord) int { return a.ReservedAt.Compare(b.ReservedAt) })
		dv.Releases = spendRows(rs, st.Period)
		dv.Chart = newSpendChart(name, rs, dv.Releases, st, now)
		v.Datasets = append(v.Datasets, dv)
	}
	return v
}

func periodText(st privacy.BudgetStatus) string {
	switch {
	case st.Period == "none":
		return "for all time"
	case st.Period == "month" && st.PeriodStart != nil:
		return "per calendar month (UTC); current period " + st.PeriodStart.UTC().Format("January 2006")
	case st.PeriodStart != nil && st.PeriodEnd != nil:
		return "per rolling " + strings.TrimSuffix(st.Period, "d") + " days; current window " +
			st.PeriodStart.UTC().Format("2006-01-02") + " to " + st.PeriodEnd.UTC().Format("2006-01-02")
	}
	return "per period " + st.Period
}

func newBudgetBar(label string, spent, total, remaining privacy.Amount) budgetBar {
	s, t := spent.Float64(), total.Float64()
	b := budgetBar{Label: label, Spent: fmtNum(s), Total: fmtNum(t), Remaining: fmtNum(remaining.Float64()), Width: barWidth, Over: s > t}
	switch {
	case t > 0:
		b.Percent = strconv.FormatFloat(math.Round(100*s/t), 'f', 0, 64) + "%"
		b.SpentW = px(barWidth * math.Min(s/t, 1))
	case s > 0:
		b.Percent, b.SpentW = "over", barWidth
	default:
		b.Percent = "0%"
	}
	return b
}

// rollingDays is N of a period "Nd", 0 for none or month.
func rollingDays(period string) int {
	if n, ok := strings.CutSuffix(period, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d > 0 {
			return d
		}
	}
	return 0
}

// periodKey names the budget period a release was charged in.
func periodKey(rec privacy.ReleaseRecord, period string) string {
	switch {
	case period == "month" && rec.PeriodStart != nil:
		return rec.PeriodStart.UTC().Format("January 2006")
	case period == "month":
		return rec.ReservedAt.UTC().Format("January 2006")
	case rollingDays(period) > 0:
		return "the " + strings.TrimSuffix(period, "d") + " days before"
	}
	return "all time"
}

// spendRows computes, after each release, the epsilon spent in its period:
// the sum over the calendar month, the rolling window ending at the release,
// or all time.
func spendRows(recs []privacy.ReleaseRecord, period string) []spendRow {
	rows := make([]spendRow, len(recs))
	days := rollingDays(period)
	sums := map[string]float64{}
	for i, rec := range recs {
		key := periodKey(rec, period)
		if days > 0 {
			from := rec.ReservedAt.Add(-time.Duration(days) * 24 * time.Hour)
			total := 0.0
			for _, o := range recs[:i+1] {
				if o.ReservedAt.After(from) {
					total += o.Epsilon.Float64()
				}
			}
			rows[i] = spendRow{Rec: rec, InPeriod: total, PeriodName: key}
			continue
		}
		sums[key] += rec.Epsilon.Float64()
		rows[i] = spendRow{Rec: rec, InPeriod: sums[key], PeriodName: key}
	}
	return rows
}

// newSpendChart draws the epsilon spent in the current period over time: a
// step line per period (one for a budget for all time, one per calendar
// month, or the spend of the rolling window at each moment), a dot per
// release and the budget as a dashed rule. nil without releases.
func newSpendChart(name string, recs []privacy.ReleaseRecord, rows []spendRow, st privacy.BudgetStatus, now time.Time) *spendChart {
	if len(recs) == 0 {
		return nil
	}
	c := &spendChart{W: chartWidth, H: chartHeight, Left: chartLeft, Right: chartWidth - chartRight,
		Top: chartTop, Bottom: chartHeight - chartBottom}
	t0, t1 := recs[0].ReservedAt, now
	if last := recs[len(recs)-1].ReservedAt; last.After(t1) {
		t1 = last
	}
	if !t1.After(t0) {
		t1 = t0.Add(time.Hour)
	}
	// A little room before the first release, so its step shows.
	t0 = t0.Add(-t1.Sub(t0) / 40)
	total := st.EpsilonTotal.Float64()
	top := total
	for _, r := range rows {
		top = math.Max(top, r.InPeriod)
	}
	if !(top > 0) {
		top = 1
	}
	top *= 1.1
	x := func(t time.Time) float64 {
		return px(c.Left + (c.Right-c.Left)*float64(t.Sub(t0))/float64(t1.Sub(t0)))
	}
	y := func(v float64) float64 { return px(c.Bottom - (c.Bottom-c.Top)*v/top) }

	var lines [][]point
	days := rollingDays(st.Period)
	if days > 0 {
		lines = [][]point{rollingLine(recs, days, t0, t1, x, y)}
	} else {
		var cur []point
		key := ""
		for i, r := range rows {
			k := r.PeriodName
			if k != key || cur == nil {
				start := t0
				if cur != nil {
					start = r.Rec.ReservedAt
				}
				if r.Rec.PeriodStart != nil && r.Rec.PeriodStart.After(t0) {
					start = *r.Rec.PeriodStart
					c.Bounds = append(c.Bounds, chartTick{X: x(start), Label: k})
				}
				if cur != nil {
					// The period before ran on at its level until this one began.
					lines = append(lines, append(cur, point{x(start), y(rows[i-1].InPeriod)}))
				}
				cur = []point{{x(start), y(0)}}
				key = k
			}
			prev := 0.0
			if len(cur) > 1 {
				prev = rows[i-1].InPeriod
			}
			tx := x(r.Rec.ReservedAt)
			cur = append(cur, point{tx, y(prev)}, point{tx, y(r.InPeriod)})
		}
		// The last period runs on to now (or to its end).
		end := t1
		if last := rows[len(rows)-1].Rec; last.PeriodStart != nil && st.Period == "month" {
			if e := last.PeriodStart.AddDate(0, 1, 0); e.Before(end) {
				end = e
			}
		}
		cur = append(cur, point{x(end), y(rows[len(rows)-1].InPeriod)})
		lines = append(lines, cur)
	}
	for _, l := range lines {
		parts := make([]string, len(l))
		for i, p := range l {
			parts[i] = strconv.FormatFloat(p.x, 'f', -1, 64) + "," + strconv.FormatFloat(p.y, 'f', -1, 64)
		}
		c.Lines = append(c.Lines, strings.Join(parts, " "))
	}
	for _, r := range rows {
		c.Dots = append(c.Dots, chartDot{X: x(r.Rec.ReservedAt), Y: y(r.InPeriod), Title: fmt.Sprintf(
			"release %s, %s: epsilon %s; spent in %s: %s", r.Rec.ReleaseID, fmtTime(r.Rec.ReservedAt),
			fmtNum(r.Rec.Epsilon.Float64()), r.PeriodName, fmtNum(r.InPeriod))})
	}
	if total > 0 {
		c.Limit = &chartRule{Y: y(total), Label: "budget " + fmtNum(total)}
	}
	for _, v := range []float64{0, top / 1.1 / 2, top / 1.1} {
		c.YTicks = append(c.YTicks, chartTick{X: c.Left - 6, Y: y(v), Label: fmtNum(v)})
	}
	layout := "2006-01-02"
	if t1.Sub(t0) < 72*time.Hour {
		layout = "2006-01-02 15:04"
	}
	for i, anchor := range []string{"start", "middle", "end"} {
		t := t0.Add(t1.Sub(t0) * time.Duration(i) / 2)
		c.XTicks = append(c.XTicks, chartTick{X: x(t), Y: c.Bottom + 16, Label: t.UTC().Format(layout), Anchor: anchor})
	}
	c.Label = fmt.Sprintf("Epsilon spent over time by dataset %s: %d releases from %s to %s; spent now %s of %s (%s). The table below lists them.",
		name, len(recs), recs[0].ReservedAt.UTC().Format("2006-01-02"), recs[len(recs)-1].ReservedAt.UTC().Format("2006-01-02"),
		fmtNum(st.EpsilonSpent.Float64()), fmtNum(total), periodText(st))
	return c
}

// rollingLine is the epsilon spent in the window of days ending at each
// moment from t0 to t1: up at each release, down when it leaves the window.
func rollingLine(recs []privacy.ReleaseRecord, days int, t0, t1 time.Time, x func(time.Time) float64, y func(float64) float64) []point {
	type event struct {
		t time.Time
		d float64
	}
	window := time.Duration(days) * 24 * time.Hour
	var evs []event
	for _, r := range recs {
		e := r.Epsilon.Float64()
		evs = append(evs, event{r.ReservedAt, e})
		if out := r.ReservedAt.Add(window); out.Before(t1) {
			evs = append(evs, event{out, -e})
		}
	}
	slices.SortStableFunc(evs, func(a, b event) int { return a.t.Compare(b.t) })
	pts := []point{{x(t0), y(0)}}
	level := 0.0
	for _, e := range evs {
		pts = append(pts, point{x(e.t), y(level)})
		level = math.Max(level+e.d, 0)
		pts = append(pts, point{x(e.t), y(level)})
	}
	return append(pts, point{x(t1), y(level)})
}
