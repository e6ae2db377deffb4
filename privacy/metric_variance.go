package privacy

import "math"

// Variance is the variance of per-person partition totals clamped to
// [min, max].
const Variance MetricKind = "variance"

func init() { register(varianceMetric{}) }

type varianceMetric struct{}

func (varianceMetric) Kind() MetricKind { return Variance }

func (varianceMetric) Doc() string {
	return "variance of per-person partition totals clamped to [min, max]"
}

func (varianceMetric) Fields() Fields { return Fields{Measure: true} }

func (varianceMetric) Check(MetricSpec) []FieldProblem { return nil }

func (varianceMetric) Columns(ms MetricSpec) []Column { return valueAndCI(ms.Name, false) }

func (varianceMetric) Meaning(string, string) string { return "noisy variance of " + perPerson }

func (varianceMetric) Parts(MetricSpec) []Part { return varianceParts() }

func (varianceMetric) Error(mp *MetricPlan) ErrorModel {
	return ErrorModel{CI95At: func(n float64) float64 { return varianceCI95At(mp, n) }}
}

func (varianceMetric) release(ms MetricSpec, in Noised, out []Cell) error {
	v, lo, hi, err := noisyVariance(ms, in)
	if err != nil {
		return err
	}
	out[0].Float, out[1].Float = v, coveringHalfWidth(v, lo, hi)
	return nil
}

// varianceParts are dpagg.BoundedVariance's: a count, a normalized sum and a
// normalized sum of squares, each with a third of the metric's budget.
func varianceParts() []Part {
	return []Part{
		{Stat: ValueCount, Weight: 1, Comment: "people with a value"},
		{Stat: CenteredSum, Weight: 1, Comment: "sum of clamped totals minus the midpoint"},
		{Stat: CenteredSumSquares, Weight: 1, Comment: "sum of squared clamped totals minus the midpoint"},
	}
}

// varianceCI95At is a first-order 95% error bound of a variance over n
// people (the parts' noise, weighted by how much each moves the variance).
func varianceCI95At(mp *MetricPlan, n float64) float64 {
	c := mp.Components
	half := (mp.Spec.Max - mp.Spec.Min) / 2
	return math.Min((c[2].CI95+2*half*c[1].CI95+half*half*c[0].CI95)/n, half*half)
}

// noisyVariance is the variance of varianceParts' noised values, as
// dpagg.BoundedVariance.Result computes it, and an interval [lo, hi] that
// holds the true variance with probability at least 1 - Alpha.
//
// The interval propagates the library's intervals of the three parts. Each
// is taken at level (1 - Alpha)^(1/3); their noise is independent, so all
// three hold their true values (N people, S and Q the centered sum and sum of
// squares) with probability 1 - Alpha. On that event the true variance
// g = Q·u - S²·u², u = 1/max(N, 1), lies between the least and the largest g
// over the box of the three intervals: g grows with Q and falls with S², and
// is concave in u, so the least value is at an end of u's interval and the
// largest at an end or at the vertex u = Q/(2S²). The true variance is also
// in [0, ((max-min)/2)²], so both ends are clamped to it.
func noisyVariance(ms MetricSpec, in Noised) (v, lo, hi float64, err error) {
	half := (ms.Max - ms.Min) / 2
	maxVar := half * half
	n := math.Max(in.Float(0), 1)
	mean := in.Float(1) / n
	v = clamp(in.Float(2)/n-mean*mean, 0, maxVar)

	alpha := 1 - math.Cbrt(1-Alpha)
	var b [3][2]float64
	for p := range b {
		if b[p][0], b[p][1], err = in.Interval(p, alpha); err != nil {
			return 0, 0, 0, err
		}
	}
	uLo, uHi := 1/math.Max(b[0][1], 1), 1/math.Max(b[0][0], 1)
	sLo, sHi := b[1][0], b[1][1]
	s2Max := math.Max(sLo*sLo, sHi*sHi)
	s2Min := 0.0
	if sLo > 0 || sHi < 0 {
		s2Min = math.Min(sLo*sLo, sHi*sHi)
	}
	qLo, qHi := math.Max(b[2][0], 0), math.Max(b[2][1], 0) // the true Q is >= 0
	g := func(q, s2, u float64) float64 { return q*u - s2*u*u }
	lo = math.Min(g(qLo, s2Max, uLo), g(qLo, s2Max, uHi))
	hi = math.Max(g(qHi, s2Min, uLo), g(qHi, s2Min, uHi))
	if s2Min > 0 {
		if u := qHi / (2 * s2Min); u > uLo && u < uHi {
			hi = math.Max(hi, g(qHi, s2Min, u))
		}
	}
	return v, clamp(lo, 0, maxVar), clamp(hi, 0, maxVar), nil
}

// coveringHalfWidth is the half-width of the narrowest interval centred on
// the released value v that contains [lo, hi]: value ± half-width then holds
// the true value whenever [lo, hi] does.
func coveringHalfWidth(v, lo, hi float64) float64 {
	return math.Max(math.Abs(v-lo), math.Abs(hi-v))
}
