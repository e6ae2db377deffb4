package privacy

import (
	"errors"
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
)

// SelectionMethod says how an output whose keys come from the data selects
// the partitions it releases (docs/two-phase.md, "Selection through the
// count").
type SelectionMethod string

const (
	// SelectTwoPhase (the default) runs DP partition selection on its own
	// share of the output's ε (phase 1), then bounds contributions again
	// among the selected partitions and noises the metrics (phase 2).
	SelectTwoPhase SelectionMethod = "two_phase"
	// SelectCountThreshold releases the partitions whose noised count_units
	// passes the library's threshold with the k pre-threshold, compared
	// before rounding (clearsThreshold): no ε goes to selection, the threshold spends the
	// output's selection δ, and contributions are bounded once, among all
	// partitions with data.
	SelectCountThreshold SelectionMethod = "count_threshold"
)

// SelectionMethods are the accepted values, default first.
var SelectionMethods = []SelectionMethod{SelectTwoPhase, SelectCountThreshold}

// Valid reports whether m is a known method ("" is not: job files default
// it).
func (m SelectionMethod) Valid() bool {
	return m == SelectTwoPhase || m == SelectCountThreshold
}

// ErrSelectionPublic is the problem of a selection method set on an output
// whose keys are all public.
var ErrSelectionPublic = errors.New("applies only to outputs whose keys come from the data (a group_by column without public_partitions)")

// ErrThresholdNeedsCountUnits is the problem of count_threshold on an output
// without a count_units metric to threshold.
var ErrThresholdNeedsCountUnits = errors.New("count_threshold needs a metric of type count_units in the output: its noised value decides which partitions are released")

// ErrThresholdShare is the problem of a selection share with count_threshold,
// which spends no ε on selection.
var ErrThresholdShare = errors.New("must not be set with selection: count_threshold, which spends no epsilon on selection (the metrics get all of it)")

// countUnitsMetric is the index of the output's first count_units metric,
// or -1.
func (o OutputSpec) countUnitsMetric() int {
	for i, m := range o.Metrics {
		if m.Kind == CountUnits {
			return i
		}
	}
	return -1
}

// CheckSelection is the rule of an output's selection method and share.
// problem reports one problem under key suffix field.
func (o OutputSpec) CheckSelection(problem func(field string, value any, err error)) {
	method := o.Selection
	if method == "" {
		method = SelectTwoPhase
	}
	switch {
	case !method.Valid():
		problem("selection", o.Selection, fmt.Errorf("must be one of %v", SelectionMethods))
	case o.PublicPartitions && o.Selection != "":
		problem("selection", o.Selection, ErrSelectionPublic)
	case o.PublicPartitions && o.SelectionShare != 0:
		problem("selection_share", o.SelectionShare, ErrSelectionSharePublic)
	case o.PublicPartitions:
	case method == SelectCountThreshold:
		if o.countUnitsMetric() < 0 {
			problem("selection", o.Selection, ErrThresholdNeedsCountUnits)
		}
		if o.SelectionShare != 0 {
			problem("selection_share", o.SelectionShare, ErrThresholdShare)
		}
	default:
		if err := CheckSelectionShare(o.SelectionShare); err != nil {
			problem("selection_share", o.SelectionShare, err)
		}
	}
}

// thresholdKeep is count_threshold selection of one partition: the noised
// count_units of the partition (component c of metric op.Selection.Metric,
// on units distinct bounded people) and whether it passes clearsThreshold
// with the pre-threshold k and the selection's δ. nz is the releaser's noise
// (the library's). The noised value, rounded, is the metric's released
// value: it is drawn once.
func thresholdKeep(nz noise.Noise, sel *SelectionPlan, c Component, units int64) (noised int64, keep bool, err error) {
	ns := c.NoiseShare()
	v, keep, err := clearsThreshold(nz, units, sel.K, c.L0, c.LInf, ns.Epsilon, ns.Delta, sel.Share.Delta)
	if err != nil {
		return 0, false, fmt.Errorf("count threshold: %w", err)
	}
	if !keep {
		return 0, false, nil
	}
	return roundCount(v), true, nil
}

// thresholdReleaseChance is ReleaseChance for count_threshold: a partition
// of n people is kept when n + noise >= threshold + k - 1, the noise
// being the count_units component's (Laplace of scale b: P(noise < -x) =
// e^(-x/b) / 2; Gaussian of deviation σ).
func thresholdReleaseChance(sel *SelectionPlan, c Component, kind NoiseKind) (p50, p95 int64, err error) {
	nz := kind.noise()
	ns := c.NoiseShare()
	threshold, err := nz.Threshold(c.L0, c.LInf, ns.Epsilon, ns.Delta, sel.Share.Delta)
	if err != nil {
		return 0, 0, fmt.Errorf("release chance: %w", err)
	}
	var margin float64
	if kind == Gaussian {
		margin = 1.6448536269514722 * noise.SigmaForGaussian(c.L0, c.LInf, ns.Epsilon, ns.Delta)
	} else {
		margin = float64(c.L0) * c.LInf / ns.Epsilon * math.Ln10
	}
	base := sel.K - 1
	return max(sel.K, base+int64(math.Ceil(threshold))), max(sel.K, base+int64(math.Ceil(threshold+margin))), nil
}
