package privacy

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/google/differential-privacy/go/v3/dpagg"
)

// spent adds every share of a plan exactly (big.Rat), from its parts: the
// selection shares and every metric component.
func spent(p *Plan) (eps, del *big.Rat) {
	eps, del = new(big.Rat), new(big.Rat)
	add := func(s Share) {
		eps.Add(eps, new(big.Rat).SetFloat64(s.Epsilon))
		del.Add(del, new(big.Rat).SetFloat64(s.Delta))
	}
	for _, o := range p.Outputs {
		if o.Selection != nil {
			add(o.Selection.Share)
		}
		for _, m := range o.Metrics {
			for _, c := range m.Components {
				add(c.Share)
			}
		}
	}
	return eps, del
}

func TestPlanNeverSpendsMoreThanTheJob(t *testing.T) {
	metricSets := [][]MetricSpec{
		allMetrics(),
		{{Name: "c", Kind: Count, MaxPerUnit: 1}},
		{{Name: "q", Kind: Quantiles, Min: 0, Max: 1, Ranks: []float64{0.5}}, {Name: "v", Kind: Variance, Min: -1, Max: 3}},
	}
	for _, eps := range []float64{0.1, 1.0 / 3, 1, 7.25} {
		for _, kind := range []NoiseKind{Laplace, Gaussian} {
			for nOut := 1; nOut <= 3; nOut++ {
				for _, public := range []bool{false, true} {
					spec := JobSpec{Epsilon: eps, Delta: 1e-6, Noise: kind, K: 5}
					for i := range nOut {
						spec.Outputs = append(spec.Outputs, OutputSpec{
							Name: string(rune('a' + i)), GroupBy: []string{"g"}, MaxPartitionsPerUnit: int64(i + 1),
							Metrics: metricSets[i%len(metricSets)], PublicPartitions: public,
						})
					}
					p := mustPlan(t, spec)
					e, d := spent(p)
					capE := new(big.Rat).SetFloat64(eps)
					capD := new(big.Rat).SetFloat64(1e-6)
					// Shares are float64 quotients; allow one part in 1e12
					// of rounding, never more.
					slack := new(big.Rat).SetFloat64(1 + 1e-12)
					if e.Cmp(new(big.Rat).Mul(capE, slack)) > 0 || d.Cmp(new(big.Rat).Mul(capD, slack)) > 0 {
						t.Errorf("eps=%v %s outputs=%d public=%v: spends (%s, %s) over (%v, 1e-6)", eps, kind, nOut, public, e.FloatString(15), d.FloatString(15), eps)
					}
					if p.Total.Epsilon > eps || p.Total.Delta > 1e-6 {
						t.Errorf("Total %+v exceeds the job", p.Total)
					}
					if ef, _ := e.Float64(); math.Abs(ef-p.Total.Epsilon) > 1e-12*eps {
						t.Errorf("Total.Epsilon %v != sum of parts %v", p.Total.Epsilon, ef)
					}
					for _, o := range p.Outputs {
						if public != (o.Selection == nil) {
							t.Errorf("public=%v but selection=%v", public, o.Selection)
						}
						for _, m := range o.Metrics {
							for _, c := range m.Components {
								if kind == Laplace && c.Share.Delta != 0 {
									t.Errorf("laplace component %s/%s has delta %v", m.Spec.Name, c.Stat, c.Share.Delta)
								}
								if c.Share.Epsilon <= 0 {
									t.Errorf("component %s/%s has epsilon %v", m.Spec.Name, c.Stat, c.Share.Epsilon)
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestPlanSensitivities(t *testing.T) {
	out := OutputSpec{Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 4, Metrics: []MetricSpec{
		{Name: "c", Kind: Count, MaxPerUnit: 3},
		{Name: "u", Kind: CountUnits},
		{Name: "s", Kind: Sum, Min: -20, Max: 5},
		{Name: "m", Kind: Mean, Min: 10, Max: 30},
		{Name: "v", Kind: Variance, Min: 0, Max: 8},
		{Name: "q", Kind: Quantiles, Min: 0, Max: 8, Ranks: []float64{0.25, 0.995}},
	}}
	p := mustPlan(t, JobSpec{Epsilon: 1.2, Delta: 1e-6, Noise: Laplace, K: 2, Outputs: []OutputSpec{out}})
	o := p.Outputs[0]
	if o.Selection == nil || o.Selection.Share.Epsilon != 0.6 || o.Selection.Share.Delta != 1e-6 || o.Selection.L0 != 4 || o.Selection.K != 2 {
		t.Fatalf("selection = %+v", o.Selection)
	}
	want := map[string][]float64{ // metric -> Linf per component
		"c": {3}, "u": {1}, "s": {20}, "m": {1, 10}, "v": {1, 4, 16}, "q": {1},
	}
	for _, m := range o.Metrics {
		if len(m.Components) != len(want[m.Spec.Name]) {
			t.Fatalf("%s: %d components, want %d", m.Spec.Name, len(m.Components), len(want[m.Spec.Name]))
		}
		for i, c := range m.Components {
			if c.LInf != want[m.Spec.Name][i] || c.L0 != 4 {
				t.Errorf("%s/%s: L0=%d Linf=%v, want 4, %v", m.Spec.Name, c.Stat, c.L0, c.LInf, want[m.Spec.Name][i])
			}
			// Laplace: stddev = sqrt(2) * L0 * Linf / eps.
			if w := math.Sqrt2 * 4 * c.LInf / c.Share.Epsilon; math.Abs(c.StdDev-w) > 1e-9*w {
				t.Errorf("%s/%s: stddev %v, want %v", m.Spec.Name, c.Stat, c.StdDev, w)
			}
		}
	}
	if got := o.Metrics[5].Columns; strings.Join(got, ",") != "q_p25,q_p99_5" {
		t.Errorf("quantile columns = %v", got)
	}
}

func TestPlanRejectsBadSpecs(t *testing.T) {
	base := func() JobSpec {
		return JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 1, Outputs: []OutputSpec{{
			Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 1, Metrics: []MetricSpec{{Name: "c", Kind: Count, MaxPerUnit: 1}}}}}
	}
	for _, tc := range []struct {
		name string
		mod  func(*JobSpec)
		want string
	}{
		{"epsilon zero", func(s *JobSpec) { s.Epsilon = 0 }, "privacy.epsilon"},
		{"epsilon inf", func(s *JobSpec) { s.Epsilon = math.Inf(1) }, "privacy.epsilon"},
		{"gaussian without delta", func(s *JobSpec) { s.Noise = Gaussian; s.Delta = 0; s.Outputs[0].PublicPartitions = true }, "gaussian"},
		{"selection without delta", func(s *JobSpec) { s.Delta = 0 }, "selects partitions"},
		{"k zero", func(s *JobSpec) { s.K = 0 }, "privacy.k"},
		{"no outputs", func(s *JobSpec) { s.Outputs = nil }, "outputs"},
		{"l0 zero", func(s *JobSpec) { s.Outputs[0].MaxPartitionsPerUnit = 0 }, "max_partitions_per_unit"},
		{"sum min = max", func(s *JobSpec) { s.Outputs[0].Metrics[0] = MetricSpec{Name: "s", Kind: Sum, Min: 3, Max: 3} }, "min < max"},
		{"quantile rank", func(s *JobSpec) {
			s.Outputs[0].Metrics[0] = MetricSpec{Name: "q", Kind: Quantiles, Min: 0, Max: 1, Ranks: []float64{1.5}}
		}, "ranks[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.mod(&s)
			if _, err := NewPlan(s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestReleaseChance(t *testing.T) {
	sel := &SelectionPlan{Share: Share{Epsilon: 0.5, Delta: 1e-6}, L0: 2, K: 10}
	p50, p95, err := sel.ReleaseChance()
	if err != nil {
		t.Fatal(err)
	}
	if !(p50 >= 10 && p50 <= p95) {
		t.Errorf("p50 = %d, p95 = %d: want k <= p50 <= p95", p50, p95)
	}
}

// TestReleaseChanceMatchesLibrary checks the closed form used for L0 > 3
// against the library's own selection: at the stated 95% count the library
// keeps a partition in at least 93% of 4,000 draws, at the stated 50% count
// in 45% to 60%. The binomial standard error at p = 0.95 is 0.0034 and at
// p = 0.5 at most 0.0079, so both bands are more than 5 standard errors
// wide (false failure rate below 1e-6).
func TestReleaseChanceMatchesLibrary(t *testing.T) {
	sel := &SelectionPlan{Share: Share{Epsilon: 0.25, Delta: 5e-7}, L0: 5, K: 10}
	p50, p95, err := sel.ReleaseChance()
	if err != nil {
		t.Fatal(err)
	}
	rate := func(units int64) float64 {
		const n = 4000
		kept := 0
		for range n {
			s, err := dpagg.NewPreAggSelectPartition(&dpagg.PreAggSelectPartitionOptions{
				Epsilon: sel.Share.Epsilon, Delta: sel.Share.Delta, PreThreshold: sel.K, MaxPartitionsContributed: sel.L0})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.IncrementBy(units); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.ShouldKeepPartition(); ok {
				kept++
			}
		}
		return float64(kept) / n
	}
	if r := rate(p95); r < 0.93 {
		t.Errorf("at %d people (stated 95%%) the library keeps %.3f", p95, r)
	}
	if r := rate(p50); r < 0.45 || r > 0.60 {
		t.Errorf("at %d people (stated 50%%) the library keeps %.3f", p50, r)
	}
}
