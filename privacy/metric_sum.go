package privacy

import (
	"errors"
	"math"
)

// Sum is the sum of per-person partition totals clamped to [min, max].
const Sum MetricKind = "sum"

func init() { register(sumMetric{}) }

type sumMetric struct{}

func (sumMetric) Kind() MetricKind { return Sum }

func (sumMetric) Doc() string { return "sum of per-person partition totals clamped to [min, max]" }

func (sumMetric) Fields() Fields { return Fields{Measure: true} }

func (sumMetric) Check(MetricSpec) []FieldProblem { return nil }

func (sumMetric) Columns(ms MetricSpec) []Column { return valueAndCI(ms.Name, false) }

func (sumMetric) Meaning(string, string) string { return "noisy sum of " + perPerson }

func (sumMetric) Parts(MetricSpec) []Part {
	return []Part{{Stat: ClampedSum, Weight: 1, Comment: "sum of per-person totals clamped to [min, max]"}}
}

func (sumMetric) Error(mp *MetricPlan) ErrorModel { return constantError(mp, "") }

func (sumMetric) release(ms MetricSpec, in Noised, out []Cell) error {
	v := in.Float(0)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return errors.New("noisy sum is not finite")
	}
	half, err := in.HalfWidth(0)
	if err != nil {
		return err
	}
	if ms.Min >= 0 {
		v = math.Max(v, 0) // post-processing: a sum of non-negative totals
	}
	out[0].Float, out[1].Float = v, half
	return nil
}

// perPerson is what the value metrics aggregate, in manifests.
const perPerson = "per-person partition totals clamped to the metric's bounds"
