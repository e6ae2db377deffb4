package duckdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/privacy"
)

var _ engine.PartitionReach = (*Engine)(nil)

// AnyPartitionReaches reports whether some partition of output o has at
// least people distinct people after bounding (engine.PartitionReach). It
// reads the per-partition statistics Prepare computed (phase 1's for a
// two-phase output: each person bounded to L0 partitions among all
// partitions, as selection counts them); DuckDB compares the largest count
// with people and only the comparison comes back, never a count. It draws
// no noise. With a bounds share it answers true: the bounds are not known
// before the budget is reserved.
func (d *Engine) AnyPartitionReaches(ctx context.Context, o int, people int64) (bool, error) {
	if d.qp == nil || !d.qp.prepared[o] {
		return false, errors.New("partition reach: the output's statistics are not prepared (call Prepare first)")
	}
	if d.qp.estimates() {
		// The bounds are estimated under the reservation: nothing is
		// bounded yet, so there is nothing to tell.
		return true, nil
	}
	rows, err := d.db.QueryRows(ctx, reachSQL(o, people))
	if err != nil {
		return false, fmt.Errorf("output %q: partition reach: %w", d.job.Outputs[o].Name, scrub(err))
	}
	reached, _ := rows[0][0].(bool)
	return reached, nil
}

// reachSQL asks whether output o's statistics table has a partition with at
// least people units: one boolean, false without any partition.
func reachSQL(o int, people int64) string {
	return fmt.Sprintf("SELECT coalesce(max(%s) >= %d, false) FROM %s", q(privacy.UnitsColumn), people, statsTable(o))
}
