package privacy

import (
	"errors"
	"math"
	"math/big"
)

// DefaultWeight is the weight of an output that sets none, and of a metric
// that sets none unless DefaultMetricWeight says otherwise.
const DefaultWeight = 1.0

// DefaultMetricWeight is the weight of a metric that sets none: the square
// root of its max_per_unit (Linf) for kinds that read one (count), else
// DefaultWeight.
//
// Why: a count's noise is Linf times that of a count of people, while every
// person in a partition contributes at least one row, so its noise relative
// to the people behind a row is up to Linf times larger. Splitting ε among
// metrics with noise a_i / ε_i to minimize the sum of their relative noise
// Σ a_i / ε_i gives ε_i ∝ √a_i. Sums, means and variances keep weight 1:
// their noise relative to the value depends on the data (each person's value
// against the clamp bounds), which a plan cannot know. Measured in
// benchmarks/UTILITY.md, "Budget allocation".
func DefaultMetricWeight(ms MetricSpec) float64 {
	if m, ok := LookupMetric(ms.Kind); ok && m.Fields().MaxPerUnit && ms.MaxPerUnit > 1 {
		return math.Sqrt(float64(ms.MaxPerUnit))
	}
	return DefaultWeight
}

// DefaultSelectionShare is the selection share of an output whose keys come
// from the data and that sets none. It was chosen by measurement, as
// SelectionShareRule says (docs/budget.md; benchmarks/UTILITY.md, "Budget
// allocation"): on three data shapes the share with the most useful values
// was 0.6, 0.6 and 0.3, and 0.5 keeps at least 91% of each one's best.
const DefaultSelectionShare = 0.5

// SelectionShareRule says how DefaultSelectionShare was chosen, for plan
// output and release reports.
const SelectionShareRule = "of the measured shares, the one with the most released values whose 95% CI is " +
	"narrower than the value in the worst of three data shapes (docs/budget.md)"

// SelectionDeltaShare is the fraction of an output's δ that partition
// selection gets with Gaussian noise (the metrics share the rest). δ enters
// both the selection threshold and the Gaussian σ through ln(1/δ) only, so
// this split moves either by a few percent at most.
const SelectionDeltaShare = 0.5

// splitByWeight divides total into parts proportional to weights (each > 0
// and finite). Parts are total / Σw * w, so equal weights give exactly
// total / n; where float rounding would make the parts add up (exactly) to
// more than total, the largest part is lowered by an ulp until they do not.
//
// Every split of the budget (docs/budget.md) goes through it:
//
//   - The job's (ε, δ) is split across its outputs in proportion to their
//     Weight.
//   - Within an output whose keys come from the data, partition selection
//     gets SelectionShare of the output's ε and the metrics the rest; with
//     public partitions the metrics get all of it.
//   - Laplace noise uses no δ, so with Laplace all of the output's δ goes to
//     partition selection (and none is spent with public partitions). With
//     Gaussian noise selection gets SelectionDeltaShare of δ and the metrics
//     the rest.
//   - The metrics of an output share its metric budget (ε and, with
//     Gaussian noise, δ) in proportion to their Weight.
//   - Within a metric, its kind's Parts split the metric's share by their
//     weights: mean in two (count, normalized sum) and variance in three
//     (count, normalized sum, normalized sum of squares), like the library's
//     BoundedMean and BoundedVariance.
//
// Sequential composition makes the total spent the sum of all shares, and
// since no split's parts add up (exactly) to more than what they split, the
// job never spends more than its (ε, δ).
func splitByWeight(total float64, weights []float64) []float64 {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	parts := make([]float64, len(weights))
	for i, w := range weights {
		parts[i] = total / sum * w
	}
	limit := exact(total)
	for exactSum(parts).Cmp(limit) > 0 {
		largest := 0
		for i, p := range parts {
			if p > parts[largest] {
				largest = i
			}
		}
		parts[largest] = math.Nextafter(parts[largest], 0)
	}
	return parts
}

// exact is f as an exact rational.
func exact(f float64) *big.Rat { return new(big.Rat).SetFloat64(f) }

// exactSum is the exact sum of fs.
func exactSum(fs []float64) *big.Rat {
	s := new(big.Rat)
	for _, f := range fs {
		s.Add(s, exact(f))
	}
	return s
}

// ceilFloat is the smallest float64 that is not less than r: a charge that
// covers r exactly.
func ceilFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	if exact(f).Cmp(r) < 0 {
		f = math.Nextafter(f, math.Inf(1))
	}
	return f
}

// CheckWeight is the rule of an output's or a metric's weight.
func CheckWeight(w float64) error {
	if !(w > 0) || math.IsInf(w, 0) {
		return errors.New("must be a number > 0 and finite (shares are proportional to weights)")
	}
	return nil
}

// CheckSelectionShare is the rule of the selection share of an output whose
// keys come from the data.
func CheckSelectionShare(s float64) error {
	if !(s > 0 && s < 1) {
		return errors.New("must be in (0, 1): the fraction of the output's epsilon that partition selection gets")
	}
	return nil
}

// ErrSelectionSharePublic is the problem of a selection share set on an
// output whose keys all come from public lists.
var ErrSelectionSharePublic = errors.New("applies only to outputs whose keys come from the data " +
	"(this output lists public_partitions for every group_by column, so nothing is selected)")
