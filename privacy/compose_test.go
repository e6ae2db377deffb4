package privacy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"
)

// gaussianDelta is the exact δ at ε of a Gaussian mechanism with μ = Δ/σ
// (Balle and Wang 2018, Theorem 8), computed here independently of the
// library, as the oracle of the composition's guarantee:
// δ(ε) = Φ(μ/2 - ε/μ) - e^ε Φ(-μ/2 - ε/μ).
func gaussianDelta(mu, eps float64) float64 {
	phi := func(x float64) float64 { return math.Erfc(-x/math.Sqrt2) / 2 }
	return phi(mu/2-eps/mu) - math.Exp(eps)*phi(-mu/2-eps/mu)
}

// checkComposition checks a Gaussian plan's composition: the block's
// (ε, δ) is what its components are charged; the components' deviations,
// as the library draws them from their noise parameters, compose into a
// Gaussian mechanism that is (ε, δ)-DP by the independent oracle; and the
// composition is tight (μ within 0.1% of the block's), so it wastes
// nothing.
func checkComposition(t *testing.T, name string, p *Plan) {
	t.Helper()
	g := p.Gaussian
	if g == nil {
		t.Fatalf("%s: no Gaussian composition", name)
	}
	var eps, del, sumSq float64
	n := 0
	for _, o := range p.Outputs {
		for _, m := range o.Metrics {
			for _, c := range m.Components {
				if c.Stat.Stream() {
					if c.Noise != (Share{}) {
						t.Errorf("%s: stream %s/%s has composed noise %+v", name, m.Spec.Name, c.Stat, c.Noise)
					}
					continue
				}
				n++
				eps += c.Share.Epsilon
				del += c.Share.Delta
				ns := c.NoiseShare()
				sigma := noise.SigmaForGaussian(c.L0, c.LInf, ns.Epsilon, ns.Delta)
				if math.Abs(sigma/c.StdDev-1) > 1e-12 {
					t.Errorf("%s: %s/%s StdDev %v, the library draws with %v", name, m.Spec.Name, c.Stat, c.StdDev, sigma)
				}
				mu := math.Sqrt(float64(c.L0)) * c.LInf / sigma
				sumSq += mu * mu
				if r := c.Rho(); math.Abs(r/(mu*mu/2)-1) > 1e-9 {
					t.Errorf("%s: %s/%s Rho %v, want %v", name, m.Spec.Name, c.Stat, r, mu*mu/2)
				}
			}
		}
	}
	if g.Components != n {
		t.Errorf("%s: block of %d components, want %d", name, g.Components, n)
	}
	if math.Abs(g.Share.Epsilon/eps-1) > 1e-12 || math.Abs(g.Share.Delta/del-1) > 1e-12 {
		t.Errorf("%s: block %+v, components charged (%v, %v)", name, g.Share, eps, del)
	}
	mu := math.Sqrt(sumSq)
	if d := gaussianDelta(mu, g.Share.Epsilon); d > g.Share.Delta*(1+1e-9) {
		t.Errorf("%s: the composed mechanism (mu %v) is (%v, %v)-DP, more than the block's delta %v", name, mu, g.Share.Epsilon, d, g.Share.Delta)
	}
	if mu < g.Mu*0.999 {
		t.Errorf("%s: composed mu %v wastes budget: the block allows %v", name, mu, g.Mu)
	}
	if math.Abs(g.Rho-g.Mu*g.Mu/2) > 1e-15 {
		t.Errorf("%s: rho %v, mu %v", name, g.Rho, g.Mu)
	}
}

// TestGaussianCompositionLowersNoise: on the issue job's output (count
// with Linf 3, count of people, sum to 500; L0 5, ε 1, δ 1e-6; keys from
// the data), composing the metrics' Gaussian noise leaves every metric
// less noise than noising each with its own (ε, δ) share, at the same
// charge; the count of people by about 30% (a deviation of 69 falls below
// 50).
func TestGaussianCompositionLowersNoise(t *testing.T) {
	t.Parallel()
	spec := JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Gaussian, K: 10, Outputs: []OutputSpec{{
		Name: "campaign_weekly", GroupBy: []string{"campaign", "channel", "week"}, MaxPartitionsPerUnit: 5,
		Metrics: []MetricSpec{
			{Name: "events", Kind: Count, MaxPerUnit: 3, Weight: math.Sqrt(3)},
			{Name: "people", Kind: CountUnits},
			{Name: "revenue", Kind: Sum, Min: 0, Max: 500},
		},
	}}}
	p := mustPlan(t, spec)
	checkComposition(t, "issue job", p)
	for _, m := range p.Outputs[0].Metrics {
		c := m.Components[0]
		additive := noise.SigmaForGaussian(c.L0, c.LInf, c.Share.Epsilon, c.Share.Delta)
		if c.StdDev >= additive*0.9 {
			t.Errorf("%s: deviation %v, not 10%% below the additive split's %v", m.Spec.Name, c.StdDev, additive)
		}
		if m.Spec.Name == "people" && !(additive > 60 && c.StdDev < 50) {
			t.Errorf("people: deviation %v (additive %v), want below 50 (additive above 60)", c.StdDev, additive)
		}
	}
	if p.Total.Epsilon > 1 || p.Total.Delta > 1e-6 {
		t.Errorf("charge %+v exceeds the job", p.Total)
	}
	// Alone, each metric is the Gaussian mechanism its noise parameters
	// calibrate: that is what an audit of it may measure.
	for i, m := range p.Outputs[0].Metrics {
		g, c := p.Guarantee(0, i), m.Components[0]
		if g != c.Noise || noise.SigmaForGaussian(c.L0, c.LInf, g.Epsilon, g.Delta) != c.StdDev {
			t.Errorf("%s: guarantee %+v, noise parameters %+v", m.Spec.Name, g, c.Noise)
		}
	}
}

// TestGuaranteeOfAMetricOfSeveralStatistics: a mean (a count and a sum)
// under Gaussian composition is guaranteed the block's (ε, δ); with Laplace
// noise, its share.
func TestGuaranteeOfAMetricOfSeveralStatistics(t *testing.T) {
	t.Parallel()
	for _, kind := range []NoiseKind{Laplace, Gaussian} {
		spec := JobSpec{Epsilon: 1, Delta: 1e-6, Noise: kind, K: 1, Outputs: []OutputSpec{{
			Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 2, PublicPartitions: true,
			Metrics: []MetricSpec{{Name: "avg", Kind: Mean, Min: 0, Max: 10}, {Name: "u", Kind: CountUnits}},
		}}}
		p := mustPlan(t, spec)
		want := p.Outputs[0].Metrics[0].Share
		if kind == Gaussian {
			want = p.Gaussian.Share
		}
		if g := p.Guarantee(0, 0); g != want {
			t.Errorf("%s: mean guaranteed %+v, want %+v", kind, g, want)
		}
	}
}

// TestGaussianCompositionOfOneComponent: a block of one component is that
// component's own Gaussian mechanism: the same deviation as its share
// gives, up to the library's σ accuracy (SigmaForGaussian rounds up by at
// most 0.1%, here twice: the block's μ and the component's σ).
func TestGaussianCompositionOfOneComponent(t *testing.T) {
	t.Parallel()
	spec := JobSpec{Epsilon: 0.7, Delta: 1e-7, Noise: Gaussian, K: 1, Outputs: []OutputSpec{{
		Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 4, PublicPartitions: true,
		Metrics: []MetricSpec{{Name: "s", Kind: Sum, Min: -2, Max: 9}},
	}}}
	p := mustPlan(t, spec)
	checkComposition(t, "one component", p)
	c := p.Outputs[0].Metrics[0].Components[0]
	if own := noise.SigmaForGaussian(c.L0, c.LInf, c.Share.Epsilon, c.Share.Delta); math.Abs(c.StdDev/own-1) > 2e-3 {
		t.Errorf("deviation %v, its own share gives %v", c.StdDev, own)
	}
}

// TestLaplacePlansHaveNoComposition: Laplace noise keeps each component's
// share as its noise parameters.
func TestLaplacePlansHaveNoComposition(t *testing.T) {
	t.Parallel()
	spec := JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 1, Outputs: []OutputSpec{{
		Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 2,
		Metrics: []MetricSpec{{Name: "c", Kind: Count, MaxPerUnit: 1}, {Name: "u", Kind: CountUnits}},
	}}}
	p := mustPlan(t, spec)
	if p.Gaussian != nil {
		t.Errorf("Laplace plan has a Gaussian block %+v", p.Gaussian)
	}
	for _, m := range p.Outputs[0].Metrics {
		if c := m.Components[0]; c.NoiseShare() != c.Share || c.Rho() != 0 {
			t.Errorf("%s: noise %+v rho %v, want its share %+v and no rho", m.Spec.Name, c.NoiseShare(), c.Rho(), c.Share)
		}
	}
}

// TestGaussianCompositionOnRandomPlans: 3,000 random Gaussian jobs (seeded:
// epsilon 0.001 to 100, delta 1e-15 to 1e-3, up to 4 outputs of up to 6
// metrics, L0 to 100, weights spanning 6 orders of magnitude, public or
// selected keys) all compose, within the oracle's guarantee and tightly
// (checkComposition).
func TestGaussianCompositionOnRandomPlans(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		eps := math.Pow(10, -3+5*rng.Float64())
		del := math.Pow(10, -15+12*rng.Float64())
		spec := JobSpec{Epsilon: eps, Delta: del, Noise: Gaussian, K: 1}
		for o := range 1 + rng.IntN(4) {
			out := OutputSpec{Name: string(rune('a' + o)), GroupBy: []string{"g"}, MaxPartitionsPerUnit: int64(1 + rng.IntN(100)),
				PublicPartitions: rng.IntN(2) == 0, Weight: math.Pow(10, -3+6*rng.Float64())}
			if !out.PublicPartitions {
				out.SelectionShare = 0.01 + 0.98*rng.Float64()
			}
			for m := range 1 + rng.IntN(6) {
				ms := MetricSpec{Name: string(rune('m' + m)), Weight: math.Pow(10, -3+6*rng.Float64())}
				switch rng.IntN(4) {
				case 0:
					ms.Kind, ms.MaxPerUnit = Count, int64(1+rng.IntN(50))
				case 1:
					ms.Kind = CountUnits
				case 2:
					ms.Kind, ms.Min, ms.Max = Sum, 0, math.Pow(10, 6*rng.Float64())
				default:
					ms.Kind, ms.Min, ms.Max = Mean, -1, math.Pow(10, 4*rng.Float64())
				}
				out.Metrics = append(out.Metrics, ms)
			}
			spec.Outputs = append(spec.Outputs, out)
		}
		p, err := NewPlan(withDefaultSplit(spec))
		if err != nil {
			t.Fatalf("%d: eps %v delta %v: %v", n, eps, del, err)
		}
		checkComposition(t, fmt.Sprintf("plan %d (epsilon %v, delta %v)", n, eps, del), p)
	}
}
