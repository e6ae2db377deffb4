package privacy

import (
	"errors"
	"fmt"
	"slices"
)

// NoisedMetric holds one metric's noised statistics in one partition: one
// Noisy per Component of the metric's plan, in order. Integer statistics go
// in Int (counts not clamped at zero), the others in Float, streams in
// Values (quantiles: one value per rank, in the order of MetricSpec.Ranks).
type NoisedMetric struct {
	Parts []Noisy
}

// NoisedPartition is one released partition of an output.
type NoisedPartition struct {
	Key     []string       // one value per group-by column, in order
	Null    []bool         // optional: Null[i] marks Key[i] as NULL
	Metrics []NoisedMetric // one per metric of the output, in order
}

// AddNoisedOutput adds output name to the release from partitions noised by
// an external DP engine. Partitions may come in any order; the
// table is sorted by key like the embedded engine's. stats are the internal,
// non-private counts for the run report.
//
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
// plan's SelectionPlan are present. Post-processing (each metric kind's
// release: means and variances from their noisy parts, clamping, confidence
// intervals) is done here, as the Releaser does for the embedded engine.
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
	cols, err := r.newOutputColumns(op)
	if err != nil {
		return nil, err
	}
	for row, kp := range sorted {
		if row > 0 && compareKeys(sorted[row-1].key, kp.key) == 0 {
			return nil, errors.New("two partitions have the same key")
		}
		cols.addKey(kp.key)
		for i := range op.Metrics {
			mp := &op.Metrics[i]
			parts := kp.p.Metrics[i].Parts
			if err := checkNoised(mp, parts); err != nil {
				return nil, fmt.Errorf("metric %q: %w", mp.Spec.Name, err)
			}
			if err := cols.release(i, mp, r.nz, parts); err != nil {
				return nil, err
			}
		}
	}
	return cols, nil
}

// checkNoised checks that parts has what the metric's plan draws: one
// value per component, finite floats.
func checkNoised(mp *MetricPlan, parts []Noisy) error {
	if len(parts) != len(mp.Components) {
		return fmt.Errorf("has %d noised statistics, want %d", len(parts), len(mp.Components))
	}
	for p, c := range mp.Components {
		if !c.Stat.Integer() && !c.Stat.Stream() && !finite(parts[p].Float) {
			return fmt.Errorf("noisy %s is not finite", c.Stat)
		}
	}
	return nil
}
