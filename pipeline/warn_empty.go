package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/privacy"
)

// likelyEmptyHint is what every likely-empty warning suggests.
const likelyEmptyHint = "raise privacy.epsilon or this output's share, coarsen group_by, or list public_partitions " +
	"(privagg plan shows the people needed)"

// LikelyEmpty returns a warning for each output of plan that is likely to
// release no row. Only outputs whose keys come from DP partition selection
// can be: a row is released with a 50% chance only when its partition has
// the plan's People50 people (privacy.OutputPlan.ReleaseChance, at least
// k), a number from the plan alone. An output with public partitions
// releases every listed key and is never warned about. Two rules, in order;
// an output gets at most one warning:
//
//  1. usable rows: no partition can have more people than the input has
//     usable rows (read, less the malformed and those without consent: every
//     person has at least one), so when usable rows < People50 every row's
//     chance is below 50%. It needs nothing beyond the row counts the run
//     already logs.
//  2. partition reach: when reach is not nil (the engine implements
//     engine.PartitionReach), no partition of the output has People50
//     people after bounding. This catches the common case rule 1 misses:
//     enough rows, but people spread thin over many partitions.
//
// What the log learns: each warning states its rule, the people needed
// (data-independent) and, for rule 1, the usable rows, which the log
// carries anyway. Rule 2 adds one bit per output, whether the output's
// largest partition reaches People50: a fact about the data that is not
// differentially private. It goes to the operator's log, internal like the
// run report, before any budget is reserved, and no warning carries a
// per-partition count or anything computed from one. Rule 2 is for runs
// only: a dry run passes reach nil (DryRun), since it is free, repeatable
// and leaves no run report, and with public lists, bins and a small
// People50 its bit turns into a membership test (audit 2, L4).
func LikelyEmpty(ctx context.Context, plan *privacy.Plan, counts engine.InputCounts, reach engine.PartitionReach) ([]string, error) {
	usable := max(counts.Read-counts.Rejected-counts.Excluded, 0)
	var out []string
	for o, op := range plan.Outputs {
		if op.Selection == nil {
			continue
		}
		p50, _, err := op.ReleaseChance(plan.Spec.Noise)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", op.Spec.Name, err)
		}
		if usable < p50 {
			out = append(out, fmt.Sprintf("output %s is likely to release nothing: a row needs about %d people for a 50%% chance of release "+
				"and the input has %d usable rows (read, less malformed and without consent), so no row can have that many people; %s",
				op.Spec.Name, p50, usable, likelyEmptyHint))
			continue
		}
		if reach == nil {
			continue
		}
		reached, err := reach.AnyPartitionReaches(ctx, o, p50)
		if err != nil {
			return nil, err
		}
		if !reached {
			out = append(out, fmt.Sprintf("output %s is likely to release nothing: a row needs about %d people for a 50%% chance of release "+
				"and no partition of the input has that many (people counted after bounding each to %d of the output's partitions); %s",
				op.Spec.Name, p50, op.Selection.L0, likelyEmptyHint))
		}
	}
	return out, nil
}

// warnLikelyEmpty logs LikelyEmpty's warnings for the input computer has
// prepared, before anything is charged. The check only warns: when it
// cannot be made, that is logged and the run goes on.
func warnLikelyEmpty(ctx context.Context, log *slog.Logger, plan *privacy.Plan, counts engine.InputCounts, computer engine.Engine) {
	reach, _ := computer.(engine.PartitionReach)
	logLikelyEmpty(ctx, log, plan, counts, reach)
}

// logLikelyEmpty logs LikelyEmpty's warnings with reach (nil: rule 1 only).
func logLikelyEmpty(ctx context.Context, log *slog.Logger, plan *privacy.Plan, counts engine.InputCounts, reach engine.PartitionReach) {
	warnings, err := LikelyEmpty(ctx, plan, counts, reach)
	if err != nil {
		log.Warn("could not check whether an output is likely to release nothing", "err", err)
		return
	}
	for _, w := range warnings {
		log.Warn(w)
	}
}
