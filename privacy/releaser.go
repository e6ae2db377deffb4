package privacy

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/differential-privacy/go/v3/dpagg"
	"github.com/google/differential-privacy/go/v3/noise"
)

// ReleaserOptions configures a Releaser. The zero value is what privagg uses.
type ReleaserOptions struct {
	// Allocator for the released records. Optional; defaults to memory.DefaultAllocator.
	Allocator memory.Allocator
}

// QuantileSource opens the stream of clamped per-unit totals of an output's
// quantile metrics: the output's key columns then one StatColumn(i, StatValue)
// DOUBLE column per quantile metric i (NULL where the row is for another
// metric), ordered by key like the aggregate batches.
type QuantileSource func(ctx context.Context) (array.RecordReader, error)

// OutputStats are internal, non-private counts about one output. They go to the
// internal run report only, never into a Release.
type OutputStats struct {
	Partitions int64 `json:"partitions"` // partitions in the bounded data (or public keys)
	Released   int64 `json:"released"`
	Suppressed int64 `json:"suppressed"` // dropped by partition selection
}

// Releaser turns per-partition aggregates into a Release: it selects
// partitions, adds noise and computes confidence intervals, all with the
// Google differential privacy library. It needs a Reservation, the ledger's
// proof that the budget was charged before any noise is drawn.
type Releaser struct {
	plan   *Plan
	meta   Metadata
	nz     noise.Noise
	alloc  memory.Allocator
	tables []*Table
	stats  map[string]OutputStats
	done   map[string]bool
	// selected holds the keys SelectPartitions chose, per output name.
	selected map[string]*Selection
	closed   bool
}

// NewReleaser returns a Releaser for plan, drawing on res.
func NewReleaser(plan *Plan, res *Reservation, meta Metadata, opts ReleaserOptions) (*Releaser, error) {
	if plan == nil {
		return nil, errors.New("new releaser: plan is required")
	}
	if res == nil {
		return nil, errors.New("new releaser: a budget reservation is required before noise is drawn")
	}
	if res.Epsilon() < plan.Total.Epsilon || res.Delta() < plan.Total.Delta {
		return nil, fmt.Errorf("new releaser: reservation (epsilon %v, delta %v) is smaller than the plan (epsilon %v, delta %v)",
			res.Epsilon(), res.Delta(), plan.Total.Epsilon, plan.Total.Delta)
	}
	// Always the library's noise of the job's kind; only a test build
	// (-tags privagg_testnoise, see testnoise_hook.go) can replace it.
	nz := testNoise(plan.Spec.Noise.noise())
	alloc := opts.Allocator
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	meta.ID = res.ReleaseID()
	meta.Epsilon, meta.Delta = plan.Total.Epsilon, plan.Total.Delta
	meta.K, meta.Noise = plan.Spec.K, plan.Spec.Noise
	return &Releaser{plan: plan, meta: meta, nz: nz, alloc: alloc, stats: map[string]OutputStats{}, done: map[string]bool{}, selected: map[string]*Selection{}}, nil
}

// Stats returns the internal counts of the outputs released so far.
func (r *Releaser) Stats() map[string]OutputStats { return r.stats }

// ReleaseOutput reads the aggregates of output name (see docs/ARCHITECTURE.md
// for the columns) and adds its noisy table to the release. With public
// partitions the aggregates hold every public key; otherwise SelectPartitions
// must have run first, and the aggregates hold exactly the selected keys,
// bounded again among them (phase 2, see selection.go). quantiles is required
// when the output has quantile metrics. ReleaseOutput does not release
// aggregates; the caller does.
func (r *Releaser) ReleaseOutput(ctx context.Context, name string, aggregates array.RecordReader, quantiles QuantileSource) error {
	if r.closed {
		return errors.New("release output: releaser is finished")
	}
	op := r.output(name)
	if op == nil {
		return fmt.Errorf("release output %q: not in the plan", name)
	}
	if r.done[name] {
		return fmt.Errorf("release output %q: already released", name)
	}
	sel := r.selected[name]
	if op.Selection != nil && sel == nil {
		return fmt.Errorf("release output %q: its partitions come from the data and were not selected (SelectPartitions)", name)
	}
	t, stats, err := r.releaseOutput(ctx, op, sel, aggregates, quantiles)
	if err != nil {
		return fmt.Errorf("release output %q: %w", name, err)
	}
	r.done[name] = true
	r.tables = append(r.tables, t)
	if sel == nil {
		r.stats[name] = stats // with a selection, SelectPartitions counted
	}
	return nil
}

// output is the plan of output name, or nil.
func (r *Releaser) output(name string) *OutputPlan {
	for i := range r.plan.Outputs {
		if r.plan.Outputs[i].Spec.Name == name {
			return &r.plan.Outputs[i]
		}
	}
	return nil
}

// Finish returns the Release. Every output of the plan must have been released.
func (r *Releaser) Finish() (*Release, error) {
	if r.closed {
		return nil, errors.New("finish release: already finished")
	}
	for _, o := range r.plan.Outputs {
		if !r.done[o.Spec.Name] {
			return nil, fmt.Errorf("finish release: output %q was not released", o.Spec.Name)
		}
	}
	r.closed = true
	// Tables in plan order.
	ordered := make([]*Table, 0, len(r.tables))
	for _, o := range r.plan.Outputs {
		for _, t := range r.tables {
			if t.name == o.Spec.Name {
				ordered = append(ordered, t)
			}
		}
	}
	return &Release{meta: r.meta, tables: ordered}, nil
}

// partitionRow is one released partition before it becomes an Arrow row.
type outputColumns struct {
	keys  [][]string // [key column][row]
	nulls [][]bool
	ints  map[string][]int64
	flts  map[string][]float64
	ci    []string // per metric: the name of its _ci95 column
}

// releaseOutput noises every row of agg: the public keys, or (sel not nil)
// exactly the selected keys.
func (r *Releaser) releaseOutput(ctx context.Context, op *OutputPlan, sel *Selection, agg array.RecordReader, qs QuantileSource) (*Table, OutputStats, error) {
	var stats OutputStats
	in, err := bindAggregates(agg.Schema(), op)
	if err != nil {
		return nil, stats, err
	}
	cols := outputColumns{
		keys:  make([][]string, len(op.Spec.GroupBy)),
		nulls: make([][]bool, len(op.Spec.GroupBy)),
		ints:  map[string][]int64{},
		flts:  map[string][]float64{},
		ci:    make([]string, len(op.Metrics)),
	}
	for i, mp := range op.Metrics {
		cols.ci[i] = mp.Spec.Name + "_ci95"
	}
	// Two key buffers, swapped per row: the allocation is per batch.
	cur, prev := make(keyTuple, len(in.keyIdx)), make(keyTuple, len(in.keyIdx))
	first := true
	var selected *selectedKeys
	if sel != nil {
		selected = &selectedKeys{sel: sel}
	}
	for agg.Next() {
		if err := ctx.Err(); err != nil {
			return nil, stats, err
		}
		rec := agg.RecordBatch()
		keys, err := keyColumns(rec, in.keyIdx)
		if err != nil {
			return nil, stats, err
		}
		bk := newBatchKeys(keys, int(rec.NumRows()))
		units := rec.Column(in.units).(*array.Int64)
		for row := 0; row < int(rec.NumRows()); row++ {
			bk.at(row, cur)
			if !first && compareKeys(prev, cur) >= 0 {
				return nil, stats, errors.New("aggregates are not sorted by key with unique keys")
			}
			first = false
			cur, prev = prev, cur // prev is this row's key from here on
			stats.Partitions++
			if units.IsNull(row) {
				return nil, stats, fmt.Errorf("%s is NULL", UnitsColumn)
			}
			if selected != nil {
				if err := selected.next(prev); err != nil {
					return nil, stats, err
				}
			}
			stats.Released++
			for c := range keys {
				cols.keys[c] = append(cols.keys[c], prev[c].v)
				cols.nulls[c] = append(cols.nulls[c], prev[c].null)
			}
			if err := r.noiseRow(op, in, rec, row, units.Value(row), &cols); err != nil {
				return nil, stats, err
			}
		}
	}
	if err := agg.Err(); err != nil {
		return nil, stats, fmt.Errorf("read aggregates: %w", err)
	}
	if selected != nil {
		if err := selected.done(); err != nil {
			return nil, stats, err
		}
	}
	if err := r.quantiles(ctx, op, qs, &cols); err != nil {
		return nil, stats, err
	}
	t, err := r.buildTable(op, &cols)
	return t, stats, err
}

func (r *Releaser) noiseRow(op *OutputPlan, in *aggBinding, rec arrow.RecordBatch, row int, units int64, cols *outputColumns) error {
	for i, mp := range op.Metrics {
		ms := mp.Spec
		switch ms.Kind {
		case Count, CountUnits:
			n := units
			if ms.Kind == Count {
				v, err := int64At(rec, in.stat[i][StatN], row)
				if err != nil {
					return err
				}
				n = v
			}
			c := mp.Components[0]
			noisy, half, err := r.noisyInt(n, c)
			if err != nil {
				return fmt.Errorf("metric %q: %w", ms.Name, err)
			}
			cols.ints[ms.Name] = append(cols.ints[ms.Name], max(noisy, 0))
			cols.flts[cols.ci[i]] = append(cols.flts[cols.ci[i]], half)
		case Sum:
			s, err := float64At(rec, in.stat[i][StatSum], row)
			if err != nil {
				return err
			}
			noisy, half, err := r.noisyFloat(s, mp.Components[0])
			if err != nil {
				return fmt.Errorf("metric %q: %w", ms.Name, err)
			}
			if ms.Min >= 0 {
				noisy = math.Max(noisy, 0) // post-processing: a sum of non-negative totals
			}
			cols.flts[ms.Name] = append(cols.flts[ms.Name], noisy)
			cols.flts[cols.ci[i]] = append(cols.flts[cols.ci[i]], half)
		case Mean:
			mean, half, err := r.noisyMean(rec, in, i, row, mp)
			if err != nil {
				return fmt.Errorf("metric %q: %w", ms.Name, err)
			}
			cols.flts[ms.Name] = append(cols.flts[ms.Name], mean)
			cols.flts[cols.ci[i]] = append(cols.flts[cols.ci[i]], half)
		case Variance:
			v, err := r.noisyVariance(rec, in, i, row, mp)
			if err != nil {
				return fmt.Errorf("metric %q: %w", ms.Name, err)
			}
			cols.flts[ms.Name] = append(cols.flts[ms.Name], v)
		case Quantiles:
			// filled by quantiles()
		}
	}
	return nil
}

func (r *Releaser) noisyInt(x int64, c Component) (int64, float64, error) {
	linf := int64(c.LInf)
	noisy, err := r.nz.AddNoiseInt64(x, c.L0, linf, c.Share.Epsilon, c.Share.Delta)
	if err != nil {
		return 0, 0, err
	}
	ci, err := r.nz.ComputeConfidenceIntervalInt64(noisy, c.L0, linf, c.Share.Epsilon, c.Share.Delta, Alpha)
	if err != nil {
		return 0, 0, err
	}
	return noisy, (ci.UpperBound - ci.LowerBound) / 2, nil
}

func (r *Releaser) noisyFloat(x float64, c Component) (float64, float64, error) {
	noisy, err := r.nz.AddNoiseFloat64(x, c.L0, c.LInf, c.Share.Epsilon, c.Share.Delta)
	if err != nil {
		return 0, 0, err
	}
	ci, err := r.nz.ComputeConfidenceIntervalFloat64(noisy, c.L0, c.LInf, c.Share.Epsilon, c.Share.Delta, Alpha)
	if err != nil {
		return 0, 0, err
	}
	return noisy, (ci.UpperBound - ci.LowerBound) / 2, nil
}

// noisyMean follows dpagg.BoundedMean: a noisy count and a noisy normalized
// sum, each with half the metric's budget; its confidence interval combines
// the two intervals like BoundedMean.ComputeConfidenceInterval (meanFromNoisy,
// shared with external engines).
func (r *Releaser) noisyMean(rec arrow.RecordBatch, in *aggBinding, i, row int, mp MetricPlan) (float64, float64, error) {
	n, err := int64At(rec, in.stat[i][StatN], row)
	if err != nil {
		return 0, 0, err
	}
	s, err := float64At(rec, in.stat[i][StatSum], row)
	if err != nil {
		return 0, 0, err
	}
	cn, cs := mp.Components[0], mp.Components[1]
	noisyN, err := r.nz.AddNoiseInt64(n, cn.L0, int64(cn.LInf), cn.Share.Epsilon, cn.Share.Delta)
	if err != nil {
		return 0, 0, err
	}
	noisyS, err := r.nz.AddNoiseFloat64(s, cs.L0, cs.LInf, cs.Share.Epsilon, cs.Share.Delta)
	if err != nil {
		return 0, 0, err
	}
	return r.meanFromNoisy(noisyN, noisyS, mp)
}

// noisyVariance follows dpagg.BoundedVariance: noisy count, normalized sum and
// normalized sum of squares, each with a third of the metric's budget.
func (r *Releaser) noisyVariance(rec arrow.RecordBatch, in *aggBinding, i, row int, mp MetricPlan) (float64, error) {
	ms := mp.Spec
	n, err := int64At(rec, in.stat[i][StatN], row)
	if err != nil {
		return 0, err
	}
	s, err := float64At(rec, in.stat[i][StatSum], row)
	if err != nil {
		return 0, err
	}
	sq, err := float64At(rec, in.stat[i][StatSumSq], row)
	if err != nil {
		return 0, err
	}
	cn, cs, cq := mp.Components[0], mp.Components[1], mp.Components[2]
	noisyN, err := r.nz.AddNoiseInt64(n, cn.L0, int64(cn.LInf), cn.Share.Epsilon, cn.Share.Delta)
	if err != nil {
		return 0, err
	}
	noisyS, err := r.nz.AddNoiseFloat64(s, cs.L0, cs.LInf, cs.Share.Epsilon, cs.Share.Delta)
	if err != nil {
		return 0, err
	}
	noisyQ, err := r.nz.AddNoiseFloat64(sq, cq.L0, cq.LInf, cq.Share.Epsilon, cq.Share.Delta)
	if err != nil {
		return 0, err
	}
	return varianceFromNoisy(noisyN, noisyS, noisyQ, ms), nil
}

// quantiles merge-joins the sorted quantile stream with the released keys and
// feeds each released partition's values to a dpagg.BoundedQuantiles.
func (r *Releaser) quantiles(ctx context.Context, op *OutputPlan, qs QuantileSource, cols *outputColumns) error {
	var qm []int
	for i, mp := range op.Metrics {
		if mp.Spec.Kind == Quantiles {
			qm = append(qm, i)
		}
	}
	if len(qm) == 0 {
		return nil
	}
	released := 0
	if len(cols.keys) > 0 {
		released = len(cols.keys[0])
	}
	trees := make([]map[int]*dpagg.BoundedQuantiles, len(op.Metrics))
	newTree := func(mp MetricPlan) (*dpagg.BoundedQuantiles, error) {
		c := mp.Components[0]
		return dpagg.NewBoundedQuantiles(&dpagg.BoundedQuantilesOptions{
			Epsilon:                      c.Share.Epsilon,
			Delta:                        c.Share.Delta,
			MaxPartitionsContributed:     c.L0,
			MaxContributionsPerPartition: 1,
			Lower:                        mp.Spec.Min,
			Upper:                        mp.Spec.Max,
			Noise:                        r.nz,
		})
	}
	for _, i := range qm {
		trees[i] = map[int]*dpagg.BoundedQuantiles{}
	}
	if released > 0 {
		if qs == nil {
			return errors.New("quantile metrics need a quantile source")
		}
		rr, err := qs(ctx)
		if err != nil {
			return fmt.Errorf("open quantile values: %w", err)
		}
		defer rr.Release()
		names := make([]string, len(op.Spec.GroupBy))
		copy(names, op.Spec.GroupBy)
		keyIdx, err := fieldIndexes(rr.Schema(), names)
		if err != nil {
			return fmt.Errorf("quantile values: %w", err)
		}
		valIdx := map[int]int{}
		for _, i := range qm {
			idx, err := fieldIndexes(rr.Schema(), []string{StatColumn(i, StatValue)})
			if err != nil {
				return fmt.Errorf("quantile values: %w", err)
			}
			valIdx[i] = idx[0]
		}
		pos := 0 // index into released rows
		k, rk := make(keyTuple, len(keyIdx)), make(keyTuple, len(keyIdx))
		for rr.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			rec := rr.RecordBatch()
			keys, err := keyColumns(rec, keyIdx)
			if err != nil {
				return err
			}
			bk := newBatchKeys(keys, int(rec.NumRows()))
			for row := 0; row < int(rec.NumRows()); row++ {
				bk.at(row, k)
				for pos < released && compareKeys(releasedKey(cols, pos, rk), k) < 0 {
					pos++
				}
				if pos == released {
					break
				}
				if compareKeys(releasedKey(cols, pos, rk), k) != 0 {
					continue // partition not released
				}
				for _, i := range qm {
					v, null, err := nullableFloat64At(rec, valIdx[i], row)
					if err != nil {
						return err
					}
					if null {
						continue
					}
					t := trees[i][pos]
					if t == nil {
						if t, err = newTree(op.Metrics[i]); err != nil {
							return fmt.Errorf("metric %q: %w", op.Metrics[i].Spec.Name, err)
						}
						trees[i][pos] = t
					}
					if err := t.Add(v); err != nil {
						return fmt.Errorf("metric %q: %w", op.Metrics[i].Spec.Name, err)
					}
				}
			}
		}
		if err := rr.Err(); err != nil {
			return fmt.Errorf("read quantile values: %w", err)
		}
	}
	for _, i := range qm {
		mp := op.Metrics[i]
		for pos := 0; pos < released; pos++ {
			t := trees[i][pos]
			if t == nil { // no values: the tree still releases noisy counts
				var err error
				if t, err = newTree(mp); err != nil {
					return fmt.Errorf("metric %q: %w", mp.Spec.Name, err)
				}
			}
			for _, rank := range mp.Spec.Ranks {
				v, err := t.Result(rank)
				if err != nil {
					return fmt.Errorf("metric %q: %w", mp.Spec.Name, err)
				}
				col := QuantileColumn(mp.Spec.Name, rank)
				cols.flts[col] = append(cols.flts[col], v)
			}
		}
	}
	return nil
}

// releasedKey fills k with the key of released row pos and returns it.
func releasedKey(cols *outputColumns, pos int, k keyTuple) keyTuple {
	for c := range cols.keys {
		k[c] = keyValue{v: cols.keys[c][pos], null: cols.nulls[c][pos]}
	}
	return k
}

func (r *Releaser) buildTable(op *OutputPlan, cols *outputColumns) (*Table, error) {
	var fields []arrow.Field
	for _, g := range op.Spec.GroupBy {
		fields = append(fields, arrow.Field{Name: g, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	var infos []MetricInfo
	for _, mp := range op.Metrics {
		ms := mp.Spec
		for _, c := range mp.Columns {
			typ := arrow.DataType(arrow.PrimitiveTypes.Float64)
			if c == ms.Name && (ms.Kind == Count || ms.Kind == CountUnits) {
				typ = arrow.PrimitiveTypes.Int64
			}
			fields = append(fields, arrow.Field{Name: c, Type: typ})
		}
		info := MetricInfo{
			Name: ms.Name, Kind: ms.Kind, Columns: mp.Columns,
			Epsilon: mp.Share.Epsilon, Delta: mp.Share.Delta,
			Mechanism: string(r.plan.Spec.Noise), L0: op.Spec.MaxPartitionsPerUnit,
			LInf: mp.Components[0].LInf,
		}
		if len(mp.Components) == 1 && ms.Kind != Quantiles {
			info.StdDev = mp.Components[0].StdDev
		}
		infos = append(infos, info)
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(r.alloc, schema)
	defer b.Release()
	for c := range op.Spec.GroupBy {
		sb := b.Field(c).(*array.StringBuilder)
		sb.Reserve(len(cols.keys[c]))
		for row, v := range cols.keys[c] {
			if cols.nulls[c][row] {
				sb.AppendNull()
			} else {
				sb.Append(v)
			}
		}
	}
	for f := len(op.Spec.GroupBy); f < len(fields); f++ {
		name := fields[f].Name
		switch fb := b.Field(f).(type) {
		case *array.Int64Builder:
			fb.AppendValues(cols.ints[name], nil)
		case *array.Float64Builder:
			fb.AppendValues(cols.flts[name], nil)
		}
	}
	rec := b.NewRecordBatch()
	return &Table{name: op.Spec.Name, record: rec, metrics: infos, groupBy: op.Spec.GroupBy}, nil
}

func clamp(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }
