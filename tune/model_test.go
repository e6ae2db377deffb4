package tune

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/differential-privacy/go/v3/dpagg"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestExcessShare: people by number of partitions {1: 2 people, 2: 1, 3: 1}
// hold 2 + 2 + 3 = 7 pairs. L0 1 drops 1 + 2 = 3 of them, L0 2 drops 1, L0
// 3 none.
func TestExcessShare(t *testing.T) {
	t.Parallel()
	h := []Count{{Value: 1, Count: 2}, {Value: 2, Count: 1}, {Value: 3, Count: 1}}
	for _, tc := range []struct {
		bound int64
		want  float64
	}{{1, 3.0 / 7}, {2, 1.0 / 7}, {3, 0}, {10, 0}} {
		if got := ExcessShare(h, tc.bound); !near(got, tc.want) {
			t.Errorf("ExcessShare(bound %d) = %v, want %v", tc.bound, got, tc.want)
		}
	}
	if got := ExcessShare(nil, 1); got != 0 {
		t.Errorf("empty histogram: %v, want 0", got)
	}
}

// TestKeepProbabilityTheoremOne checks the L0 <= 3 formula by hand: ε 1,
// δ 0.1, L0 1, k 1. The crossover is nCr = 1 + floor(ln((1 + e^-1·(0.2 −
// 1)) / (0.1·(1 + e^-1)))) = 2, so p(1) = δ = 0.1, p(2) = δ(1 + e) =
// 0.371828, and p(3) = 1 + e^-1(p(2) − 1) + δe^-1 = 0.805704.
func TestKeepProbabilityTheoremOne(t *testing.T) {
	t.Parallel()
	s := Selection{Epsilon: 1, Delta: 0.1, L0: 1, K: 1}
	for _, tc := range []struct {
		n    int64
		want float64
	}{{0, 0}, {1, 0.1}, {2, 0.1 * (1 + math.E)}, {3, 1 + math.Exp(-1)*(0.1*(1+math.E)-1) + 0.1*math.Exp(-1)}} {
		got, err := KeepProbability(s, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if !near(got, tc.want) {
			t.Errorf("p(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	// The pre-threshold k shifts the count: k 5 keeps nothing below 5
	// people and treats 5 people as 1.
	s.K = 5
	if p, _ := KeepProbability(s, 4); p != 0 {
		t.Errorf("k 5, 4 people: %v, want 0", p)
	}
	if p, _ := KeepProbability(s, 5); !near(p, 0.1) {
		t.Errorf("k 5, 5 people: %v, want 0.1", p)
	}
}

// TestKeepProbabilityMatchesLibraryHardThreshold: for L0 <= 3 the
// library's hard threshold is the first count kept with probability 1.
func TestKeepProbabilityMatchesLibraryHardThreshold(t *testing.T) {
	t.Parallel()
	for _, l0 := range []int64{1, 2, 3} {
		s := Selection{Epsilon: 0.5, Delta: 1e-6, L0: l0, K: 1}
		lib, err := dpagg.NewPreAggSelectPartition(&dpagg.PreAggSelectPartitionOptions{Epsilon: s.Epsilon, Delta: s.Delta, MaxPartitionsContributed: l0})
		if err != nil {
			t.Fatal(err)
		}
		hard, err := lib.GetHardThreshold()
		if err != nil {
			t.Fatal(err)
		}
		at, _ := KeepProbability(s, int64(hard))
		below, _ := KeepProbability(s, int64(hard-1))
		if at != 1 || below >= 1 {
			t.Errorf("L0 %d: hard threshold %d: p = %v, p(one less) = %v; want 1 and < 1", l0, hard, at, below)
		}
	}
}

// TestKeepThresholdMatchesPlan: for L0 > 3 the people needed for a 50%
// chance agree with what `privagg plan` prints (privacy.SelectionPlan
// ReleaseChance, the same Gaussian threshold).
func TestKeepThresholdMatchesPlan(t *testing.T) {
	t.Parallel()
	sel := privacy.SelectionPlan{Share: privacy.Share{Epsilon: 0.25, Delta: 5e-7}, L0: 5, K: 10}
	p50, _, err := sel.ReleaseChance()
	if err != nil {
		t.Fatal(err)
	}
	got, err := keepThreshold(Selection{Epsilon: 0.25, Delta: 5e-7, L0: 5, K: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got != p50 {
		t.Errorf("keepThreshold = %d, plan's 50%% count = %d", got, p50)
	}
}

// TestExpectedReleased: with ε 1, δ 0.1, L0 1, k 1, partitions of 1, 2
// and 3 people (2, 1 and 1 of them) are kept with 0.1, 0.371828 and
// 0.805704, so 2·0.1 + 0.371828 + 0.805704 are expected.
func TestExpectedReleased(t *testing.T) {
	t.Parallel()
	got, err := ExpectedReleased([]Count{{Value: 1, Count: 2}, {Value: 2, Count: 1}, {Value: 3, Count: 1}}, Selection{Epsilon: 1, Delta: 0.1, L0: 1, K: 1})
	if err != nil {
		t.Fatal(err)
	}
	p2 := 0.1 * (1 + math.E)
	want := 0.2 + p2 + 1 + math.Exp(-1)*(p2-1) + 0.1*math.Exp(-1)
	if !near(got, want) {
		t.Errorf("ExpectedReleased = %v, want %v", got, want)
	}
	if _, err := ExpectedReleased(nil, Selection{Epsilon: 0, Delta: 0.1, L0: 1, K: 1}); err == nil {
		t.Error("epsilon 0 accepted")
	}
}

// TestBudgetShares: weights 1 and 3 give the second output 3/4 of ε 1;
// selection takes 0.2 of it and metric weights 1 and 2 split the rest
// 1/3 and 2/3 (Laplace: no δ for metrics, all of the output's δ to
// selection).
func TestBudgetShares(t *testing.T) {
	t.Parallel()
	b := Budget{Epsilon: 1, Delta: 1e-6, OutputWeight: 3, OutputWeights: 4, SelectionShare: 0.2, MetricWeights: []float64{1, 2}}
	if err := b.check(); err != nil {
		t.Fatal(err)
	}
	if s := b.Selection(); !near(s.Epsilon, 0.15) || !near(s.Delta, 0.75e-6) {
		t.Errorf("selection %+v", s)
	}
	if m := b.Metric(1); !near(m.Epsilon, 0.6*2/3) || m.Delta != 0 {
		t.Errorf("metric 1 %+v", m)
	}
}

// TestBudgetMatchesPlan: Budget splits as privacy.NewPlan does, with both
// noise kinds (with Gaussian noise selection's δ is
// privacy.SelectionDeltaShare of the output's, whatever the selection share).
func TestBudgetMatchesPlan(t *testing.T) {
	t.Parallel()
	for _, kind := range []privacy.NoiseKind{privacy.Laplace, privacy.Gaussian} {
		metrics := []privacy.MetricSpec{{Name: "c", Kind: privacy.CountUnits, Weight: 1}, {Name: "e", Kind: privacy.Count, MaxPerUnit: 2, Weight: 2}}
		spec := privacy.JobSpec{Epsilon: 1, Delta: 1e-6, Noise: kind, K: 5, Outputs: []privacy.OutputSpec{
			{Name: "a", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 1, Weight: 1, SelectionShare: 0.5, Metrics: metrics},
			{Name: "b", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 1, Weight: 3, SelectionShare: 0.2, Metrics: metrics},
		}}
		plan, err := privacy.NewPlan(spec)
		if err != nil {
			t.Fatal(err)
		}
		b := Budget{Epsilon: 1, Delta: 1e-6, Gaussian: kind == privacy.Gaussian, OutputWeight: 3, OutputWeights: 4,
			SelectionShare: 0.2, MetricWeights: []float64{1, 2}}
		op := plan.Outputs[1]
		rel := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Abs(b) }
		same := func(what string, got, want privacy.Share) {
			if !rel(got.Epsilon, want.Epsilon) || !rel(got.Delta, want.Delta) {
				t.Errorf("%s %s: Budget %+v, plan %+v", kind, what, got, want)
			}
		}
		same("selection", b.Selection(), op.Selection.Share)
		for i := range metrics {
			same("metric "+metrics[i].Name, b.Metric(i), op.Metrics[i].Share)
		}
		// Public partitions: no selection, the metrics get all of the
		// output's (ε, δ) with Gaussian noise.
		spec.Outputs[1].PublicPartitions, spec.Outputs[1].SelectionShare = true, 0
		if plan, err = privacy.NewPlan(spec); err != nil {
			t.Fatal(err)
		}
		b.SelectionShare = 0
		for i := range metrics {
			same("public metric "+metrics[i].Name, b.Metric(i), plan.Outputs[1].Metrics[i].Share)
		}
	}
}

// TestNoiseShareMatchesGaussianPlan: with Gaussian noise, the noise tune
// models for each metric (a plan of that metric alone, with the share
// Budget.NoiseShare gives) is the noise the whole job's plan composes for
// it, across two outputs, one with selection and one with public keys;
// with Laplace noise NoiseShare is the metric's share.
func TestNoiseShareMatchesGaussianPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jobYAML := strings.Replace(handJob, "privacy: {epsilon: 1,", "privacy: {noise: gaussian, epsilon: 1,", 1) + `
`
	jobYAML = strings.Replace(jobYAML, "output: {dir: out", `  - name: by_region
    group_by: [campaign]
    public_partitions: {campaign: [a, b]}
    max_partitions_per_unit: 3
    weight: 2
    metrics:
      - {name: avg, type: mean, column: revenue, min: 0, max: 10}
      - {name: people, type: count_units}
output: {dir: out`, 1)
	for name, body := range map[string]string{"job.yaml": jobYAML, "events.csv": handEvents} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j, err := job.LoadJob(filepath.Join(dir, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := privacy.NewPlan(j.PrivacySpec())
	if err != nil || plan.Gaussian == nil {
		t.Fatalf("plan: %v (composition %v)", err, plan)
	}
	cur, err := currentSplit(j)
	if err != nil {
		t.Fatal(err)
	}
	for o, out := range j.Outputs {
		b := cur.budget(j, o, cur.share[o], cur.outWeight, cur.metricW[o])
		for i, m := range out.Metrics {
			share, err := b.NoiseShare(i)
			if err != nil {
				t.Fatal(err)
			}
			nz, err := metricNoise(j, o, m, out.MaxPartitionsPerUnit, share, 1000)
			if err != nil {
				t.Fatal(err)
			}
			e := plan.Outputs[o].Metrics[i].Error()
			got, want := nz.CI95, e.CI95
			if e.CI95At != nil {
				want = e.CI95At(1000)
			}
			// The library's σ is accurate to 0.1%, here on both sides.
			if math.Abs(got/want-1) > 3e-3 {
				t.Errorf("%s.%s: tune models a 95%% half-width of %v, the plan composes %v", out.Name, m.Name, got, want)
			}
		}
	}
	laplace := Budget{Epsilon: 1, Delta: 1e-6, OutputWeight: 1, OutputWeights: 1, SelectionShare: 0.5, MetricWeights: []float64{1, 2}}
	if s, err := laplace.NoiseShare(1); err != nil || s != laplace.Metric(1) {
		t.Errorf("laplace NoiseShare = %+v, %v; want the metric's share %+v", s, err, laplace.Metric(1))
	}
}

// TestMetricWeightsByNoiseKind: relative noises 1 and 8 give weights in
// ratio 8^(2/3) = 4 with Laplace noise (σ ∝ 1/ε) and 8 with Gaussian
// composition (σ ∝ 1/√ε), normalized to mean 1; an output's weight divides
// by (1 − s)^(2/3) or (1 − s).
func TestMetricWeightsByNoiseKind(t *testing.T) {
	t.Parallel()
	ms := []metricStudy{{rel: 1}, {rel: 8}}
	for _, tc := range []struct {
		gaussian bool
		want     []float64
	}{{false, []float64{0.4, 1.6}}, {true, []float64{0.22, 1.8}}} {
		if got := metricWeights(ms, tc.gaussian); !slices.Equal(got, tc.want) {
			t.Errorf("gaussian %v: weights %v, want %v", tc.gaussian, got, tc.want)
		}
	}
	studies := []*outputStudy{{recS: 0.5, metrics: ms}, {recS: 0, metrics: ms}}
	if got := outputWeights(studies, true, false); !slices.Equal(got, []float64{1.3, 0.67}) {
		t.Errorf("gaussian output weights %v, want [1.3 0.67] (2 : 1)", got)
	}
}

// TestFocusOutputWeights: with --focus every metric of the job gets epsilon
// in proportion to its focus weight, so the output holding the focus
// metric (selection share 0.5, weights 1 + 0.1) outweighs one of five
// other metrics (share 0.05, 5 × 0.1) by 2.2 : 0.53, whatever their
// relative noise (issue 21: the focus output got 23% of the job).
func TestFocusOutputWeights(t *testing.T) {
	t.Parallel()
	people := &outputStudy{recS: 0.5, focus: 1, metrics: []metricStudy{{rel: 0.01}, {rel: 0.01}}}
	revenue := &outputStudy{recS: 0.05, focus: -1, metrics: []metricStudy{{rel: 5}, {rel: 5}, {rel: 5}, {rel: 5}, {rel: 5}}}
	got := outputWeights([]*outputStudy{people, revenue}, false, true)
	if want := []float64{1.6, 0.39}; !slices.Equal(got, want) {
		t.Errorf("focus output weights %v, want %v (2.2 : 0.53)", got, want)
	}
}
