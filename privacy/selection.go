package privacy

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/differential-privacy/go/v3/dpagg"
	"github.com/google/differential-privacy/go/v3/noise"
)

// Selection is the outcome of DP partition selection for one output: the
// keys that passed, in key order, and nothing else (no count). It is a DP
// output, so an engine may use it like a list of public partitions.
type Selection struct {
	output  string
	groupBy []string
	keys    []keyTuple
}

// Output names the output the keys belong to.
func (s *Selection) Output() string { return s.output }

// Len is the number of selected keys.
func (s *Selection) Len() int { return len(s.keys) }

// Keys returns the selected keys as one record: a nullable string column per
// group-by column, named as in the job, rows in key order. The caller
// releases the record.
func (s *Selection) Keys(alloc memory.Allocator) arrow.RecordBatch {
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	fields := make([]arrow.Field, len(s.groupBy))
	for i, g := range s.groupBy {
		fields[i] = arrow.Field{Name: g, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	b := array.NewRecordBuilder(alloc, arrow.NewSchema(fields, nil))
	defer b.Release()
	for c := range s.groupBy {
		sb := b.Field(c).(*array.StringBuilder)
		sb.Reserve(len(s.keys))
		for _, k := range s.keys {
			if k[c].null {
				sb.AppendNull()
			} else {
				sb.Append(k[c].v)
			}
		}
	}
	return b.NewRecordBatch()
}

// SelectPartitions runs phase 1 of output name's release: DP partition
// selection (dpagg.PreAggSelectPartition with the k pre-threshold and the
// plan's selection share) on units, whose rows are the output's partitions
// with data: the group-by columns (strings) and UnitsColumn, the distinct
// units after bounding each unit to L0 partitions among all partitions,
// sorted by key with unique keys. Other columns are ignored.
//
// The output must select partitions (keys not all public). ReleaseOutput
// then accepts the phase-2 statistics of exactly the returned keys.
// SelectPartitions does not release units; the caller does.
//
// Two-phase release of an output whose keys come from the data (see
// docs/two-phase.md):
//
//  1. the engine bounds each unit to L0 partitions among all partitions and
//     hands the distinct bounded units per partition to SelectPartitions,
//     which runs DP partition selection with the k pre-threshold on the
//     plan's selection share and returns the selected keys;
//  2. the engine bounds contributions again among the selected partitions
//     only and hands their statistics to ReleaseOutput, which noises them
//     with the metrics' shares, exactly as for public partitions.
//
// The selected keys are the output of a DP mechanism, so phase 2 treats them
// as public partitions (post-processing), and the output spends the
// selection share plus the metric shares (sequential composition).
// ReleaseOutput accepts the phase-2 statistics of exactly the selected keys,
// no more and no fewer.
func (r *Releaser) SelectPartitions(ctx context.Context, name string, units array.RecordReader) (*Selection, error) {
	if r.closed {
		return nil, errors.New("select partitions: releaser is finished")
	}
	op := r.output(name)
	if op == nil {
		return nil, fmt.Errorf("select partitions of %q: not in the plan", name)
	}
	if op.Selection == nil {
		return nil, fmt.Errorf("select partitions of %q: its partitions are public", name)
	}
	if !op.twoPhase() {
		return nil, fmt.Errorf("select partitions of %q: it selects through its count (%s)", name, op.Selection.Method)
	}
	if r.selected[name] != nil || r.done[name] {
		return nil, fmt.Errorf("select partitions of %q: already selected", name)
	}
	sel, stats, err := r.selectPartitions(ctx, op, units)
	if err != nil {
		return nil, fmt.Errorf("select partitions of %q: %w", name, err)
	}
	r.selected[name] = sel
	r.stats[name] = stats
	return sel, nil
}

func (r *Releaser) selectPartitions(ctx context.Context, op *OutputPlan, units array.RecordReader) (*Selection, OutputStats, error) {
	var stats OutputStats
	keyIdx, err := fieldIndexes(units.Schema(), op.Spec.GroupBy)
	if err != nil {
		return nil, stats, err
	}
	unitIdx, err := typedField(units.Schema(), UnitsColumn, arrow.INT64)
	if err != nil {
		return nil, stats, err
	}
	sel := &Selection{output: op.Spec.Name, groupBy: op.Spec.GroupBy}
	// Two key buffers, swapped per row; a selected key is copied.
	cur, prev := make(keyTuple, len(keyIdx)), make(keyTuple, len(keyIdx))
	first := true
	for units.Next() {
		if err := ctx.Err(); err != nil {
			return nil, stats, err
		}
		rec := units.RecordBatch()
		keys, err := keyColumns(rec, keyIdx)
		if err != nil {
			return nil, stats, err
		}
		bk := newBatchKeys(keys, int(rec.NumRows()))
		n := rec.Column(unitIdx).(*array.Int64)
		for row := 0; row < int(rec.NumRows()); row++ {
			bk.at(row, cur)
			if !first && compareKeys(prev, cur) >= 0 {
				return nil, stats, errors.New("partitions are not sorted by key with unique keys")
			}
			first = false
			cur, prev = prev, cur // prev is this row's key from here on
			if n.IsNull(row) {
				return nil, stats, fmt.Errorf("%s is NULL", UnitsColumn)
			}
			stats.Partitions++
			keep, err := selectPartition(op.Selection, n.Value(row))
			if err != nil {
				return nil, stats, err
			}
			if !keep {
				stats.Suppressed++
				continue
			}
			stats.Released++
			// The strings point into the batch's key text (Go strings,
			// not Arrow buffers); the tuple itself is reused.
			sel.keys = append(sel.keys, append(keyTuple(nil), prev...))
		}
	}
	if err := units.Err(); err != nil {
		return nil, stats, fmt.Errorf("read partitions: %w", err)
	}
	return sel, stats, nil
}

// selectPartition is DP partition selection with the k pre-threshold for
// one partition of units distinct bounded units, as
// dpagg.PreAggSelectPartition decides it: at L0 <= 3 the library's exact
// keep probability; at L0 > 3 Gaussian thresholding with half the δ for
// the noise and half for the threshold, through clearsThreshold, which
// does not round the noised count before comparing it (the library does,
// and under-counts δ; see clearsThreshold).
func selectPartition(sp *SelectionPlan, units int64) (bool, error) {
	if sp.L0 > 3 {
		half := sp.Share.Delta / 2
		_, keep, err := clearsThreshold(noise.Gaussian(), units, sp.K, sp.L0, 1, sp.Share.Epsilon, half, half)
		if err != nil {
			return false, fmt.Errorf("partition selection: %w", err)
		}
		return keep, nil
	}
	s, err := dpagg.NewPreAggSelectPartition(&dpagg.PreAggSelectPartitionOptions{
		Epsilon:                  sp.Share.Epsilon,
		Delta:                    sp.Share.Delta,
		PreThreshold:             sp.K,
		MaxPartitionsContributed: sp.L0,
	})
	if err != nil {
		return false, fmt.Errorf("partition selection: %w", err)
	}
	if err := s.IncrementBy(units); err != nil {
		return false, fmt.Errorf("partition selection: %w", err)
	}
	keep, err := s.ShouldKeepPartition()
	if err != nil {
		return false, fmt.Errorf("partition selection: %w", err)
	}
	return keep, nil
}

// selectedKeys walks the phase-2 aggregates of a selected output along its
// Selection: every aggregate row must be the next selected key.
type selectedKeys struct {
	sel *Selection
	pos int
}

func (s *selectedKeys) next(k keyTuple) error {
	if s.pos == len(s.sel.keys) || compareKeys(s.sel.keys[s.pos], k) != 0 {
		return errors.New("aggregates hold a partition that was not selected (or lack one that was)")
	}
	s.pos++
	return nil
}

func (s *selectedKeys) done() error {
	if s.pos != len(s.sel.keys) {
		return fmt.Errorf("aggregates lack %d selected partitions", len(s.sel.keys)-s.pos)
	}
	return nil
}
