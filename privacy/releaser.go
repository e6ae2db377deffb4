package privacy

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/differential-privacy/go/v3/noise"
)

// ReleaserOptions configures a Releaser. The zero value is what privagg uses.
type ReleaserOptions struct {
	// Allocator for the released records. Optional; defaults to memory.DefaultAllocator.
	Allocator memory.Allocator
}

// QuantileSource opens the value stream of an output whose metrics have
// stream statistics (quantiles): the output's key columns, then per stream
// statistic k of the output's StatLayout a DOUBLE column named
// StatLayout.Column(k) holding one person's value (NULL for none), one row per
// (person, partition), ordered by key like the aggregate batches.
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
	// est draws the noise of the bound estimates, and estimates holds
	// them per output name (bounds_estimate.go).
	est       estimator
	estimates map[string]*outputEstimates
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
	return &Releaser{plan: plan, meta: meta, nz: nz, alloc: alloc, stats: map[string]OutputStats{}, done: map[string]bool{}, selected: map[string]*Selection{},
		est: estimator{nz: testNoise(noise.Laplace())}, estimates: map[string]*outputEstimates{}}, nil
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
	if op.twoPhase() && sel == nil {
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
	if err := r.makeConsistent(ordered); err != nil {
		return nil, fmt.Errorf("finish release: %w", err)
	}
	return &Release{meta: r.meta, tables: ordered}, nil
}

// releaseOutput noises every row of agg: the public keys, or (sel not nil)
// exactly the selected keys.
func (r *Releaser) releaseOutput(ctx context.Context, op *OutputPlan, sel *Selection, agg array.RecordReader, qs QuantileSource) (*Table, OutputStats, error) {
	var stats OutputStats
	in, err := bindAggregates(agg.Schema(), op)
	if err != nil {
		return nil, stats, err
	}
	cols, err := r.newOutputColumns(op)
	if err != nil {
		return nil, stats, err
	}
	// Two key buffers, swapped per row: the allocation is per batch.
	cur, prev := make(keyTuple, len(in.keyIdx)), make(keyTuple, len(in.keyIdx))
	first := true
	var selected *selectedKeys
	if sel != nil {
		selected = &selectedKeys{sel: sel}
	}
	thresholded := op.Selection != nil && op.Selection.Method == SelectCountThreshold
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
			var drawn *drawnPart
			if thresholded {
				c := op.Metrics[op.Selection.Metric].Components[0]
				noised, keep, err := thresholdKeep(r.nz, op.Selection, c, units.Value(row))
				if err != nil {
					return nil, stats, err
				}
				if !keep {
					stats.Suppressed++
					continue
				}
				drawn = &drawnPart{metric: op.Selection.Metric, value: noised}
			}
			stats.Released++
			cols.addKey(prev)
			if err := r.noiseRow(op, in, rec, row, cols, drawn); err != nil {
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
	if err := r.streams(ctx, op, qs, cols); err != nil {
		return nil, stats, err
	}
	t, err := r.buildTable(op, cols)
	return t, stats, err
}

// drawnPart is the first part of metric, noised already: the count_units
// value count_threshold selection drew (and released).
type drawnPart struct {
	metric int
	value  int64
}

// noiseRow draws the noise of every scalar part of every metric of one
// released row, each from its statistic's column, and releases the metrics
// without stream parts (the others wait for streams). A part in drawn is
// not drawn again: its noised value is used.
func (r *Releaser) noiseRow(op *OutputPlan, in *aggBinding, rec arrow.RecordBatch, row int, cols *outputColumns, drawn *drawnPart) error {
	for i := range op.Metrics {
		mp := &op.Metrics[i]
		parts := cols.scratch[i]
		for p, c := range mp.Components {
			col := in.need[op.Layout.Need(i, p)]
			if col < 0 {
				continue // a stream part: see streams
			}
			if drawn != nil && drawn.metric == i && p == 0 {
				parts[p].Int = drawn.value
				continue
			}
			ns := c.NoiseShare()
			var err error
			if c.Stat.Integer() {
				var x int64
				if x, err = int64At(rec, col, row); err == nil {
					parts[p].Int, err = r.nz.AddNoiseInt64(x, c.L0, int64(c.LInf), ns.Epsilon, ns.Delta)
				}
			} else {
				var x float64
				if x, err = float64At(rec, col, row); err == nil {
					parts[p].Float, err = r.nz.AddNoiseFloat64(x, c.L0, c.LInf, ns.Epsilon, ns.Delta)
				}
			}
			if err != nil {
				return fmt.Errorf("metric %q: %s: %w", mp.Spec.Name, c.Stat, err)
			}
		}
		if cols.streamed[i] {
			cols.pending[i] = append(cols.pending[i], parts...)
			continue
		}
		if err := cols.release(i, mp, r.nz, parts); err != nil {
			return err
		}
	}
	return nil
}

// streams merge-joins the sorted value stream with the released keys, feeds
// each released partition's values to its metrics' library aggregations
// (the quantile tree) and releases the metrics with stream parts.
func (r *Releaser) streams(ctx context.Context, op *OutputPlan, qs QuantileSource, cols *outputColumns) error {
	type feed struct {
		metric, part, need int
		col                int // in the stream's schema
		aggs               map[int]aggregator
	}
	var feeds []*feed
	for i := range op.Metrics {
		for p, c := range op.Metrics[i].Components {
			if c.Stat.Stream() {
				feeds = append(feeds, &feed{metric: i, part: p, need: op.Layout.Need(i, p), aggs: map[int]aggregator{}})
			}
		}
	}
	if len(feeds) == 0 {
		return nil
	}
	newAgg := func(f *feed) (aggregator, error) {
		mp := &op.Metrics[f.metric]
		a, err := mp.Metric().(streamMetric).newAggregator(mp, f.part, r.nz)
		if err != nil {
			return nil, fmt.Errorf("metric %q: %w", mp.Spec.Name, err)
		}
		return a, nil
	}
	released := cols.rows()
	if released > 0 {
		if qs == nil {
			return errors.New("metrics with value streams (quantiles) need a quantile source")
		}
		rr, err := qs(ctx)
		if err != nil {
			return fmt.Errorf("open quantile values: %w", err)
		}
		defer rr.Release()
		keyIdx, err := fieldIndexes(rr.Schema(), op.Spec.GroupBy)
		if err != nil {
			return fmt.Errorf("quantile values: %w", err)
		}
		for _, f := range feeds {
			if f.col, err = typedField(rr.Schema(), op.Layout.Column(f.need), arrow.FLOAT64); err != nil {
				return fmt.Errorf("quantile values: %w", err)
			}
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
				for pos < released && compareKeys(cols.key(pos, rk), k) < 0 {
					pos++
				}
				if pos == released {
					break
				}
				if compareKeys(cols.key(pos, rk), k) != 0 {
					continue // partition not released
				}
				for _, f := range feeds {
					v, null, err := nullableFloat64At(rec, f.col, row)
					if err != nil {
						return err
					}
					if null {
						continue
					}
					a := f.aggs[pos]
					if a == nil {
						if a, err = newAgg(f); err != nil {
							return err
						}
						f.aggs[pos] = a
					}
					if err := a.Add(v); err != nil {
						return fmt.Errorf("metric %q: %w", op.Metrics[f.metric].Spec.Name, err)
					}
				}
			}
		}
		if err := rr.Err(); err != nil {
			return fmt.Errorf("read quantile values: %w", err)
		}
	}
	for i := range op.Metrics {
		if !cols.streamed[i] {
			continue
		}
		mp := &op.Metrics[i]
		n := len(mp.Components)
		for pos := range released {
			parts := cols.scratch[i]
			copy(parts, cols.pending[i][pos*n:(pos+1)*n])
			for _, f := range feeds {
				if f.metric != i {
					continue
				}
				a := f.aggs[pos]
				if a == nil { // no values: the aggregation still releases noise
					var err error
					if a, err = newAgg(f); err != nil {
						return err
					}
				}
				vals, err := a.Result()
				if err != nil {
					return fmt.Errorf("metric %q: %w", mp.Spec.Name, err)
				}
				parts[f.part].Values = vals
			}
			if err := cols.release(i, mp, r.nz, parts); err != nil {
				return err
			}
		}
	}
	return nil
}

func clamp(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }
