package privacy

import "math"

// StdDev is the standard deviation of per-person partition totals clamped to
// [min, max]: the square root of the variance metric's value, from the same
// three noised parts as dpagg.BoundedStandardDeviation.
const StdDev MetricKind = "stddev"

func init() { register(stddevMetric{}) }

type stddevMetric struct{}

func (stddevMetric) Kind() MetricKind { return StdDev }

func (stddevMetric) Doc() string {
	return "standard deviation of per-person partition totals clamped to [min, max]"
}

func (stddevMetric) Fields() Fields { return Fields{Measure: true} }

func (stddevMetric) Check(MetricSpec) []FieldProblem { return nil }

func (stddevMetric) Columns(ms MetricSpec) []Column { return valueAndCI(ms.Name, false) }

func (stddevMetric) Meaning(string, string) string {
	return "noisy standard deviation of " + perPerson
}

func (stddevMetric) Parts(MetricSpec) []Part { return varianceParts() }

// Error: |√a - √b| <= √|a - b|, so the square root of the variance's error
// bound bounds the standard deviation's (at most the largest one, (max-min)/2).
func (stddevMetric) Error(mp *MetricPlan) ErrorModel {
	half := (mp.Spec.Max - mp.Spec.Min) / 2
	return ErrorModel{CI95At: func(n float64) float64 {
		return math.Min(math.Sqrt(varianceCI95At(mp, n)), half)
	}}
}

// release is the square root of the noisy variance (as
// dpagg.BoundedStandardDeviation.Result). Its interval is the variance's
// through the square root, which is monotone: the true standard deviation
// lies in [√lo, √hi] exactly when the true variance lies in [lo, hi], so with
// probability at least 95%. The released half-width covers both sides of
// that interval around the released value.
func (stddevMetric) release(ms MetricSpec, in Noised, out []Cell) error {
	v, lo, hi, err := noisyVariance(ms, in)
	if err != nil {
		return err
	}
	sd := math.Sqrt(v)
	out[0].Float, out[1].Float = sd, coveringHalfWidth(sd, math.Sqrt(lo), math.Sqrt(hi))
	return nil
}
