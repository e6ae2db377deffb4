package privacy

import (
	"errors"
	"fmt"
	"slices"
)

// Consistency is an output's consistency: constraints the true values always
// satisfy, imposed on the released values by post-processing (it reads
// nothing but released values and their intervals, so it costs no privacy).
// Like the US Census TopDown algorithm, privagg offers a fixed set of
// constraints that hold by construction, not a constraint language: a
// constraint the truth may break would pull the values away from it.
//
// Under any consistency, counts, count_units and sums whose min is >= 0
// stay non-negative, and counts stay integers, after every adjustment
// (consistency_apply.go).
type Consistency struct {
	// UnitsLeRows: in every row, each count_units metric is at most each
	// count metric (a person counted in a row has at least one row there).
	// A row that breaks it gets the inverse-variance weighted mean of the
	// two values in both.
	UnitsLeRows bool
	// RollupOf names the parent output whose rows this one's are sums of:
	// this output's group_by is a subset of the parent's, and each of its
	// rows gets the sum of the parent's rows with the same values of those
	// columns, for every additive metric (count or sum) both outputs have
	// under the same name, kind and column. Both are adjusted by weighted
	// least squares, with the inverse noise variances as weights.
	RollupOf string
}

// Any reports whether c asks for some constraint.
func (c *Consistency) Any() bool { return c != nil && (c.UnitsLeRows || c.RollupOf != "") }

// The problems of consistency settings, for errors.Is.
var (
	ErrConsistencyEmpty      = errors.New("must set units_le_rows or rollup_of")
	ErrUnitsLeRowsMetrics    = errors.New("needs a count_units and a count metric in the output")
	ErrRollupUnknown         = errors.New("names no output of the job")
	ErrRollupSelf            = errors.New("names this output: an output cannot roll up itself")
	ErrRollupChain           = errors.New("names an output that is itself a rollup: one level of rollup only")
	ErrRollupShared          = errors.New("names an output that another output already rolls up: one rollup per parent")
	ErrRollupNotSubset       = errors.New("needs this output's group_by to be a subset of the parent's")
	ErrRollupParentNotPublic = errors.New("needs the parent's keys to be public (public_partitions for every group_by column): rows selected from the data leave out partitions, and their sums would not be the totals")
	ErrRollupNoSharedMetrics = errors.New("needs an additive metric (count or sum) with the same name, type and column in both outputs")
)

// CheckConsistency is the rule of output i's consistency settings, against
// the job's other outputs. problem reports one problem under key suffix
// field, relative to the output ("consistency.rollup_of").
func (s JobSpec) CheckConsistency(i int, problem func(field string, value any, err error)) {
	o := s.Outputs[i]
	c := o.Consistency
	if c == nil {
		return
	}
	if !c.Any() {
		problem("consistency", nil, ErrConsistencyEmpty)
		return
	}
	if c.UnitsLeRows && (o.countUnitsMetric() < 0 || !slices.ContainsFunc(o.Metrics, func(m MetricSpec) bool { return m.Kind == Count })) {
		problem("consistency.units_le_rows", c.UnitsLeRows, ErrUnitsLeRowsMetrics)
	}
	if c.RollupOf == "" {
		return
	}
	const field = "consistency.rollup_of"
	value := fmt.Sprintf("%q", c.RollupOf)
	if c.RollupOf == o.Name {
		problem(field, value, ErrRollupSelf)
		return
	}
	p := slices.IndexFunc(s.Outputs, func(x OutputSpec) bool { return x.Name == c.RollupOf })
	if p < 0 {
		problem(field, value, ErrRollupUnknown)
		return
	}
	parent := s.Outputs[p]
	if parent.Consistency != nil && parent.Consistency.RollupOf != "" {
		problem(field, value, ErrRollupChain)
	}
	for j, x := range s.Outputs {
		if j < i && x.Consistency != nil && x.Consistency.RollupOf == c.RollupOf {
			problem(field, value, fmt.Errorf("%w (%s)", ErrRollupShared, x.Name))
			break
		}
	}
	for _, g := range o.GroupBy {
		if !slices.Contains(parent.GroupBy, g) {
			problem(field, value, fmt.Errorf("%w: %q is not in %s's group_by", ErrRollupNotSubset, g, parent.Name))
		}
	}
	if !parent.PublicPartitions {
		problem(field, value, ErrRollupParentNotPublic)
	}
	if len(rollupPairs(o, parent)) == 0 {
		problem(field, value, ErrRollupNoSharedMetrics)
	}
}

// rollupPairs are the metrics a rollup sums: per pair, the index of the
// metric in child and in parent.
func rollupPairs(child, parent OutputSpec) [][2]int {
	var out [][2]int
	for i, m := range child.Metrics {
		if !additive(m.Kind) {
			continue
		}
		for j, pm := range parent.Metrics {
			if pm.Name == m.Name && pm.Kind == m.Kind && pm.Column == m.Column {
				out = append(out, [2]int{i, j})
			}
		}
	}
	return out
}

// additive reports whether the true values of kind k add up over
// partitions: the rows or the total of a group are the sums of its parts'.
// Distinct people do not (one person is in many parts), nor means.
func additive(k MetricKind) bool { return k == Count || k == Sum }

// nonNegative reports whether ms's true values are never negative.
func nonNegative(ms MetricSpec) bool {
	return ms.Kind == Count || ms.Kind == CountUnits || (ms.Kind == Sum && ms.Min >= 0)
}
