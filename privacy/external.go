package privacy

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// External DP engines (the Apache Beam engine, through Privacy on Beam) select
// partitions and draw noise themselves, with the budget and bounds of this
// package's Plan. AddNoisedOutput turns their already-noised per-partition
// statistics into a Table of a Release, so that the same sinks, manifest and
// ledger protocol apply. It is the only way to put values that this package
// did not noise into a Release, and it still needs the Releaser, hence a
// Reservation: the budget must be charged before the external engine runs.
//
// The caller vouches that every statistic was noised by the Google DP
// library (directly or through Privacy on Beam) with exactly the plan's
// component for it: that component's (ε, δ), L0 and Linf, and that only
// partitions which are public or passed DP partition selection with the
// plan's SelectionPlan are present. Post-processing (mean and variance from
// their noisy parts, clamping, confidence intervals) is done here, like the
// Releaser does for the embedded engine.

// NoisedMetric holds one metric's noised statistics in one partition. Which
// fields are read depends on the metric's kind.
type NoisedMetric struct {
	// N: count and count_units: the noisy count; mean and variance: the noisy
	// count of people with a value, not clamped at zero.
	N int64
	// Sum: sum: the noisy sum; mean and variance: the noisy sum of clamped
	// totals minus the midpoint (MetricSpec.Min+Max)/2.
	Sum float64
	// SumSq: variance: the noisy sum of squared (clamped total - midpoint).
	SumSq float64
	// Quantiles: quantiles: one value per rank, in the order of MetricSpec.Ranks.
	Quantiles []float64
}

// NoisedPartition is one released partition of an output.
type NoisedPartition struct {
	Key     []string       // one value per group-by column, in order
	Null    []bool         // optional: Null[i] marks Key[i] as NULL
	Metrics []NoisedMetric // one per metric of the output, in order
}

// AddNoisedOutput adds output name to the release from partitions noised by
// an external DP engine (see above). Partitions may come in any order; the
// table is sorted by key like the embedded engine's. stats are the internal,
// non-private counts for the run report.
func (r *Releaser) AddNoisedOutput(name string, parts []NoisedPartition, stats OutputStats) error {
	if r.closed {
		return errors.New("add noised output: releaser is finished")
	}
	var op *OutputPlan
	for i := range r.plan.Outputs {
		if r.plan.Outputs[i].Spec.Name == name {
			op = &r.plan.Outputs[i]
		}
	}
	if op == nil {
		return fmt.Errorf("add noised output %q: not in the plan", name)
	}
	if r.done[name] {
		return fmt.Errorf("add noised output %q: already released", name)
	}
	cols, err := r.noisedColumns(op, parts)
	if err != nil {
		return fmt.Errorf("add noised output %q: %w", name, err)
	}
	t, err := r.buildTable(op, cols)
	if err != nil {
		return fmt.Errorf("add noised output %q: %w", name, err)
	}
	r.done[name] = true
	r.tables = append(r.tables, t)
	r.stats[name] = stats
	return nil
}

type keyedPartition struct {
	key keyTuple
	p   *NoisedPartition
}

func (r *Releaser) noisedColumns(op *OutputPlan, parts []NoisedPartition) (*outputColumns, error) {
	nk := len(op.Spec.GroupBy)
	sorted := make([]keyedPartition, len(parts))
	for i := range parts {
		p := &parts[i]
		if len(p.Key) != nk || (p.Null != nil && len(p.Null) != nk) {
			return nil, fmt.Errorf("partition %d: has %d key values, want %d", i, len(p.Key), nk)
		}
		if len(p.Metrics) != len(op.Metrics) {
			return nil, fmt.Errorf("partition %d: has %d metrics, want %d", i, len(p.Metrics), len(op.Metrics))
		}
		k := make(keyTuple, nk)
		for c := range k {
			k[c] = keyValue{v: p.Key[c], null: p.Null != nil && p.Null[c]}
			if k[c].null {
				k[c].v = ""
			}
		}
		sorted[i] = keyedPartition{key: k, p: p}
	}
	slices.SortFunc(sorted, func(a, b keyedPartition) int { return compareKeys(a.key, b.key) })
	cols := &outputColumns{
		keys:  make([][]string, nk),
		nulls: make([][]bool, nk),
		ints:  map[string][]int64{},
		flts:  map[string][]float64{},
	}
	for row, kp := range sorted {
		if row > 0 && compareKeys(sorted[row-1].key, kp.key) == 0 {
			return nil, errors.New("two partitions have the same key")
		}
		for c := range kp.key {
			cols.keys[c] = append(cols.keys[c], kp.key[c].v)
			cols.nulls[c] = append(cols.nulls[c], kp.key[c].null)
		}
		for i, mp := range op.Metrics {
			if err := r.finishNoised(mp, kp.p.Metrics[i], cols); err != nil {
				return nil, fmt.Errorf("metric %q: %w", mp.Spec.Name, err)
			}
		}
	}
	return cols, nil
}

// finishNoised post-processes one metric of one partition, as the Releaser
// does after drawing noise itself.
func (r *Releaser) finishNoised(mp MetricPlan, m NoisedMetric, cols *outputColumns) error {
	ms := mp.Spec
	switch ms.Kind {
	case Count, CountUnits:
		c := mp.Components[0]
		ci, err := r.nz.ComputeConfidenceIntervalInt64(m.N, c.L0, int64(c.LInf), c.Share.Epsilon, c.Share.Delta, Alpha)
		if err != nil {
			return err
		}
		cols.ints[ms.Name] = append(cols.ints[ms.Name], max(m.N, 0))
		cols.flts[ms.Name+"_ci95"] = append(cols.flts[ms.Name+"_ci95"], (ci.UpperBound-ci.LowerBound)/2)
	case Sum:
		if math.IsNaN(m.Sum) || math.IsInf(m.Sum, 0) {
			return errors.New("noisy sum is not finite")
		}
		c := mp.Components[0]
		ci, err := r.nz.ComputeConfidenceIntervalFloat64(m.Sum, c.L0, c.LInf, c.Share.Epsilon, c.Share.Delta, Alpha)
		if err != nil {
			return err
		}
		v := m.Sum
		if ms.Min >= 0 {
			v = math.Max(v, 0)
		}
		cols.flts[ms.Name] = append(cols.flts[ms.Name], v)
		cols.flts[ms.Name+"_ci95"] = append(cols.flts[ms.Name+"_ci95"], (ci.UpperBound-ci.LowerBound)/2)
	case Mean:
		mean, half, err := r.meanFromNoisy(m.N, m.Sum, mp)
		if err != nil {
			return err
		}
		cols.flts[ms.Name] = append(cols.flts[ms.Name], mean)
		cols.flts[ms.Name+"_ci95"] = append(cols.flts[ms.Name+"_ci95"], half)
	case Variance:
		cols.flts[ms.Name] = append(cols.flts[ms.Name], varianceFromNoisy(m.N, m.Sum, m.SumSq, ms))
	case Quantiles:
		if len(m.Quantiles) != len(ms.Ranks) {
			return fmt.Errorf("has %d quantiles, want %d", len(m.Quantiles), len(ms.Ranks))
		}
		for j, rank := range ms.Ranks {
			col := QuantileColumn(ms.Name, rank)
			cols.flts[col] = append(cols.flts[col], clamp(m.Quantiles[j], ms.Min, ms.Max))
		}
	default:
		return fmt.Errorf("unknown metric type %q", ms.Kind)
	}
	return nil
}

// meanFromNoisy is the post-processing of a mean, shared by Releaser.noisyMean
// and external engines: the clamped mean of the noisy count and the noisy sum
// of totals minus the midpoint, and the half-width of its 95% interval,
// combined like dpagg.BoundedMean.ComputeConfidenceInterval (1 - Alpha =
// (1 - alphaNum) * (1 - alphaDen), alphaNum = Alpha/2).
func (r *Releaser) meanFromNoisy(noisyN int64, noisyS float64, mp MetricPlan) (float64, float64, error) {
	ms := mp.Spec
	cn, cs := mp.Components[0], mp.Components[1]
	mid := ms.Min + (ms.Max-ms.Min)/2
	den := math.Max(float64(noisyN), 1)
	mean := clamp(mid+noisyS/den, ms.Min, ms.Max)
	alphaNum := Alpha / 2
	alphaDen := (Alpha - alphaNum) / (1 - alphaNum)
	ciN, err := r.nz.ComputeConfidenceIntervalFloat64(noisyS, cs.L0, cs.LInf, cs.Share.Epsilon, cs.Share.Delta, alphaNum)
	if err != nil {
		return 0, 0, err
	}
	ciD, err := r.nz.ComputeConfidenceIntervalInt64(noisyN, cn.L0, int64(cn.LInf), cn.Share.Epsilon, cn.Share.Delta, alphaDen)
	if err != nil {
		return 0, 0, err
	}
	dLo, dHi := math.Max(ciD.LowerBound, 1), math.Max(ciD.UpperBound, 1)
	var lo, hi float64
	if ciN.LowerBound >= 0 {
		lo = ciN.LowerBound / dHi
	} else {
		lo = ciN.LowerBound / dLo
	}
	if ciN.UpperBound >= 0 {
		hi = ciN.UpperBound / dLo
	} else {
		hi = ciN.UpperBound / dHi
	}
	lo, hi = clamp(lo+mid, ms.Min, ms.Max), clamp(hi+mid, ms.Min, ms.Max)
	return mean, (hi - lo) / 2, nil
}

// varianceFromNoisy is the post-processing of a variance, shared by
// Releaser.noisyVariance and external engines, as in dpagg.BoundedVariance:
// from the noisy count and the noisy sums of totals minus the midpoint and of
// their squares, clamped to [0, ((max-min)/2)²].
func varianceFromNoisy(noisyN int64, noisyS, noisySq float64, ms MetricSpec) float64 {
	den := math.Max(float64(noisyN), 1)
	mean := noisyS / den
	half := (ms.Max - ms.Min) / 2
	return clamp(noisySq/den-mean*mean, 0, half*half)
}
