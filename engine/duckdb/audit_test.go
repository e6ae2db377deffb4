package duckdb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/privagg/privagg/internal/progress"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/verify"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// The DP audit of issue 6: a black-box test that runs jobs many times on
// neighbouring inputs D and D' (D plus one person at maximum contribution)
// and bounds epsilon from below with Clopper-Pearson intervals on events
// fixed before any run (see verify.EpsilonLowerBound). A check fails if the
// bound exceeds the epsilon the plan claims for that metric (or for partition
// selection). Each check's false-failure rate is verify.Alpha.
//
// Code path. TestVerifyAuditRun runs the whole job through Run (DuckDB
// readers, consent, bounding SQL, aggregate SQL, ledger reservation,
// privacy.Releaser with the library's noise, sink, publish) and reads the
// published CSV. Run opens DuckDB and the ledger each time, so the large
// audits (TestVerifyAudit*) re-run only the release step of Run, release():
// the engine, the input views and the ledger reservation are made once, and
// every trial draws a fresh secret L0 seed, re-runs the bounding and
// aggregate SQL and hands the batches to a new privacy.Releaser with the
// library noise, exactly as Run does.
//
// Power. The same audit must flag mechanisms broken on purpose, built here
// in test code only: a noise.Noise that ignores Linf, one that doubles
// epsilon, bounding SQL without the L0 limit, and a k threshold on the true
// count instead of DP partition selection.

// auditMetricsJob: one output with public partitions, L0 = 1, four metrics.
// The job's epsilon 4 gives each metric a share of exactly 1.
func auditMetricsJob(kind privacy.NoiseKind) string {
	return fmt.Sprintf(`version: 1
name: audit
dataset: audit
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: 4, delta: 1e-3, k: 1, max_partitions_per_unit: 1, noise: %s}
outputs:
  - name: t
    group_by: [campaign]
    public_partitions: {campaign: [p1, p2]}
    metrics:
      - {name: events, type: count, max_per_unit: 3}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: value, min: 0, max: 100}
      - {name: avg, type: mean, column: value, min: 0, max: 100}
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`, kind)
}

// auditSelectionJob: keys from the data (DP partition selection with the k
// pre-threshold), L0 = 1. Epsilon 2 gives selection a share of 1.
func auditSelectionJob(kind privacy.NoiseKind, k int) string {
	return fmt.Sprintf(`version: 1
name: audit_sel
dataset: audit
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: 2, delta: 1e-3, k: %d, max_partitions_per_unit: 1, noise: %s}
outputs:
  - name: t
    group_by: [campaign]
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`, k, kind)
}

// auditHarness re-runs the release step of one job on one input.
type auditHarness struct {
	t    *testing.T
	qp   *queryPlan
	plan *privacy.Plan
	eng  *DB
	res  *privacy.Reservation
	nz   noise.Noise
	log  *slog.Logger
	// selectByThreshold, when set, replaces DP partition selection with a
	// plain threshold on the true unit count (broken on purpose).
	selectByThreshold int64
	// cached holds, per output, the batches of the production SQL when the
	// input gives the same batches for every L0 seed (no person above L0):
	// trials then re-run only the privacy.Releaser on them.
	cached []cachedOutput
}

// cachedOutput is one output's production batches: with keys from the data,
// the phase-1 batch of selection and the phase-2 statistics of every
// partition with data (no person above L0, so a partition's phase-2
// statistics do not depend on which others are selected); with public
// partitions, the aggregates only.
type cachedOutput struct {
	units, stats []arrow.RecordBatch
}

func (c cachedOutput) release() {
	for _, r := range append(c.units, c.stats...) {
		r.Release()
	}
}

type harnessOption func(*auditHarness, *job.Job)

// withNoise replaces the library noise (broken mechanisms only).
func withNoise(nz noise.Noise) harnessOption { return func(h *auditHarness, _ *job.Job) { h.nz = nz } }

// withoutL0 builds the bounding SQL without the L0 limit, while the plan
// (and so the noise) still assumes it: bounding broken on purpose.
func withoutL0() harnessOption {
	return func(h *auditHarness, j *job.Job) {
		cp := *j
		cp.Outputs = append([]job.Output(nil), j.Outputs...)
		for i := range cp.Outputs {
			cp.Outputs[i].MaxPartitionsPerUnit = 1000 // more than any person has
		}
		qp, err := newQueryPlan(&cp, secretSeed())
		if err != nil {
			h.t.Fatal(err)
		}
		h.qp = qp
	}
}

// withCachedAggregates runs the bounding and aggregate SQL once, checks that
// other secret seeds give byte-identical batches (no person has more than
// L0 partitions, so the seed cannot matter), and lets every trial re-run only
// the Releaser (selection and noise) on these batches.
func withCachedAggregates() harnessOption {
	return func(h *auditHarness, _ *job.Job) { h.cached = []cachedOutput{} }
}

// withThresholdSelection releases a partition iff its true unit count is at
// least k: no DP selection (broken on purpose).
func withThresholdSelection(k int64) harnessOption {
	return func(h *auditHarness, _ *job.Job) { h.selectByThreshold = k }
}

func newAuditHarness(t *testing.T, jobYAML, events string, opts ...harnessOption) *auditHarness {
	t.Helper()
	ctx := context.Background()
	job := testfixture.CSVJob(t, jobYAML, events, 1e6)
	plan, err := privacy.NewPlan(job.PrivacySpec())
	if err != nil {
		t.Fatal(err)
	}
	qp, err := newQueryPlan(job, secretSeed())
	if err != nil {
		t.Fatal(err)
	}
	h := &auditHarness{t: t, qp: qp, plan: plan, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(h, job)
	}
	h.eng, err = OpenDB(ctx, DBOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.eng.Close() })
	if err := prepareInput(ctx, h.eng, h.qp); err != nil {
		t.Fatal(err)
	}
	if h.cached != nil {
		h.cacheAggregates(ctx)
	}
	led, err := privacy.OpenLedger(job.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	h.res, err = led.Reserve(ctx, privacy.ReserveRequest{
		ReleaseID: "audit-1", Dataset: job.Dataset, Job: job.Name, Purpose: job.Purpose,
		Epsilon: plan.Total.Epsilon, Delta: plan.Total.Delta, Outputs: job.OutputNames(), OutputDir: job.Output.Dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// trial runs the release step once with a fresh secret L0 seed.
func (h *auditHarness) trial() verify.Released {
	h.t.Helper()
	ctx := context.Background()
	h.qp.seed = secretSeed()
	// A fresh Run has no pairs table yet: release() builds it with this seed.
	clear(h.qp.prepared)
	clear(h.qp.rebound)
	if h.selectByThreshold > 0 {
		return h.thresholdTrial(ctx)
	}
	var rel *privacy.Release
	var err error
	if h.cached != nil {
		rel, err = h.releaseCached(ctx)
	} else {
		rel, _, err = h.release(ctx)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	defer rel.Free()
	out := verify.Released{}
	for _, tab := range rel.Tables() {
		rec := tab.Record()
		ng := len(tab.GroupBy())
		for row := 0; row < int(rec.NumRows()); row++ {
			var key []string
			for c := 0; c < ng; c++ {
				key = append(key, rec.Column(c).(*array.String).Value(row))
			}
			cols := map[string]float64{}
			for c := ng; c < int(rec.NumCols()); c++ {
				switch a := rec.Column(c).(type) {
				case *array.Int64:
					cols[rec.ColumnName(c)] = float64(a.Value(row))
				case *array.Float64:
					cols[rec.ColumnName(c)] = a.Value(row)
				}
			}
			out[tab.Name()+"/"+strings.Join(key, "|")] = cols
		}
	}
	return out
}

// aggregates runs the production bounding and aggregate SQL of output o:
// with keys from the data, phase 1 and, with every partition with data
// selected, phase 2.
func (h *auditHarness) aggregates(ctx context.Context, o int) cachedOutput {
	h.t.Helper()
	// As in release(): the output's tables (built with the current seed),
	// then the aggregate queries.
	delete(h.qp.prepared, o)
	delete(h.qp.rebound, o)
	if err := prepareOutput(ctx, h.eng, h.qp, o); err != nil {
		h.t.Fatal(err)
	}
	if !h.qp.twoPhase(o) {
		return cachedOutput{stats: h.query(ctx, h.qp.aggregateSQL(o, "("+h.qp.boundedSQL(o)+")"))}
	}
	units := h.query(ctx, h.qp.selectionSQL(o))
	if err := h.eng.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT %s FROM %s WHERE %s > 0",
		selectedTable(o), colPid, statsTable(o), q(privacy.UnitsColumn))); err != nil {
		h.t.Fatal(err)
	}
	return cachedOutput{units: units, stats: h.query(ctx, h.qp.releaseSQL(o, h.qp.selectedStats(o)))}
}

// query reads all batches of a query.
func (h *auditHarness) query(ctx context.Context, sql string) []arrow.RecordBatch {
	h.t.Helper()
	rr, err := h.eng.QueryArrow(ctx, sql)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rr.Release()
	var recs []arrow.RecordBatch
	for rr.Next() {
		rec := rr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rr.Err(); err != nil {
		h.t.Fatal(err)
	}
	return recs
}

func (h *auditHarness) cacheAggregates(ctx context.Context) {
	h.t.Helper()
	same := func(a, b []arrow.RecordBatch) bool {
		if len(a) != len(b) {
			return false
		}
		for j := range a {
			if !array.RecordEqual(a[j], b[j]) {
				return false
			}
		}
		return true
	}
	for o := range h.qp.job.Outputs {
		var first cachedOutput
		for i := range 3 {
			h.qp.seed = secretSeed()
			c := h.aggregates(ctx, o)
			if i == 0 {
				first = c
				continue
			}
			ok := same(c.units, first.units) && same(c.stats, first.stats)
			c.release()
			if !ok {
				h.t.Fatalf("output %d: the aggregate batches depend on the L0 seed; this input cannot be cached", o)
			}
		}
		h.cached = append(h.cached, first)
		h.t.Cleanup(first.release)
	}
}

// releaseCached is release() on the cached batches: a new privacy.Releaser
// with the library noise (or the broken double), selection and noise drawn
// afresh. With keys from the data, phase 2's batch is the cached statistics
// of the selected partitions.
func (h *auditHarness) releaseCached(ctx context.Context) (*privacy.Release, error) {
	job := h.qp.job
	r, err := h.newReleaser(privacy.Metadata{Job: job.Name, Dataset: job.Dataset, Purpose: job.Purpose})
	if err != nil {
		return nil, err
	}
	for o, out := range job.Outputs {
		c := h.cached[o]
		stats := c.stats
		if c.units != nil {
			units, err := array.NewRecordReader(c.units[0].Schema(), c.units)
			if err != nil {
				return nil, err
			}
			sel, err := r.SelectPartitions(ctx, out.Name, units)
			units.Release()
			if err != nil {
				return nil, err
			}
			stats = selectedRows(sel, c.stats, len(out.GroupBy))
			defer func() {
				for _, r := range stats {
					r.Release()
				}
			}()
		}
		rr, err := array.NewRecordReader(c.stats[0].Schema(), stats)
		if err != nil {
			return nil, err
		}
		err = r.ReleaseOutput(ctx, out.Name, rr, nil)
		rr.Release()
		if err != nil {
			return nil, err
		}
	}
	return r.Finish()
}

// selectedRows slices the rows of recs whose keys (the first nkeys columns)
// sel selected. The caller releases the slices.
func selectedRows(sel *privacy.Selection, recs []arrow.RecordBatch, nkeys int) []arrow.RecordBatch {
	keyOf := func(rec arrow.RecordBatch, row int) string {
		var k []string
		for c := range nkeys {
			col := rec.Column(c).(*array.String)
			if col.IsNull(row) {
				k = append(k, "\x00")
			} else {
				k = append(k, col.Value(row))
			}
		}
		return strings.Join(k, "\x01")
	}
	keys := sel.Keys(nil)
	defer keys.Release()
	want := map[string]bool{}
	for row := 0; row < int(keys.NumRows()); row++ {
		want[keyOf(keys, row)] = true
	}
	var out []arrow.RecordBatch
	for _, rec := range recs {
		for row := 0; row < int(rec.NumRows()); row++ {
			if want[keyOf(rec, row)] {
				out = append(out, rec.NewSlice(int64(row), int64(row+1)))
			}
		}
	}
	return out
}

// thresholdTrial is the broken selection: the real bounding and aggregate
// SQL, then a partition is kept iff its true unit count reaches k.
func (h *auditHarness) thresholdTrial(ctx context.Context) verify.Released {
	out := verify.Released{}
	for o, spec := range h.qp.job.Outputs {
		var c cachedOutput
		if h.cached != nil {
			c = h.cached[o]
		} else {
			c = h.aggregates(ctx, o)
			defer c.release()
		}
		recs := c.units // phase 1: the units selection sees
		if recs == nil {
			recs = c.stats
		}
		for _, rec := range recs {
			units := rec.Column(len(spec.GroupBy)).(*array.Int64)
			for row := 0; row < int(rec.NumRows()); row++ {
				if units.Value(row) >= h.selectByThreshold {
					out[spec.Name+"/"+rec.Column(0).(*array.String).Value(row)] = map[string]float64{"people": float64(units.Value(row))}
				}
			}
		}
	}
	return out
}

// runAudit runs n trials on each of D and D' and returns, per event, the
// epsilon lower bound.
func runAudit(t *testing.T, d, d2 *auditHarness, n int, events []verify.Event) []verify.Result {
	t.Helper()
	res := make([]verify.Result, len(events))
	for i := range res {
		res[i] = verify.Result{Event: events[i], N: n}
	}
	for range n {
		a, b := d.trial(), d2.trial()
		for i, e := range events {
			if e.Hit(a) {
				res[i].HitsD++
			}
			if e.Hit(b) {
				res[i].HitsD2++
			}
		}
	}
	for i := range res {
		lb, err := verify.EpsilonLowerBound(res[i].HitsD, res[i].HitsD2, n, res[i].Event.Claimed.Delta, verify.Alpha)
		if err != nil {
			t.Fatal(err)
		}
		res[i].EpsLB = lb
		res[i].Exceeded = lb > res[i].Event.Claimed.Epsilon
	}
	return res
}

// metricEvents are the events of the metrics job on (D, D1): each metric's
// verify.Released value in p1 at or above its true value on D1 (plus one noise
// standard deviation for Gaussian noise, where the privacy loss sits in the
// tail). Thresholds come from the job's parameters and the hand-computed
// true values, never from a run.
func metricEvents(plan *privacy.Plan) []verify.Event {
	out := plan.Outputs[0]
	// True values on D1 in p1: count min(5, 3) + 20 = 23; people 21; revenue
	// 20*10 + min(5000, 100) = 300; avg (200 + 100) / 21.
	truth := map[string]float64{"events": 23, "people": 21, "revenue": 300, "avg": 300.0 / 21}
	var evs []verify.Event
	for i, mp := range out.Metrics {
		thr := truth[mp.Spec.Name]
		if plan.Spec.Noise == privacy.Gaussian && len(mp.Components) == 1 {
			thr += mp.Components[0].StdDev
		}
		evs = append(evs, verify.Event{
			Name:    fmt.Sprintf("%s %s >= %.4g", mp.Spec.Kind, mp.Spec.Name, thr),
			Claimed: plan.Guarantee(0, i),
			Hit:     verify.AtLeast("t/p1", mp.Spec.Name, thr),
		})
	}
	return evs
}

// selectionEvent: partition p1 is verify.Released. Its claim is the selection share.
func selectionEvent(plan *privacy.Plan) verify.Event {
	return verify.Event{Name: "partition p1 released", Claimed: plan.Outputs[0].Selection.Share, Hit: func(r verify.Released) bool { _, ok := r["t/p1"]; return ok }}
}

const (
	releasePath = "release(): SQL bounding+aggregates each trial, Releaser, library noise"
	cachedPath  = "Releaser + library noise on the production aggregate batch"
)

// TestVerifyAuditMetrics audits count, count_units, sum and mean with
// Laplace and Gaussian noise on (D, D1). No person has more than L0
// partitions there, so the aggregate batch does not depend on the L0 seed
// (checked) and trials re-run the Releaser only.
func TestVerifyAuditMetrics(t *testing.T) {
	n := verify.Size(4000, 100000)
	for _, kind := range []privacy.NoiseKind{privacy.Laplace, privacy.Gaussian} {
		t.Run(string(kind), func(t *testing.T) {
			job := auditMetricsJob(kind)
			d := newAuditHarness(t, job, verify.AuditEvents(), withCachedAggregates())
			d1 := newAuditHarness(t, job, verify.AuditEvents("p1"), withCachedAggregates())
			verify.Report(t, "dp-audit", cachedPath+", "+string(kind), false, runAudit(t, d, d1, n, metricEvents(d.plan)))
		})
	}
}

// TestVerifyAuditL0 audits contribution bounding on (D, D2), where x has
// one partition more than L0: every D2 trial re-runs the bounding SQL with a
// fresh secret seed.
func TestVerifyAuditL0(t *testing.T) {
	n := verify.Size(600, 5000)
	kinds := []privacy.NoiseKind{privacy.Laplace}
	if verify.Full() {
		kinds = append(kinds, privacy.Gaussian)
	}
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			job := verify.L0Job(kind)
			d := newAuditHarness(t, job, verify.AuditEvents(), withCachedAggregates())
			d2 := newAuditHarness(t, job, verify.AuditEvents("p1", "p2", "p3"))
			verify.Report(t, "dp-audit", releasePath+", "+string(kind), false, runAudit(t, d, d2, n, []verify.Event{verify.L0Event(d.plan)}))
		})
	}
}

// TestVerifyAuditSelection audits DP partition selection with the k
// pre-threshold: p1 has 20 people in D and 21 in D1, with k = 14 so the
// release probability is neither 0 nor 1.
func TestVerifyAuditSelection(t *testing.T) {
	n := verify.Size(4000, 100000)
	for _, kind := range []privacy.NoiseKind{privacy.Laplace, privacy.Gaussian} {
		t.Run(string(kind), func(t *testing.T) {
			job := auditSelectionJob(kind, 14)
			d := newAuditHarness(t, job, verify.AuditEvents(), withCachedAggregates())
			d1 := newAuditHarness(t, job, verify.AuditEvents("p1"), withCachedAggregates())
			verify.Report(t, "dp-audit", cachedPath+", "+string(kind), false, runAudit(t, d, d1, n, []verify.Event{selectionEvent(d.plan)}))
		})
	}
}

// auditTwoPhaseJob: keys from the data, L0 = 1, k = 2, one count_units
// metric. Epsilon 3 gives selection 1.5 and the metric 1.5.
func auditTwoPhaseJob(kind privacy.NoiseKind) string {
	return fmt.Sprintf(`version: 1
name: audit_two_phase
dataset: audit
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: 3, delta: 1e-3, k: 2, max_partitions_per_unit: 1, noise: %s}
outputs:
  - name: t
    group_by: [campaign]
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`, kind)
}

// TestVerifyAuditTwoPhase audits the two-phase release on (D, D3): D3 adds
// x in p1, p2 and p3 (20 people each) and in five partitions of its own
// (q1..q5, never selected: one person, k = 2). Phase 1 keeps one of x's
// eight partitions; when it is a q, phase 2 bounds x again among the
// selected p1..p3, so every trial of D3 runs the whole two-phase SQL with a
// fresh secret seed. The event (p1, p2 and p3 released, people summing to at
// least 61, the true sum on D3) observes selection and metric, so its claim
// is the output's total: selection plus metric share (sequential
// composition).
func TestVerifyAuditTwoPhase(t *testing.T) {
	n := verify.Size(400, 5000)
	kinds := []privacy.NoiseKind{privacy.Laplace}
	if verify.Full() {
		kinds = append(kinds, privacy.Gaussian)
	}
	d3 := verify.AuditEvents("p1", "p2", "p3")
	for q := 1; q <= 5; q++ {
		for range 5 {
			d3 += fmt.Sprintf("x,q%d,1000,true\n", q)
		}
	}
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			job := auditTwoPhaseJob(kind)
			d := newAuditHarness(t, job, verify.AuditEvents(), withCachedAggregates())
			d2 := newAuditHarness(t, job, d3)
			ev := verify.Event{
				Name:    "p1, p2, p3 released with people summing to >= 61 (x in 8 partitions, 3 selectable, L0 = 1)",
				Claimed: d.plan.Outputs[0].Share,
				Hit: func(r verify.Released) bool {
					sum := 0.0
					for _, p := range []string{"p1", "p2", "p3"} {
						row, ok := r["t/"+p]
						if !ok {
							return false
						}
						sum += row["people"]
					}
					return sum >= 61
				},
			}
			verify.Report(t, "dp-audit", releasePath+" (two phases), "+string(kind), false, runAudit(t, d, d2, n, []verify.Event{ev}))
		})
	}
}

// brokenNoise wraps the library's Laplace noise and breaks its calibration.
type brokenNoise struct {
	noise.Noise
	ignoreLinf bool    // sensitivity Linf taken as 1
	epsFactor  float64 // epsilon multiplied by this
}

func (b brokenNoise) params(linf float64, eps float64) (float64, float64) {
	if b.ignoreLinf {
		linf = 1
	}
	if b.epsFactor > 0 {
		eps *= b.epsFactor
	}
	return linf, eps
}

func (b brokenNoise) AddNoiseInt64(x, l0, linf int64, eps, del float64) (int64, error) {
	l, e := b.params(float64(linf), eps)
	return b.Noise.AddNoiseInt64(x, l0, int64(l), e, del)
}

func (b brokenNoise) AddNoiseFloat64(x float64, l0 int64, linf, eps, del float64) (float64, error) {
	l, e := b.params(linf, eps)
	return b.Noise.AddNoiseFloat64(x, l0, l, e, del)
}

// TestVerifyAuditPower: the audit flags each mechanism broken on purpose.
func TestVerifyAuditPower(t *testing.T) {
	n := verify.Size(4000, 100000)
	job := auditMetricsJob(privacy.Laplace)
	pick := func(evs []verify.Event, names ...string) []verify.Event {
		var out []verify.Event
		for _, e := range evs {
			for _, nm := range names {
				if strings.Contains(e.Name, " "+nm+" ") {
					out = append(out, e)
				}
			}
		}
		return out
	}
	t.Run("sensitivity ignores Linf", func(t *testing.T) {
		nz := withNoise(brokenNoise{Noise: noise.Laplace(), ignoreLinf: true})
		d, d1 := newAuditHarness(t, job, verify.AuditEvents(), nz, withCachedAggregates()), newAuditHarness(t, job, verify.AuditEvents("p1"), nz, withCachedAggregates())
		// count has Linf 3 and sum Linf 100: both must be caught.
		res := runAudit(t, d, d1, n, pick(metricEvents(d.plan), "events", "revenue"))
		verify.Report(t, "power", "noise ignoring Linf", true, res)
	})
	t.Run("epsilon doubled", func(t *testing.T) {
		nz := withNoise(brokenNoise{Noise: noise.Laplace(), epsFactor: 2})
		d, d1 := newAuditHarness(t, job, verify.AuditEvents(), nz, withCachedAggregates()), newAuditHarness(t, job, verify.AuditEvents("p1"), nz, withCachedAggregates())
		res := runAudit(t, d, d1, n, pick(metricEvents(d.plan), "people"))
		verify.Report(t, "power", "noise with epsilon doubled", true, res)
	})
	t.Run("L0 not enforced", func(t *testing.T) {
		l0 := verify.L0Job(privacy.Laplace)
		d, d2 := newAuditHarness(t, l0, verify.AuditEvents(), withoutL0(), withCachedAggregates()), newAuditHarness(t, l0, verify.AuditEvents("p1", "p2", "p3"), withoutL0())
		res := runAudit(t, d, d2, verify.Size(1000, 5000), []verify.Event{verify.L0Event(d.plan)})
		verify.Report(t, "power", "bounding SQL without the L0 limit", true, res)
	})
	t.Run("k without DP selection", func(t *testing.T) {
		// p1 has k-1 = 20 people in D and k = 21 in D1.
		sel := auditSelectionJob(privacy.Laplace, 21)
		d := newAuditHarness(t, sel, verify.AuditEvents(), withThresholdSelection(21), withCachedAggregates())
		d1 := newAuditHarness(t, sel, verify.AuditEvents("p1"), withThresholdSelection(21), withCachedAggregates())
		res := runAudit(t, d, d1, min(n, 1000), []verify.Event{selectionEvent(d.plan)})
		verify.Report(t, "power", "k threshold on the true count, no DP selection", true, res)
	})
}

// withTestNoise runs fn with the harness's noise (a broken mechanism), or the
// library's when none is set.
func (h *auditHarness) withTestNoise(fn func()) {
	if h.nz != nil {
		defer testfixture.WithNoise(h.t, h.nz)()
	}
	fn()
}

func (h *auditHarness) release(ctx context.Context) (rel *privacy.Release, stats map[string]privacy.OutputStats, err error) {
	h.withTestNoise(func() { rel, stats, err = release(ctx, h.eng, h.qp, h.plan, h.res, h.log, progress.Nop{}) })
	return rel, stats, err
}

func (h *auditHarness) newReleaser(meta privacy.Metadata) (r *privacy.Releaser, err error) {
	h.withTestNoise(func() { r, err = privacy.NewReleaser(h.plan, h.res, meta, privacy.ReleaserOptions{}) })
	return r, err
}
