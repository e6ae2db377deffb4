package release

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/privagg/privagg/explain"
	"github.com/privagg/privagg/internal/atomicfile"
	"github.com/privagg/privagg/internal/version"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// The release report: for every release, report.json and a self-contained
// REPORT.html (inline CSS and SVG, no scripts, no external assets) in the
// release store, written before the ledger marks the release stored so they
// are part of it. It tells a privacy officer who released what, when, for
// which purpose, at what privacy cost and with what expected error. Its
// public part carries only what the plan and the published tables already
// say; its INTERNAL part carries the run's exact, non-private counts (rows
// read, rejected, excluded; partitions released and suppressed). It never
// holds a per-partition value, an identifier or an input value.

// File names of the release report in a release store folder.
const (
	ReportJSONFile = "report.json"
	ReportHTMLFile = "REPORT.html"
)

// ReportVersion is the version of the report.json format.
const ReportVersion = 1

const reportDescription = "privagg release report: what was released, when, for which purpose, " +
	"at what privacy cost and with what expected error"

const reportInternalNote = "INTERNAL - NOT FOR MARKETING: exact, non-private counts of this run. " +
	"Share them only with the data owner and privacy officers."

// ReleaseReport is the content of report.json.
type ReleaseReport struct {
	ReportVersion  int    `json:"report_version"`
	Description    string `json:"description"`
	PrivaggVersion string `json:"privagg_version"`

	ReleaseID string `json:"release_id"`
	Job       string `json:"job"`
	Dataset   string `json:"dataset"`
	Purpose   string `json:"purpose"`
	// RunBy is the operating-system account that ran privagg, Host the
	// machine it ran on.
	RunBy string `json:"run_by"`
	Host  string `json:"host"`
	// ReservedAt is when the budget was charged, Created when the noise was
	// drawn, Generated when this report was written.
	ReservedAt time.Time `json:"reserved_at"`
	Created    time.Time `json:"created"`
	Generated  time.Time `json:"generated"`

	Noise string `json:"noise"`
	K     int64  `json:"k"`

	Budget  ReportBudget   `json:"budget"`
	Outputs []ReportOutput `json:"outputs"`
	JobFile ReportJobFile  `json:"job_file"`

	Internal ReportInternal `json:"internal"`
}

// ReportBudget is what the release cost and what its dataset's budget looks
// like once it is charged.
type ReportBudget struct {
	// Epsilon and Delta are this release's charge.
	Epsilon privacy.Amount `json:"epsilon"`
	Delta   privacy.Amount `json:"delta"`
	// Dataset is the dataset's budget status when the release was stored,
	// this release's charge included.
	Dataset privacy.BudgetStatus `json:"dataset"`
}

// ReportOutput is one released output.
type ReportOutput struct {
	Name    string   `json:"name"`
	GroupBy []string `json:"group_by"`
	L0      int64    `json:"max_partitions_per_unit"`
	Public  bool     `json:"public_partitions"`
	Epsilon float64  `json:"epsilon"`
	Delta   float64  `json:"delta"`
	// Rows is the number of rows of the published table.
	Rows      int64                  `json:"rows"`
	Selection *explain.PlanSelection `json:"selection,omitempty"`
	Metrics   []ReportMetric         `json:"metrics"`
}

// ReportMetric is the plan of one metric (from Explain) with the
// contribution bounds its release used.
type ReportMetric struct {
	explain.PlanMetric
	L0   int64   `json:"l0"`   // partitions one person can affect
	LInf float64 `json:"linf"` // per-partition sensitivity of the noised statistic
}

// ReportJobFile is the job file the release ran.
type ReportJobFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Text   string `json:"text"`
}

// ReportInternal holds the run's exact counts. They are not differentially
// private.
type ReportInternal struct {
	Note                  string                 `json:"note"`
	RowsRead              int64                  `json:"rows_read"`
	RowsRejected          int64                  `json:"rows_rejected"`
	RowsExcludedByConsent int64                  `json:"rows_excluded_by_consent"`
	Outputs               []ReportInternalOutput `json:"outputs"`
}

// ReportInternalOutput is the partition count of one output.
type ReportInternalOutput struct {
	Name       string `json:"name"`
	Partitions int64  `json:"partitions"` // candidate partitions (in the bounded data, or public keys)
	Released   int64  `json:"released"`
	Suppressed int64  `json:"suppressed"` // dropped by partition selection
}

// reportInput is what a release report is built from.
type reportInput struct {
	job    *job.Job
	rel    *privacy.Release
	record *privacy.ReleaseRecord // the ledger's record of the release
	status privacy.BudgetStatus   // the dataset's budget with the release charged
	run    RunReport
	runBy  string
	host   string
	now    time.Time
}

// writeReleaseReport builds the release report of rel and writes report.json
// and REPORT.html into the release store of id. Run calls it once every table
// is in the store and before the ledger marks the release stored.
func writeReleaseReport(ctx context.Context, led *privacy.Ledger, id string, job *job.Job, rel *privacy.Release, run RunReport) error {
	rec, err := led.Lookup(ctx, id)
	if err != nil {
		return fmt.Errorf("release report: %w", err)
	}
	if rec == nil {
		return fmt.Errorf("release report: release %s: %w", id, privacy.ErrUnknownRelease)
	}
	st, err := led.Status(ctx, rec.Dataset)
	if err != nil {
		return fmt.Errorf("release report: %w", err)
	}
	host, _ := os.Hostname()
	r, err := buildReleaseReport(ctx, reportInput{
		job: job, rel: rel, record: rec, status: st, run: run,
		runBy: currentUser(), host: host, now: time.Now(),
	})
	if err != nil {
		return err
	}
	js, err := r.EncodeJSON()
	if err != nil {
		return err
	}
	page, err := r.RenderHTML()
	if err != nil {
		return err
	}
	dir := led.StoreDir(id)
	if err := atomicfile.WriteFile(filepath.Join(dir, ReportJSONFile), js, 0o640); err != nil {
		return fmt.Errorf("release report: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ReportHTMLFile), page, 0o640); err != nil {
		return fmt.Errorf("release report: %w", err)
	}
	return nil
}

// buildReleaseReport assembles the report. Budget shares, mechanisms, noise
// and confidence intervals come from Explain (the same privacy.Plan the
// release used); contribution bounds and row counts from the release itself.
func buildReleaseReport(ctx context.Context, in reportInput) (*ReleaseReport, error) {
	job, rel := in.job, in.rel
	meta := rel.Metadata()
	plan, err := explain.Explain(ctx, job, 0, "", true)
	if err != nil {
		return nil, fmt.Errorf("release report: %w", err)
	}
	r := &ReleaseReport{
		ReportVersion:  ReportVersion,
		Description:    reportDescription,
		PrivaggVersion: version.Version,
		ReleaseID:      meta.ID,
		Job:            meta.Job,
		Dataset:        meta.Dataset,
		Purpose:        meta.Purpose,
		RunBy:          in.runBy,
		Host:           in.host,
		ReservedAt:     in.record.ReservedAt.UTC(),
		Created:        meta.Created.UTC(),
		Generated:      in.now.UTC().Truncate(time.Second),
		Noise:          string(meta.Noise),
		K:              meta.K,
		Budget:         ReportBudget{Epsilon: in.record.Epsilon, Delta: in.record.Delta, Dataset: in.status},
		JobFile:        ReportJobFile{Path: job.File},
		Internal: ReportInternal{
			Note:                  reportInternalNote,
			RowsRead:              in.run.RowsRead,
			RowsRejected:          in.run.RowsRejected,
			RowsExcludedByConsent: in.run.RowsExcludedByConsent,
		},
	}
	if data, err := os.ReadFile(job.File); err == nil {
		r.JobFile.Text = string(data)
		r.JobFile.SHA256 = job.FileSHA256()
	}
	tables := map[string]*privacy.Table{}
	for _, t := range rel.Tables() {
		tables[t.Name()] = t
	}
	for _, po := range plan.Outputs {
		t, ok := tables[po.Name]
		if !ok {
			return nil, fmt.Errorf("release report: output %q of the plan is not in the release", po.Name)
		}
		ro := ReportOutput{Name: po.Name, GroupBy: po.GroupBy, L0: po.L0, Public: po.Public,
			Epsilon: po.Spend.Epsilon, Delta: po.Spend.Delta, Rows: t.Record().NumRows(), Selection: po.Selection}
		infos := map[string]privacy.MetricInfo{}
		for _, mi := range t.Metrics() {
			infos[mi.Name] = mi
		}
		for _, pm := range po.Metrics {
			mi, ok := infos[pm.Name]
			if !ok {
				return nil, fmt.Errorf("release report: metric %q of output %q is not in the release", pm.Name, po.Name)
			}
			ro.Metrics = append(ro.Metrics, ReportMetric{PlanMetric: pm, L0: mi.L0, LInf: mi.LInf})
		}
		r.Outputs = append(r.Outputs, ro)
		st := in.run.Outputs[po.Name]
		r.Internal.Outputs = append(r.Internal.Outputs, ReportInternalOutput{
			Name: po.Name, Partitions: st.Partitions, Released: st.Released, Suppressed: st.Suppressed})
	}
	return r, nil
}

// currentUser names the operating-system account running privagg.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

// encodeJSON is report.json: indented, with a trailing newline.
func (r *ReleaseReport) EncodeJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("release report: encode json: %w", err)
	}
	return buf.Bytes(), nil
}

// ReadReleaseReport decodes a report.json, refusing unknown fields.
func ReadReleaseReport(data []byte) (*ReleaseReport, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r ReleaseReport
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("read release report: %w", err)
	}
	if r.ReportVersion != ReportVersion {
		return nil, fmt.Errorf("read release report: report_version %d is not supported (want %d)", r.ReportVersion, ReportVersion)
	}
	return &r, nil
}

// ---- REPORT.html ----

// The page is XHTML-compatible HTML5 (every element closed, no named entities
// but XML's), so it parses both as HTML and as XML. Its Content-Security-Policy
// forbids loading anything.

// SVG geometry of the charts, in pixels.
const (
	budgetBarWidth  = 560.0
	budgetBarHeight = 22.0
	errPlotLeft     = 96.0  // labels to the left
	errPlotWidth    = 240.0 // plot area
	errRowHeight    = 24.0
	errAxisHeight   = 18.0
)

type reportView struct {
	R        *ReleaseReport
	Bars     []budgetBarView
	Outputs  []outputView
	Internal ReportInternal
}

type budgetBarView struct {
	Label                        string // epsilon | delta
	Before, This, Left           segment
	Total, Spent, Remaining, Own string
	SpentBefore                  string
	Over                         bool // spent exceeds a lowered budget
}

type segment struct {
	X, W float64
}

type outputView struct {
	O       ReportOutput
	Keys    string
	Metrics []metricView
}

type metricView struct {
	M     ReportMetric
	Error string // text of the expected error
	Chart *errorChart
	Note  string // the kind's note where the error cannot be charted
}

type errorChart struct {
	Height, AxisY       float64
	Center, Left, Right float64
	AxisLabel           string
	Rows                []errorRow
}

type errorRow struct {
	Label           string
	Y, Center       float64
	SDLeft, SDW     float64 // ±1 standard deviation box; SDW 0 when not shown
	CILeft, CIRight float64
}

func (r *ReleaseReport) view() reportView {
	v := reportView{R: r, Internal: r.Internal}
	st := r.Budget.Dataset
	v.Bars = []budgetBarView{
		budgetBar("epsilon", r.Budget.Epsilon, st.EpsilonTotal, st.EpsilonSpent, st.EpsilonRemaining),
		budgetBar("delta", r.Budget.Delta, st.DeltaTotal, st.DeltaSpent, st.DeltaRemaining),
	}
	for _, o := range r.Outputs {
		ov := outputView{O: o, Keys: "keys from the data, kept by differentially private partition selection"}
		if o.Public {
			ov.Keys = "public keys: every listed key is released, also those without data"
		}
		// Metrics of an output with the same axis (counts) share one scale
		// so their errors compare.
		axes := map[string]float64{}
		for _, m := range o.Metrics {
			if m.Axis != "" {
				axes[m.Axis] = math.Max(axes[m.Axis], m.CI95)
			}
		}
		for _, m := range o.Metrics {
			ov.Metrics = append(ov.Metrics, metricChart(m, axes[m.Axis]))
		}
		v.Outputs = append(v.Outputs, ov)
	}
	return v
}

func budgetBar(label string, own, total, spent, remaining privacy.Amount) budgetBarView {
	t, s, o := total.Float64(), spent.Float64(), own.Float64()
	scale := math.Max(t, s)
	// Amounts are exact decimals (1/15 has 25 digits); the page rounds them
	// to 4 significant digits and report.json keeps them exact.
	b := budgetBarView{Label: label, Total: fmtNum(t), Spent: fmtNum(s), Remaining: fmtNum(remaining.Float64()),
		Own: fmtNum(o), SpentBefore: fmtNum(math.Max(s-o, 0)), Over: s > t}
	if !(scale > 0) {
		return b
	}
	px := func(x float64) float64 { return roundPx(budgetBarWidth * math.Max(x, 0) / scale) }
	before := math.Max(s-o, 0)
	b.Before = segment{X: 0, W: px(before)}
	b.This = segment{X: b.Before.W, W: px(math.Min(o, s))}
	b.Left = segment{X: b.This.X + b.This.W, W: math.Max(budgetBarWidth-b.This.X-b.This.W, 0)}
	if b.Over {
		b.Left.W = 0
	}
	return b
}

// metricChart draws the expected error of m as error bars around 0: a box of
// ±1 standard deviation where the noise is the same for every row, and a
// whisker of the 95% confidence half-width. Metrics whose error shrinks with
// the people in a row (mean, variance) have one bar per partition
// size. axisScale is the shared scale of m's axis (0 without one).
func metricChart(m ReportMetric, axisScale float64) metricView {
	mv := metricView{M: m}
	type bar struct {
		label  string
		sd, ci float64
	}
	var bars []bar
	scale := 0.0
	switch {
	case m.CI95ByPeople != nil:
		for _, n := range explain.PeopleScale {
			ci := m.CI95ByPeople[strconv.FormatInt(n, 10)]
			bars = append(bars, bar{label: formatInt(n) + " people", ci: ci})
			scale = math.Max(scale, ci)
		}
		var parts []string
		for _, b := range bars {
			parts = append(parts, "±"+fmtNum(b.ci)+" at "+b.label)
		}
		mv.Error = strings.Join(parts, "; ")
	case m.Note != "":
		mv.Note = m.Note
		return mv
	default:
		bars = []bar{{label: "every row", sd: m.StdDev, ci: m.CI95}}
		scale = m.CI95
		if m.Axis != "" {
			scale = axisScale
		}
		mv.Error = "±" + fmtNum(m.CI95) + " (95%), standard deviation " + fmtNum(m.StdDev)
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return mv
	}
	scale *= 1.1 // room for the whisker caps
	c := &errorChart{Left: errPlotLeft, Right: errPlotLeft + errPlotWidth, Center: errPlotLeft + errPlotWidth/2,
		AxisLabel: fmtNum(scale)}
	px := func(x float64) float64 { return roundPx(errPlotWidth / 2 * x / scale) }
	for i, b := range bars {
		row := errorRow{Label: b.label, Y: roundPx(errRowHeight*float64(i) + errRowHeight/2), Center: c.Center,
			CILeft: c.Center - px(b.ci), CIRight: c.Center + px(b.ci)}
		if b.sd > 0 {
			row.SDLeft, row.SDW = c.Center-px(b.sd), 2*px(b.sd)
		}
		c.Rows = append(c.Rows, row)
	}
	c.AxisY = errRowHeight * float64(len(bars))
	c.Height = c.AxisY + errAxisHeight
	mv.Chart = c
	return mv
}

func roundPx(x float64) float64 { return math.Round(x*10) / 10 }

// fmtNum formats a number for people: 4 significant digits, no exponent for
// ordinary magnitudes.
func fmtNum(x float64) string {
	if x == 0 {
		return "0"
	}
	if a := math.Abs(x); a >= 1e-4 && a < 1e9 {
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 4, 64), 64); err == nil {
			s = strconv.FormatFloat(r, 'f', -1, 64)
		}
		return s
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && c != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":  fmtNum,
	"amt":  func(a privacy.Amount) string { return fmtNum(a.Float64()) },
	"int":  formatInt,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"join": func(s []string) string { return strings.Join(s, ", ") },
	"add":  func(a, b float64) float64 { return a + b },
}).Parse(reportHTML))

func (r *ReleaseReport) RenderHTML() ([]byte, error) {
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, r.view()); err != nil {
		return nil, fmt.Errorf("release report: render html: %w", err)
	}
	return buf.Bytes(), nil
}

const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>Release report {{.R.ReleaseID}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1d2329; margin: 0; background: #f4f5f7; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d8dde3; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: #5b6570; margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6e9ed; vertical-align: middle; }
th { background: #f0f2f5; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0; }
dl.facts dt { color: #5b6570; }
dl.facts dd { margin: 0; font-weight: 500; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre.job { background: #f6f8fa; border: 1px solid #d8dde3; padding: 10px 12px; overflow-x: auto; white-space: pre; }
.legend span { display: inline-block; margin-right: 16px; }
.sw { display: inline-block; width: 11px; height: 11px; vertical-align: -1px; margin-right: 5px; border: 1px solid #0003; }
.note { color: #5b6570; font-size: 13px; }
.warn { color: #a4262c; font-weight: 600; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; fill: #1d2329; }
section.internal { margin-top: 32px; border: 2px dashed #b3261e; background: repeating-linear-gradient(135deg, #fff6f5, #fff6f5 12px, #fdeceb 12px, #fdeceb 24px); padding: 4px 18px 14px; }
section.internal h2 { color: #b3261e; border-bottom-color: #e8b4b0; }
section.internal table th { background: #f9dcd9; }
.badge { display: inline-block; background: #b3261e; color: #fff; font-weight: bold; font-size: 11px; letter-spacing: .06em; padding: 2px 7px; border-radius: 3px; vertical-align: 2px; }
</style>
</head>
<body>
<main>
<h1>Release report</h1>
<p class="sub">{{.R.Description}}</p>

<h2 id="release">Release</h2>
<dl class="facts">
<dt>Release id</dt><dd><code>{{.R.ReleaseID}}</code></dd>
<dt>Job</dt><dd>{{.R.Job}}</dd>
<dt>Dataset</dt><dd>{{.R.Dataset}}</dd>
<dt>Purpose</dt><dd>{{.R.Purpose}}</dd>
<dt>Run by</dt><dd>{{.R.RunBy}} on {{.R.Host}}</dd>
<dt>Budget charged</dt><dd>{{time .R.ReservedAt}}</dd>
<dt>Noise drawn</dt><dd>{{time .R.Created}}</dd>
<dt>Report written</dt><dd>{{time .R.Generated}}</dd>
<dt>Mechanism</dt><dd>{{.R.Noise}} noise; every released row stands on at least k = {{.R.K}} people</dd>
<dt>privagg version</dt><dd>{{.R.PrivaggVersion}}</dd>
</dl>

<h2 id="budget">Privacy budget</h2>
<p>This release spent <strong>epsilon {{amt .R.Budget.Epsilon}}</strong> and <strong>delta {{amt .R.Budget.Delta}}</strong> of the budget of dataset <strong>{{.R.Dataset}}</strong>{{with .R.Budget.Dataset}}{{if .PeriodStart}} for the period {{time .PeriodStart}} to {{time .PeriodEnd}}{{else}} (a lifetime budget){{end}}{{end}}. The charge is permanent: there are no refunds.</p>
{{range .Bars}}<h3>{{.Label}}: {{.Spent}} spent of {{.Total}}, {{.Remaining}} remaining</h3>
<svg width="560" height="30" viewBox="0 0 560 30" role="img" aria-label="{{.Label}} budget: {{.Spent}} spent of {{.Total}}, of which {{.Own}} by this release; {{.Remaining}} remaining">
<rect x="0" y="0" width="560" height="22" fill="#e9edf1" stroke="#aab4be"/>
<rect x="{{.Before.X}}" y="0" width="{{.Before.W}}" height="22" fill="#8a96a3"/>
<rect x="{{.This.X}}" y="0" width="{{.This.W}}" height="22" fill="#1f6feb"/>
<rect x="{{.Left.X}}" y="0" width="{{.Left.W}}" height="22" fill="#2da44e" fill-opacity="0.35"/>
</svg>
{{if .Over}}<p class="warn">More has been spent than the current budget allows (the budget was lowered after these spends).</p>{{end}}
<p class="legend"><span><i class="sw" style="background:#8a96a3"></i>spent by earlier releases: {{.SpentBefore}}</span><span><i class="sw" style="background:#1f6feb"></i>this release: {{.Own}}</span><span><i class="sw" style="background:#9fd8ae"></i>remaining: {{.Remaining}}</span></p>
{{end}}
<p class="note">Budget status of the dataset when this release was stored, this release included. Amounts are rounded to 4 significant digits here; report.json holds them exactly.</p>

<h2 id="accuracy">Outputs and expected error</h2>
<p class="note">Every released number carries differential-privacy noise. The bars show the expected error around the true value: the box is ±1 standard deviation of the noise, the whisker the 95% confidence half-width (the <code>_ci95</code> column of the table). Mean and variance are more precise in rows standing on more people. The values are the plan's (privagg plan); no data value is shown here.</p>
{{range .Outputs}}<h3>Output <code>{{.O.Name}}</code>: {{int .O.Rows}} rows released</h3>
<p>Group by {{join .O.GroupBy}}; each person counts in at most L0 = {{.O.L0}} of its rows; {{.Keys}}. This output spends epsilon {{num .O.Epsilon}}, delta {{num .O.Delta}}.{{with .O.Selection}} Partition selection (epsilon {{num .Epsilon}}, delta {{num .Delta}}, k = {{.K}}): a row needs {{int .People50}} people for a 50% and {{int .People95}} for a 95% chance to be released.{{end}}</p>
<table>
<thead><tr><th>metric</th><th>type</th><th>mechanism</th><th>epsilon</th><th>delta</th><th>L0</th><th>Linf</th><th>expected error</th><th>error bars</th></tr></thead>
<tbody>
{{range .Metrics}}<tr><td><code>{{.M.Name}}</code></td><td>{{.M.Type}}</td><td>{{.M.Mechanism}}</td><td class="num">{{num .M.Epsilon}}</td><td class="num">{{num .M.Delta}}</td><td class="num">{{.M.L0}}</td><td class="num">{{if gt (len .M.Components) 1}}{{range $i, $c := .M.Components}}{{if $i}}<br/>{{end}}{{$c.Stat}}: {{num $c.LInf}}{{end}}{{else}}{{num .M.LInf}}{{end}}</td><td>{{if .Note}}{{.Note}}{{else}}{{.Error}}{{end}}</td><td>{{if .Note}}<span class="note">the error depends on how spread out the data are</span>{{end}}{{with .Chart}}<svg width="360" height="{{.Height}}" viewBox="0 0 360 {{.Height}}" role="img" aria-label="expected error">
<line x1="{{.Center}}" y1="0" x2="{{.Center}}" y2="{{.AxisY}}" stroke="#c5ccd3" stroke-dasharray="3 3"/>
<line x1="{{.Left}}" y1="{{.AxisY}}" x2="{{.Right}}" y2="{{.AxisY}}" stroke="#8a96a3"/>
<text x="{{.Left}}" y="{{add .AxisY 13}}" text-anchor="middle">-{{.AxisLabel}}</text>
<text x="{{.Center}}" y="{{add .AxisY 13}}" text-anchor="middle">true value</text>
<text x="{{.Right}}" y="{{add .AxisY 13}}" text-anchor="middle">+{{.AxisLabel}}</text>
{{range .Rows}}<text x="0" y="{{add .Y 4}}">{{.Label}}</text>
{{if .SDW}}<rect x="{{.SDLeft}}" y="{{add .Y -5}}" width="{{.SDW}}" height="10" fill="#1f6feb" fill-opacity="0.3" stroke="#1f6feb"/>
{{end}}<line x1="{{.CILeft}}" y1="{{.Y}}" x2="{{.CIRight}}" y2="{{.Y}}" stroke="#1f3b57" stroke-width="1.5"/>
<line x1="{{.CILeft}}" y1="{{add .Y -6}}" x2="{{.CILeft}}" y2="{{add .Y 6}}" stroke="#1f3b57" stroke-width="1.5"/>
<line x1="{{.CIRight}}" y1="{{add .Y -6}}" x2="{{.CIRight}}" y2="{{add .Y 6}}" stroke="#1f3b57" stroke-width="1.5"/>
<circle cx="{{.Center}}" cy="{{.Y}}" r="3" fill="#1f3b57"/>
{{end}}</svg>{{end}}</td></tr>
{{end}}</tbody>
</table>
{{end}}
<h2 id="job">Job file</h2>
<p class="note"><code>{{.R.JobFile.Path}}</code>, sha256 <code>{{.R.JobFile.SHA256}}</code></p>
<pre class="job">{{.R.JobFile.Text}}</pre>

<section class="internal" id="internal">
<h2><span class="badge">INTERNAL</span> Not for marketing: exact, non-private counts</h2>
<p class="warn">{{.Internal.Note}}</p>
<table>
<thead><tr><th>input</th><th class="num">rows</th></tr></thead>
<tbody>
<tr><td>read</td><td class="num">{{int .Internal.RowsRead}}</td></tr>
<tr><td>rejected as malformed</td><td class="num">{{int .Internal.RowsRejected}}</td></tr>
<tr><td>excluded: no consent for {{.R.Purpose}}</td><td class="num">{{int .Internal.RowsExcludedByConsent}}</td></tr>
</tbody>
</table>
<table>
<thead><tr><th>output</th><th class="num">candidate partitions</th><th class="num">released</th><th class="num">suppressed</th></tr></thead>
<tbody>
{{range .Internal.Outputs}}<tr><td><code>{{.Name}}</code></td><td class="num">{{int .Partitions}}</td><td class="num">{{int .Released}}</td><td class="num">{{int .Suppressed}}</td></tr>
{{end}}</tbody>
</table>
</section>
</main>
</body>
</html>
`
