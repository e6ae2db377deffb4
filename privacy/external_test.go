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
	t.Parallel()
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
	t.Parallel()
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

// An external engine's values get the corrections of the estimates, as the
// Releaser's own do; with auto bounds not estimated nothing is added.
func TestAddNoisedOutputCorrectsForBounding(t *testing.T) {
	t.Parallel()
	spec := JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 10, BoundsShare: 0.2, Outputs: []OutputSpec{autoOutput()}}
	spec.Outputs[0].PublicPartitions, spec.Outputs[0].SelectionShare = false, 0.3
	plan := mustPlan(t, spec)
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{Job: "j"}, ReleaserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setNoise(r, noNoise{})
	r.est.nz = noNoise{}
	part := func(n int64) []NoisedPartition {
		return []NoisedPartition{{Key: []string{"a"}, Metrics: []NoisedMetric{
			{Parts: []Noisy{{Int: n}}}, {Parts: []Noisy{{Int: n}}}, {Parts: []Noisy{{Float: 30}}}, {Parts: []Noisy{{Int: n}, {Float: 0}}},
		}}}
	}
	if err := r.AddNoisedOutput("o", part(300), OutputStats{}); err == nil || !strings.Contains(err.Error(), "auto bounds") {
		t.Fatalf("add before the estimates: err = %v", err)
	}
	if _, err := r.EstimatePartitions("o", exactly(map[int64]int64{1: 6000, 4: 2000, 30: 2000})); err != nil {
		t.Fatal(err)
	}
	if _, err := r.EstimateValues("o", exactly(map[int64]int64{1: 10000}), map[string]Histogram{"revenue": {ValueBucket(20): 10000}}); err != nil {
		t.Fatal(err)
	}
	before, err := r.DroppedCaps("o")
	if err != nil || before.PairsCap < 30 {
		t.Fatalf("caps before the selection = %+v, %v; want a pairs cap of at least 30", before, err)
	}
	// The engine selected 5 partitions: no one has more than 5 there.
	after, err := r.DroppedCapsAmong("o", 5)
	if err != nil || after.PairsCap != 5 || after.L0 != before.L0 {
		t.Fatalf("caps among 5 partitions = %+v, %v; want a pairs cap of 5", after, err)
	}
	s := DroppedSums{PairsKept: 3e6, PairsDropped: 1e6, HeavyPairs: 1e6, RowsKept: 3e6, HeavyRows: 1e6,
		MassKept: []float64{100}, MassClamped: []float64{0}, HeavyMass: []float64{10}}
	if err := r.EstimateDropped("o", s); err != nil {
		t.Fatal(err)
	}
	if err := r.AddNoisedOutput("o", part(300), OutputStats{Released: 1}); err != nil {
		t.Fatal(err)
	}
	rel, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Free()
	tab := rel.Tables()[0]
	for _, name := range []string{"events", "people"} {
		col := tab.Record().Schema().FieldIndices(name)[0]
		if got := tab.Record().Column(col).(*array.Int64).Value(0); got != 400 {
			t.Errorf("%s = %d, want 400 (300 kept of 400)", name, got)
		}
	}
	if b := tab.Metrics()[0].Bias; b == nil || !b.Corrected || math.Abs(b.DroppedShare-0.25) > 1e-9 {
		t.Errorf("events bias = %+v, want a quarter dropped, corrected", b)
	}
	if tab.Bounds() == nil || tab.Bounds().L0.Value != 1 || tab.Bounds().Dropped == nil || tab.Bounds().Dropped.PairsCap != 5 {
		t.Errorf("table bounds = %+v, want L0 1 and the pairs cap among the selected", tab.Bounds())
	}
}
