package privacy

import (
	"errors"
	"math"
	"testing"
)

// TestPlanRefusesBoundsTooWideForFloat64 checks the MaxScale rule: bounds
// whose sums or noise would overflow float64 fail NewPlan (before any budget
// is charged), with the output, metric and statistic at fault; bounds just
// inside the rule pass.
func TestPlanRefusesBoundsTooWideForFloat64(t *testing.T) {
	t.Parallel()
	spec := func(ms ...MetricSpec) JobSpec {
		return JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 1, Outputs: []OutputSpec{{
			Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 1, PublicPartitions: true, Metrics: ms}}}
	}
	ok := MetricSpec{Name: "ok", Kind: Sum, Column: "x", Min: 0, Max: 1e6}
	for _, tc := range []struct {
		name string
		m    MetricSpec
		stat Statistic // 0: the span
	}{
		{"sum at the largest float", MetricSpec{Name: "m", Kind: Sum, Column: "x", Min: 0, Max: 1.7e308}, ClampedSum},
		{"sum just past the rule", MetricSpec{Name: "m", Kind: Sum, Column: "x", Min: -MaxScale, Max: 0}, ClampedSum},
		{"mean", MetricSpec{Name: "m", Kind: Mean, Column: "x", Min: 0, Max: 1e300}, CenteredSum},
		{"variance squares", MetricSpec{Name: "m", Kind: Variance, Column: "x", Min: 0, Max: 1e200}, CenteredSumSquares},
		{"stddev squares", MetricSpec{Name: "m", Kind: StdDev, Column: "x", Min: 0, Max: 1e160}, CenteredSumSquares},
		{"quantiles span", MetricSpec{Name: "m", Kind: Quantiles, Column: "x", Min: -1e308, Max: 1e308, Ranks: []float64{0.5}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPlan(withDefaultSplit(spec(ok, tc.m)))
			var se *ScaleError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *ScaleError", err)
			}
			p := se.Problems[0]
			if len(se.Problems) != 1 || p.Output != 0 || p.Metric != 1 || p.Stat != tc.stat {
				t.Errorf("problems = %+v, want one for outputs[0].metrics[1], statistic %v", se.Problems, tc.stat)
			}
		})
	}
	for _, m := range []MetricSpec{
		{Name: "m", Kind: Sum, Column: "x", Min: -MaxScale / 100, Max: MaxScale / 100},
		{Name: "m", Kind: Variance, Column: "x", Min: 0, Max: math.Sqrt(MaxScale) / 10},
		{Name: "m", Kind: Quantiles, Column: "x", Min: -MaxScale / 2, Max: MaxScale / 2, Ranks: []float64{0.5}},
	} {
		if _, err := NewPlan(withDefaultSplit(spec(ok, m))); err != nil {
			t.Errorf("%s [%g, %g]: %v, want a plan", m.Kind, m.Min, m.Max, err)
		}
	}
}
