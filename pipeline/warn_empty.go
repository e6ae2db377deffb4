package pipeline

import (
	"fmt"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// LikelyEmpty returns a warning for each output of j that is likely to
// release no row, judged from input-level counts only:
//
//   - an output with public partitions always releases every listed key, so
//     it is never warned about;
//   - an output whose keys come from DP partition selection releases a row
//     with a 50% chance only when the row stands on the plan's People50
//     people (privacy.SelectionPlan.ReleaseChance, at least k). No row can
//     stand on more people than the input's usable rows (read, less the
//     malformed and those without consent: every person has at least one),
//     so when usable rows < People50 every row's chance is below 50% and the
//     output is likely empty.
//
// The rule reads no per-partition count: the warning says nothing about any
// key or partition beyond what the run's log already carries (rows read),
// and it can be given before any budget is charged. It errs towards silence:
// an input with enough rows can still spread its people too thin.
func LikelyEmpty(j *job.Job, counts engine.InputCounts) ([]string, error) {
	plan, err := privacy.NewPlan(j.PrivacySpec())
	if err != nil {
		return nil, err
	}
	usable := max(counts.Read-counts.Rejected-counts.Excluded, 0)
	var out []string
	for _, op := range plan.Outputs {
		if op.Selection == nil {
			continue
		}
		p50, _, err := op.Selection.ReleaseChance()
		if err != nil {
			return nil, fmt.Errorf("output %s: release chance: %w", op.Spec.Name, err)
		}
		p50 = max(p50, op.Selection.K)
		if usable < p50 {
			out = append(out, fmt.Sprintf("output %s is likely to release nothing: a row needs about %d people for a 50%% chance of release "+
				"and the input has %d usable rows (read, less malformed and without consent), so no row can have that many people; "+
				"raise privacy.epsilon or this output's share, coarsen group_by, or list public_partitions (privagg plan shows the people needed)",
				op.Spec.Name, p50, usable))
		}
	}
	return out, nil
}
