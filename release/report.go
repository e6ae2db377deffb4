package release

import (
	"bytes"
	"context"
	_ "embed"
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
	// ConsentWaiver is the job's consent.waived reason: no consent filter
	// was applied. Empty when consent was applied per person.
	ConsentWaiver string `json:"consent_waiver,omitempty"`
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
	// Gaussian is, with Gaussian noise, the composition of the release's
	// noised statistics, as (ε, δ) and as zCDP ρ (privacy.GaussianBlock).
	Gaussian *privacy.GaussianBlock `json:"gaussian_composition,omitempty"`
	// Bounds is the budget of the private estimates of auto bounds and of
	// what bounding removed (privacy.bounds_share); nil without.
	Bounds *privacy.BoundsPlan `json:"bound_estimates,omitempty"`

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
	// Weight is the output's weight in the budget split, Fraction its part
	// of the job's budget.
	Weight   float64 `json:"weight"`
	Fraction float64 `json:"fraction_of_job"`
	// Rows is the number of rows of the published table.
	Rows      int64                  `json:"rows"`
	Selection *explain.PlanSelection `json:"selection,omitempty"`
	Metrics   []ReportMetric         `json:"metrics"`
	// Bounds are the bounds the output was made with (the auto ones as
	// estimated) and the estimate of what bounding removed; nil when the
	// job estimated nothing.
	Bounds *privacy.OutputBounds `json:"bounds,omitempty"`
}

// ReportMetric is the plan of one metric (from Explain) with the
// contribution bounds its release used.
type ReportMetric struct {
	explain.PlanMetric
	L0   int64   `json:"l0"`   // partitions one person can affect
	LInf float64 `json:"linf"` // per-partition sensitivity of the noised statistic
	// Bias is the correction for what bounding removed, when the released
	// values were corrected (their intervals then cover it too).
	Bias *privacy.Bias `json:"bias,omitempty"`
}

// ReportJobFile is the job file the release ran.
type ReportJobFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Text   string `json:"text"`
}

// RowCounts are a run's exact row counts. They are not differentially
// private.
type RowCounts struct {
	RowsRead              int64 `json:"rows_read"`
	RowsRejected          int64 `json:"rows_rejected"`
	RowsExcludedByConsent int64 `json:"rows_excluded_by_consent"`
	// ConsentRecordsRead and ConsentRecordsRejected count the consent
	// table's records for the purpose and the malformed ones (0 without a
	// consent table).
	ConsentRecordsRead     int64 `json:"consent_records_read,omitempty"`
	ConsentRecordsRejected int64 `json:"consent_records_rejected,omitempty"`
}

// RunCounts are what the release report's internal section shows of a
// run: its exact row counts and, per output, its partition counts.
type RunCounts struct {
	RowCounts
	Outputs map[string]privacy.OutputStats
}

// ReportInternal holds the run's exact counts. They are not differentially
// private.
type ReportInternal struct {
	Note string `json:"note"`
	RowCounts
	Outputs []ReportInternalOutput `json:"outputs"`
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
	plan   *privacy.Plan // the plan rel was released under
	rel    *privacy.Release
	record *privacy.ReleaseRecord // the ledger's record of the release
	status privacy.BudgetStatus   // the dataset's budget with the release charged
	counts RunCounts
	runBy  string
	host   string
	now    time.Time
}

// writeReleaseReport builds the release report of rel and writes report.json
// and REPORT.html into the release store of id. Run calls it once every table
// is in the store and before the ledger marks the release stored.
func writeReleaseReport(ctx context.Context, led *privacy.Ledger, id string, job *job.Job, plan *privacy.Plan, rel *privacy.Release, counts RunCounts) error {
	rec, st, err := led.LookupStatus(ctx, id)
	if err != nil {
		return fmt.Errorf("release report: %w", err)
	}
	host, _ := os.Hostname()
	r, err := buildReleaseReport(ctx, reportInput{
		job: job, plan: plan, rel: rel, record: rec, status: st, counts: counts,
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
// and confidence intervals come from explain.FromPlan of the plan the
// release used; contribution bounds and row counts from the release itself.
func buildReleaseReport(ctx context.Context, in reportInput) (*ReleaseReport, error) {
	job, rel := in.job, in.rel
	meta := rel.Metadata()
	plan, err := explain.FromPlan(ctx, job, in.plan, "", true)
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
		ConsentWaiver:  meta.ConsentWaiver,
		RunBy:          in.runBy,
		Host:           in.host,
		ReservedAt:     in.record.ReservedAt.UTC(),
		Created:        meta.Created.UTC(),
		Generated:      in.now.UTC().Truncate(time.Second),
		Noise:          string(meta.Noise),
		K:              meta.K,
		Gaussian:       plan.Gaussian,
		Bounds:         plan.Bounds,
		Budget:         ReportBudget{Epsilon: in.record.Epsilon, Delta: in.record.Delta, Dataset: in.status},
		JobFile:        ReportJobFile{Path: job.File},
		Internal:       ReportInternal{Note: reportInternalNote, RowCounts: in.counts.RowCounts},
	}
	if job.Source != nil {
		r.JobFile.Text = string(job.Source)
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
			Epsilon: po.Spend.Epsilon, Delta: po.Spend.Delta, Weight: po.Weight, Fraction: po.Fraction,
			Rows: t.Record().NumRows(), Selection: po.Selection, Bounds: t.Bounds()}
		if b := t.Bounds(); b != nil {
			ro.L0 = int64(b.L0.Value)
		}
		infos := map[string]privacy.MetricInfo{}
		for _, mi := range t.Metrics() {
			infos[mi.Name] = mi
		}
		for _, pm := range po.Metrics {
			mi, ok := infos[pm.Name]
			if !ok {
				return nil, fmt.Errorf("release report: metric %q of output %q is not in the release", pm.Name, po.Name)
			}
			ro.Metrics = append(ro.Metrics, ReportMetric{PlanMetric: pm, L0: mi.L0, LInf: mi.LInf, Bias: mi.Bias})
		}
		r.Outputs = append(r.Outputs, ro)
		st := in.counts.Outputs[po.Name]
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
	// Amounts are exact decimals (1/15 has 25 digits); the page prints them
	// as every command does (privacy.FormatNumber) and report.json keeps
	// them exact.
	b := budgetBarView{Label: label, Total: total.Format(), Spent: spent.Format(), Remaining: remaining.Format(),
		Own: own.Format(), SpentBefore: spent.Minus(own).Format(), Over: s > t}
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

// reportHTML is the release report page: one self-contained file with
// inline CSS and SVG and no scripts.
//
//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":  fmtNum,
	"amt":  privacy.Amount.Format,
	"int":  formatInt,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"join": func(s []string) string { return strings.Join(s, ", ") },
	"add":  func(a, b float64) float64 { return a + b },
	"pct":  func(f float64) float64 { return 100 * f },
}).Parse(reportHTML))

// RenderHTML renders the report as the REPORT.html page.
func (r *ReleaseReport) RenderHTML() ([]byte, error) {
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, r.view()); err != nil {
		return nil, fmt.Errorf("release report: render html: %w", err)
	}
	return buf.Bytes(), nil
}
