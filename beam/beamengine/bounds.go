package beamengine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/privagg/privagg/privacy"
)

// The private bound estimates of a job with a bounds share
// (privacy/bounds.go, docs/bounds.md), as the embedded engine makes them
// (engine/duckdb/bounds.go), with the same definitions: the pipelines here
// compute exact histograms and sums with plain Beam aggregations and write
// them to the run folder only (workdir.go), from which the driver hands
// them to the Releaser, which draws their noise and chooses the bounds.
//
//   - pass "partitions" (before the release): per output, the histogram of
//     each person's number of the output's partitions;
//   - pass "values": with the L0 chosen, per person a random L0 of its
//     (person, partition) pairs kept, and the histograms of its largest rows
//     in a kept pair and its largest |total| per measured column;
//   - in the release pass, over the released partitions (the selected ones
//     in two phases): the DroppedSums, each person's pairs bounded again to
//     L0 among them.
//
// The kept pairs are a uniformly random subset of each person's pairs, as
// pbeam's own bounding keeps, though not the same subset: a keyed hash of
// (person, partition) orders them, so a retried bundle keeps the same ones.

// estSpec is what the estimate passes need of one output. Serialized into
// DoFns.
type estSpec struct {
	Output int
	Cols   []int  // per measured column, the index of the first metric measuring it (orow.Vals)
	Seed   string // keys the order in which a person's pairs are kept
	L0     int64  // values and dropped passes
	Caps   privacy.DroppedCaps
}

// newEstSpec is output o's estSpec.
func newEstSpec(o int, spec privacy.OutputSpec, seed string) estSpec {
	es := estSpec{Output: o, Seed: seed}
	for _, col := range spec.MeasuredColumns() {
		es.Cols = append(es.Cols, slices.IndexFunc(spec.Metrics, func(m privacy.MetricSpec) bool { return m.Column == col }))
	}
	return es
}

// newSeed is a random key for the order of the kept pairs.
func newSeed() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}

// pairVal is one (person, partition) pair's rows and, per measured column,
// its total (Has: some row had a value; a total of NULLs is NULL).
type pairVal struct {
	Rows   int64
	Totals []float64
	Has    []bool
}

// pairAgg is a pair of a person: its partition and values.
type pairAgg struct {
	Part string
	V    pairVal
}

// pairRowFn keys each row of an output by its (person, partition) pair.
type pairRowFn struct{ Cols []int }

func (f *pairRowFn) ProcessElement(r orow, emit func(string, pairVal)) {
	v := pairVal{Rows: 1, Totals: make([]float64, len(f.Cols)), Has: make([]bool, len(f.Cols))}
	for c, i := range f.Cols {
		if r.OK[i] {
			v.Totals[c], v.Has[c] = r.Vals[i], true
		}
	}
	emit(r.Unit+"\x00"+r.Part, v)
}

func mergePairs(a, b pairVal) pairVal {
	out := pairVal{Rows: a.Rows + b.Rows, Totals: make([]float64, len(a.Totals)), Has: make([]bool, len(a.Has))}
	for c := range out.Totals {
		out.Totals[c], out.Has[c] = a.Totals[c]+b.Totals[c], a.Has[c] || b.Has[c]
	}
	return out
}

// byUnit keys a pair by its person.
func byUnit(unitPart string, v pairVal) (string, pairAgg) {
	unit, part := splitUnitPart(unitPart)
	return unit, pairAgg{Part: part, V: v}
}

// byPart keys a pair by its partition (to meet the selected partitions).
func byPart(unitPart string, v pairVal) (string, pairAgg) {
	unit, part := splitUnitPart(unitPart)
	return part, pairAgg{Part: unit, V: v} // Part holds the unit until byUnitAgain
}

func selectedKey(part string) (string, bool) { return part, true }

// inSelectedFn passes on the pairs of a selected partition, keyed by
// person again.
func inSelectedFn(part string, pairs func(*pairAgg) bool, sel func(*bool) bool, emit func(string, pairAgg)) {
	var ok bool
	if !sel(&ok) {
		return
	}
	var p pairAgg
	for pairs(&p) {
		emit(p.Part, pairAgg{Part: part, V: p.V})
	}
}

// personPairs collects a person's pairs in the order its bounding keeps
// them: by a keyed hash of (person, partition).
func personPairs(seed, unit string, iter func(*pairAgg) bool) []pairAgg {
	var pairs []pairAgg
	var p pairAgg
	for iter(&p) {
		pairs = append(pairs, p)
	}
	rank := func(part string) uint64 {
		h := sha256.Sum256([]byte(seed + "\x00" + unit + "\x00" + part))
		return binary.BigEndian.Uint64(h[:8])
	}
	slices.SortFunc(pairs, func(a, b pairAgg) int {
		if ra, rb := rank(a.Part), rank(b.Part); ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		return cmpString(a.Part, b.Part)
	})
	return pairs
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// histKey names a histogram bucket in a string (Beam keys by its bytes):
// the histogram ("partitions", "rows", or "t<c>" for measured column c) and
// the bucket.
func histKey(hist string, bucket int64) string { return hist + ":" + strconv.FormatInt(bucket, 10) }

// parseHistKey is histKey's inverse.
func parseHistKey(k string) (string, int64, error) {
	i := strings.LastIndexByte(k, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("histogram key %q", k)
	}
	b, err := strconv.ParseInt(k[i+1:], 10, 64)
	return k[:i], b, err
}

// partitionsFn emits the bucket of a person's number of partitions.
func partitionsFn(_ string, iter func(*pairAgg) bool, emit func(string)) {
	n := int64(0)
	var p pairAgg
	for iter(&p) {
		n++
	}
	emit(histKey("partitions", privacy.CountBucket(n)))
}

// valuesFn emits, for a person's kept pairs (L0 of them), the bucket of its
// largest rows in one and of its largest |total| per measured column, with
// its sign (none for a column without values).
type valuesFn struct{ E estSpec }

func (f *valuesFn) ProcessElement(unit string, iter func(*pairAgg) bool, emit func(string)) {
	pairs := personPairs(f.E.Seed, unit, iter)
	kept := pairs[:min(int64(len(pairs)), f.E.L0)]
	rows := int64(0)
	for _, p := range kept {
		rows = max(rows, p.V.Rows)
	}
	emit(histKey("rows", privacy.CountBucket(rows)))
	for c := range f.E.Cols {
		best, has := 0.0, false
		for _, p := range kept {
			if p.V.Has[c] && (!has || math.Abs(p.V.Totals[c]) > math.Abs(best)) {
				best, has = p.V.Totals[c], true
			}
		}
		if has {
			emit(histKey(fmt.Sprintf("t%d", c), privacy.ValueBucket(best)))
		}
	}
}

// droppedFn emits a person's part of the DroppedSums over the released
// partitions, in sumsVector's order: m is its number of pairs there, the
// first min(m, L0) are kept, and it is heavy when m > L0.
type droppedFn struct{ E estSpec }

func (f *droppedFn) ProcessElement(unit string, iter func(*pairAgg) bool, emit func([]float64)) {
	c := f.E.Caps
	pairs := personPairs(f.E.Seed, unit, iter)
	m := int64(len(pairs))
	heavy := m > c.L0
	kept := pairs[:min(m, c.L0)]
	v := make([]float64, 6+3*len(c.Columns))
	v[0] = float64(min(m, c.L0))
	v[1] = float64(min(m, c.PairsCap) - min(m, c.L0))
	if heavy {
		v[2] = float64(c.L0)
	}
	rowsCap, linf := max(c.RowsCap, 1), max(c.MaxPerUnit, 1)
	for _, p := range kept {
		n := p.V.Rows
		v[3] += float64(min(n, linf))
		v[4] += float64(min(n, rowsCap) - min(n, linf))
		if heavy {
			v[5] += float64(min(n, rowsCap))
		}
		for k := range c.Columns {
			if !p.V.Has[k] {
				continue
			}
			t := p.V.Totals[k]
			clamped := math.Abs(min(max(t, c.Min[k]), c.Max[k]))
			capped := math.Min(math.Abs(t), c.MassCap[k])
			v[6+3*k] += clamped
			v[7+3*k] += math.Max(capped-clamped, 0)
			if heavy {
				v[8+3*k] += capped
			}
		}
	}
	emit(v)
}

func addVectors(a, b []float64) []float64 {
	out := slices.Clone(a)
	for i := range out {
		out[i] += b[i]
	}
	return out
}

// sumsFrom reads a DroppedSums from its vector (droppedFn's order); a nil
// vector (no person in the released partitions) is all zeros.
func sumsFrom(v []float64, c privacy.DroppedCaps) (privacy.DroppedSums, error) {
	n := len(c.Columns)
	if v == nil {
		v = make([]float64, 6+3*n)
	}
	if len(v) != 6+3*n {
		return privacy.DroppedSums{}, fmt.Errorf("dropped sums: %d values, want %d", len(v), 6+3*n)
	}
	s := privacy.DroppedSums{PairsKept: v[0], PairsDropped: v[1], HeavyPairs: v[2]}
	if c.MaxPerUnit > 0 {
		s.RowsKept, s.RowsClamped, s.HeavyRows = v[3], v[4], v[5]
	}
	for k := range n {
		s.MassKept = append(s.MassKept, v[6+3*k])
		s.MassClamped = append(s.MassClamped, v[7+3*k])
		s.HeavyMass = append(s.HeavyMass, v[8+3*k])
	}
	return s, nil
}

// estLine is one exact estimate line of the run folder: a histogram
// bucket's count, or an output's dropped sums.
type estLine struct {
	Output int       `json:"o"`
	Hist   string    `json:"h,omitempty"`
	Bucket int64     `json:"b,omitempty"`
	N      int64     `json:"n,omitempty"`
	Sums   []float64 `json:"s,omitempty"`
}

type fmtHistFn struct{ Output int }

func (f *fmtHistFn) ProcessElement(k string, n int) (string, error) {
	hist, bucket, err := parseHistKey(k)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(estLine{Output: f.Output, Hist: hist, Bucket: bucket, N: int64(n)})
	return string(b), err
}

type fmtSumsFn struct{ Output int }

func (f *fmtSumsFn) ProcessElement(v []float64) (string, error) {
	b, err := json.Marshal(estLine{Output: f.Output, Sums: v})
	return string(b), err
}

// personPairsOf groups output o's rows into its pairs, keyed by person.
func personPairsOf(s beam.Scope, rows beam.PCollection, e estSpec) beam.PCollection {
	pairs := beam.CombinePerKey(s, mergePairs, beam.ParDo(s, &pairRowFn{Cols: e.Cols}, rows))
	return beam.GroupByKey(s, beam.ParDo(s, byUnit, pairs))
}

// histogramLines counts the buckets fn emits per person and formats them.
func histogramLines(s beam.Scope, o int, people beam.PCollection, fn any) beam.PCollection {
	return beam.ParDo(s, &fmtHistFn{Output: o}, stats.Count(s, beam.ParDo(s, fn, people)))
}

// droppedLines adds output o's DroppedSums over its released partitions:
// selected (a PCollection of partition keys) in two phases, else every
// partition of rows.
func droppedLines(s beam.Scope, rows beam.PCollection, selected *beam.PCollection, e estSpec) beam.PCollection {
	s = s.Scope("dropped")
	pairs := beam.CombinePerKey(s, mergePairs, beam.ParDo(s, &pairRowFn{Cols: e.Cols}, rows))
	var people beam.PCollection
	if selected == nil {
		people = beam.GroupByKey(s, beam.ParDo(s, byUnit, pairs))
	} else {
		joined := beam.CoGroupByKey(s, beam.ParDo(s, byPart, pairs), beam.ParDo(s, selectedKey, *selected))
		people = beam.GroupByKey(s, beam.ParDo(s, inSelectedFn, joined))
	}
	sums := beam.Combine(s, addVectors, beam.ParDo(s, &droppedFn{E: e}, people))
	return beam.ParDo(s, &fmtSumsFn{Output: e.Output}, sums)
}

// estimates are the exact histograms of an estimate pass, per output.
type estimates struct {
	hists []map[string]privacy.Histogram // [output][histogram]
	sums  [][]float64                    // [output] dropped sums, nil when none
}

// readEstimates reads an estimate file of a job with n outputs.
func readEstimates(ctx context.Context, path string, n int) (estimates, error) {
	est := estimates{hists: make([]map[string]privacy.Histogram, n), sums: make([][]float64, n)}
	err := readLines(ctx, path, func(b []byte) error {
		var l estLine
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		if l.Output < 0 || l.Output >= n {
			return fmt.Errorf("estimate for unknown output %d", l.Output)
		}
		if l.Sums != nil {
			est.sums[l.Output] = l.Sums
			return nil
		}
		if est.hists[l.Output] == nil {
			est.hists[l.Output] = map[string]privacy.Histogram{}
		}
		h := est.hists[l.Output][l.Hist]
		if h == nil {
			h = privacy.Histogram{}
			est.hists[l.Output][l.Hist] = h
		}
		h[l.Bucket] += l.N
		return nil
	})
	if err != nil {
		return estimates{}, fmt.Errorf("read estimates: %w", err)
	}
	return est, nil
}

// estimateBounds runs the partitions and values passes and has r choose
// every output's bounds: r.Plan() is then the plan to release with.
func (e *Engine) estimateBounds(ctx context.Context, r *privacy.Releaser, seed string) error {
	plan := r.Plan()
	var specs []estSpec
	for o := range plan.Outputs {
		if plan.Outputs[o].Bounds != nil {
			specs = append(specs, newEstSpec(o, plan.Outputs[o].Spec, seed))
		}
	}
	run := func(stage, file string, fn func(es estSpec) any) (estimates, error) {
		p, s := beam.NewPipelineWithRoot()
		events := e.c.events(s).events
		var lines []beam.PCollection
		for _, es := range specs {
			scope := s.Scope(fmt.Sprintf("estimate.%s.%s", stage, plan.Outputs[es.Output].Spec.Name))
			rows := beam.ParDo(scope, &outputRowsFn{Out: e.c.outs[es.Output]}, events)
			lines = append(lines, histogramLines(scope, es.Output, personPairsOf(scope, rows, es), fn(es)))
		}
		path := e.work.file(file)
		textio.Write(s, path, beam.Flatten(s, lines...))
		e.log.Info("estimating bounds on beam", "runner", e.runner, "pass", stage)
		if _, err := beam.Run(ctx, e.runner, p); err != nil {
			return estimates{}, fmt.Errorf("beam pipeline (bound estimates, %s) failed: %w", stage, err)
		}
		if err := e.work.private(); err != nil {
			return estimates{}, err
		}
		return readEstimates(ctx, path, len(plan.Outputs))
	}
	est, err := run("partitions", partitionsEstFile, func(estSpec) any { return partitionsFn })
	if err != nil {
		return err
	}
	for k, es := range specs {
		name := plan.Outputs[es.Output].Spec.Name
		if specs[k].L0, err = r.EstimatePartitions(name, est.hists[es.Output]["partitions"]); err != nil {
			return err
		}
	}
	if est, err = run("values", valuesEstFile, func(es estSpec) any { return &valuesFn{E: es} }); err != nil {
		return err
	}
	for _, es := range specs {
		op := plan.Outputs[es.Output]
		var rows privacy.Histogram
		if op.Bounds.Rows > 0 {
			rows = est.hists[es.Output]["rows"]
		}
		totals := map[string]privacy.Histogram{}
		for c, col := range op.Bounds.Columns {
			totals[col] = est.hists[es.Output][fmt.Sprintf("t%d", c)]
		}
		if _, err := r.EstimateValues(op.Spec.Name, rows, totals); err != nil {
			return err
		}
	}
	return nil
}

// estimateDropped has r noise output op's DroppedSums, computed over its
// released partitions (released of them) with the caps before selection.
func estimateDropped(r *privacy.Releaser, op privacy.OutputPlan, released int, v []float64) error {
	caps, err := r.DroppedCaps(op.Spec.Name)
	if op.Selection != nil && err == nil {
		caps, err = r.DroppedCapsAmong(op.Spec.Name, released)
	}
	if err != nil {
		return err
	}
	s, err := sumsFrom(v, caps)
	if err != nil {
		return fmt.Errorf("output %q: %w", op.Spec.Name, err)
	}
	return r.EstimateDropped(op.Spec.Name, s)
}
