package privacy

import (
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
)

func externalSpec() JobSpec {
	return JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 5, Outputs: []OutputSpec{{
		Name: "o", GroupBy: []string{"c"}, MaxPartitionsPerUnit: 2, PublicPartitions: true,
		Metrics: []MetricSpec{
			{Name: "events", Kind: Count, MaxPerUnit: 3},
			{Name: "people", Kind: CountUnits},
			{Name: "rev", Kind: Sum, Min: 0, Max: 10},
			{Name: "avg", Kind: Mean, Min: 0, Max: 10},
			{Name: "var", Kind: Variance, Min: 0, Max: 10},
			{Name: "q", Kind: Quantiles, Min: 0, Max: 10, Ranks: []float64{0.5}},
		},
	}}}
}

func TestAddNoisedOutput(t *testing.T) {
	plan := mustPlan(t, externalSpec())
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{Job: "j"}, ReleaserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := func(n int64, sum, sq, q float64) []NoisedMetric {
		return []NoisedMetric{
			{Parts: []Noisy{{Int: n}}}, {Parts: []Noisy{{Int: n}}}, {Parts: []Noisy{{Float: sum}}},
			{Parts: []Noisy{{Int: n}, {Float: sum}}}, {Parts: []Noisy{{Int: n}, {Float: sum}, {Float: sq}}},
			{Parts: []Noisy{{Values: []float64{q}}}},
		}
	}
	parts := []NoisedPartition{
		{Key: []string{"b"}, Metrics: m(-4, -3, 1, 12)},
		{Key: []string{"x"}, Null: []bool{true}, Metrics: m(10, 20, 40, 5)},
		{Key: []string{"a"}, Metrics: m(10, 20, 40, 5)},
	}
	if err := r.AddNoisedOutput("o", parts, OutputStats{Released: 3}); err != nil {
		t.Fatal(err)
	}
	rel, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Free()
	rec := rel.Tables()[0].Record()
	keys := rec.Column(0).(*array.String)
	if keys.Value(0) != "a" || keys.Value(1) != "b" || !keys.IsNull(2) {
		t.Errorf("keys not sorted with NULL last: %v", keys)
	}
	col := func(name string) int { return rec.Schema().FieldIndices(name)[0] }
	if got := rec.Column(col("events")).(*array.Int64).Value(1); got != 0 {
		t.Errorf("negative noisy count released as %d, want 0", got)
	}
	if got := rec.Column(col("rev")).(*array.Float64).Value(1); got != 0 {
		t.Errorf("negative noisy sum with min >= 0 released as %v, want 0", got)
	}
	if got := rec.Column(col("avg")).(*array.Float64).Value(0); got != 7 { // 5 + 20/10
		t.Errorf("mean = %v, want 7", got)
	}
	if got := rec.Column(col("var")).(*array.Float64).Value(0); math.Abs(got-0) > 1e-12 { // 40/10 - 2^2
		t.Errorf("variance = %v, want 0", got)
	}
	if got := rec.Column(col("q_p50")).(*array.Float64).Value(1); got != 10 {
		t.Errorf("quantile not clamped to max: %v", got)
	}
	// The CI half-widths are the plan's (integer intervals round outwards,
	// as the Releaser's do).
	c := plan.Outputs[0].Metrics[0].Components[0]
	if got := rec.Column(col("events_ci95")).(*array.Float64).Value(0); math.Abs(got-c.CI95) > 1 {
		t.Errorf("events_ci95 = %v, want the plan's %v", got, c.CI95)
	}
	if got := rel.Metadata().Epsilon; got != plan.Total.Epsilon {
		t.Errorf("release epsilon %v, want %v", got, plan.Total.Epsilon)
	}
}

func TestAddNoisedOutputRefuses(t *testing.T) {
	plan := mustPlan(t, externalSpec())
	one := func(p ...Noisy) NoisedMetric { return NoisedMetric{Parts: p} }
	ok := []NoisedMetric{one(Noisy{Int: 1}), one(Noisy{Int: 1}), one(Noisy{}), one(Noisy{}, Noisy{}), one(Noisy{}, Noisy{}, Noisy{}), one(Noisy{Values: []float64{1}})}
	for _, tc := range []struct {
		name, output string
		parts        []NoisedPartition
		want         string
	}{
		{"unknown output", "nope", nil, "not in the plan"},
		{"duplicate key", "o", []NoisedPartition{{Key: []string{"a"}, Metrics: ok}, {Key: []string{"a"}, Metrics: ok}}, "same key"},
		{"key arity", "o", []NoisedPartition{{Key: []string{"a", "b"}, Metrics: ok}}, "key values"},
		{"metric count", "o", []NoisedPartition{{Key: []string{"a"}, Metrics: ok[:2]}}, "metrics, want 6"},
		{"quantile count", "o", []NoisedPartition{{Key: []string{"a"}, Metrics: append(ok[:5:5], one(Noisy{}))}}, "quantiles, want 1"},
		{"part count", "o", []NoisedPartition{{Key: []string{"a"}, Metrics: append(append(ok[:3:3], one(Noisy{})), ok[4:]...)}}, "noised statistics, want 2"},
		{"infinite sum", "o", []NoisedPartition{{Key: []string{"a"}, Metrics: append(append(ok[:2:2], one(Noisy{Float: math.Inf(1)})), ok[3:]...)}}, "not finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{})
			if err != nil {
				t.Fatal(err)
			}
			err = r.AddNoisedOutput(tc.output, tc.parts, OutputStats{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := NewReleaser(plan, nil, Metadata{}, ReleaserOptions{}); err == nil {
		t.Error("a releaser for external results was made without a reservation")
	}
}
