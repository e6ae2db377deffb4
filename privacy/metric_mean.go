package privacy

import "math"

// Mean is the mean of per-person partition totals clamped to [min, max].
const Mean MetricKind = "mean"

func init() { register(meanMetric{}) }

type meanMetric struct{}

func (meanMetric) Kind() MetricKind { return Mean }

func (meanMetric) Doc() string { return "mean of per-person partition totals clamped to [min, max]" }

func (meanMetric) Fields() Fields { return Fields{Measure: true} }

func (meanMetric) Check(MetricSpec) []FieldProblem { return nil }

func (meanMetric) Columns(ms MetricSpec) []Column { return valueAndCI(ms.Name, false) }

func (meanMetric) Meaning(string, string) string { return "noisy mean of " + perPerson }

// Parts are dpagg.BoundedMean's: a count and a normalized sum, each with
// half of the metric's budget.
func (meanMetric) Parts(MetricSpec) []Part {
	return []Part{
		{Stat: ValueCount, Weight: 1, Comment: "people with a value (denominator)"},
		{Stat: CenteredSum, Weight: 1, Comment: "sum of clamped totals minus the midpoint (numerator)"},
	}
}

// Error is a first-order bound: the numerator's noise over n, plus the
// denominator's noise times the largest deviation over n.
func (meanMetric) Error(mp *MetricPlan) ErrorModel {
	c := mp.Components
	half := (mp.Spec.Max - mp.Spec.Min) / 2
	return ErrorModel{CI95At: func(n float64) float64 {
		return math.Min((c[1].CI95+half*c[0].CI95)/n, 2*half)
	}}
}

// release is dpagg.BoundedMean's post-processing: the clamped mean of the
// noisy count and the noisy sum of totals minus the midpoint, and the
// half-width of its 95% interval, combined like
// BoundedMean.ComputeConfidenceInterval (1 - Alpha = (1 - alphaNum) *
// (1 - alphaDen), alphaNum = Alpha/2).
func (meanMetric) release(ms MetricSpec, in Noised, out []Cell) error {
	mid := Midpoint(ms.Min, ms.Max)
	den := math.Max(in.Float(0), 1)
	mean := clamp(mid+in.Float(1)/den, ms.Min, ms.Max)
	alphaNum := Alpha / 2
	alphaDen := (Alpha - alphaNum) / (1 - alphaNum)
	nLo, nHi, err := in.Interval(1, alphaNum)
	if err != nil {
		return err
	}
	dLo, dHi, err := in.Interval(0, alphaDen)
	if err != nil {
		return err
	}
	dLo, dHi = math.Max(dLo, 1), math.Max(dHi, 1)
	var lo, hi float64
	if nLo >= 0 {
		lo = nLo / dHi
	} else {
		lo = nLo / dLo
	}
	if nHi >= 0 {
		hi = nHi / dLo
	} else {
		hi = nHi / dHi
	}
	lo, hi = clamp(lo+mid, ms.Min, ms.Max), clamp(hi+mid, ms.Min, ms.Max)
	out[0].Float, out[1].Float = mean, (hi-lo)/2
	return nil
}
