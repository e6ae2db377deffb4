package privacy

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
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
	t.Parallel()
	metricSets := [][]MetricSpec{
		allMetrics(),
		{{Name: "c", Kind: Count, MaxPerUnit: 1}},
		{{Name: "q", Kind: Quantiles, Min: 0, Max: 1, Ranks: []float64{0.5}}, {Name: "v", Kind: Variance, Min: -1, Max: 3}},
	}
	// Weight sets: equal, and uneven ones whose quotients do not divide
	// evenly in binary.
	weightSets := [][]float64{{1, 1, 1, 1, 1, 1}, {0.1, 0.2, 0.3, 7, 1.0 / 3, 1e-3}, {3, 1e6, 0.7, 2, 5, 11}}
	shares := []float64{0.5, 0.1, 0.3, 1.0 / 3, 0.77}
	for _, eps := range []float64{0.1, 1.0 / 3, 1, 7.25} {
		for _, del := range []float64{1e-6, 1.0 / 3e5} {
			for _, kind := range []NoiseKind{Laplace, Gaussian} {
				for nOut := 1; nOut <= 3; nOut++ {
					for _, public := range []bool{false, true} {
						for wi, ws := range weightSets {
							spec := JobSpec{Epsilon: eps, Delta: del, Noise: kind, K: 5}
							for i := range nOut {
								ms := slices.Clone(metricSets[i%len(metricSets)])
								for j := range ms {
									ms[j].Weight = ws[(i+j)%len(ws)]
								}
								o := OutputSpec{
									Name: string(rune('a' + i)), GroupBy: []string{"g"}, MaxPartitionsPerUnit: int64(i + 1),
									Metrics: ms, PublicPartitions: public, Weight: ws[(i+3)%len(ws)],
								}
								if !public {
									o.SelectionShare = shares[(i+wi)%len(shares)]
								}
								spec.Outputs = append(spec.Outputs, o)
							}
							name := fmt.Sprintf("eps=%v delta=%v %s outputs=%d public=%v weights=%d", eps, del, kind, nOut, public, wi)
							checkSpend(t, name, spec)
						}
					}
				}
			}
		}
	}
}

// checkSpend checks that spec's plan spends, exactly, no more than the job
// declares, that Total covers every share exactly, and that every metric
// component has a budget.
func checkSpend(t *testing.T, name string, spec JobSpec) {
	t.Helper()
	p := mustPlan(t, spec)
	e, d := spent(p)
	if e.Cmp(exact(spec.Epsilon)) > 0 || d.Cmp(exact(spec.Delta)) > 0 {
		t.Errorf("%s: spends (%s, %s) over (%v, %v)", name, e.FloatString(20), d.FloatString(30), spec.Epsilon, spec.Delta)
	}
	if exact(p.Total.Epsilon).Cmp(e) < 0 || exact(p.Total.Delta).Cmp(d) < 0 {
		t.Errorf("%s: Total %+v is less than the sum of parts (%s, %s)", name, p.Total, e.FloatString(20), d.FloatString(30))
	}
	if p.Total.Epsilon > spec.Epsilon || p.Total.Delta > spec.Delta {
		t.Errorf("%s: Total %+v exceeds the job", name, p.Total)
	}
	if ef, _ := e.Float64(); math.Abs(ef-p.Total.Epsilon) > 1e-12*spec.Epsilon {
		t.Errorf("%s: Total.Epsilon %v != sum of parts %v", name, p.Total.Epsilon, ef)
	}
	if spec.Noise == Gaussian {
		checkComposition(t, name, p)
	}
	for _, o := range p.Outputs {
		if o.Spec.PublicPartitions != (o.Selection == nil) {
			t.Errorf("%s: public=%v but selection=%v", name, o.Spec.PublicPartitions, o.Selection)
		}
		oe, od := new(big.Rat), new(big.Rat)
		for _, l := range o.leaves() {
			oe.Add(oe, exact(l.Epsilon))
			od.Add(od, exact(l.Delta))
		}
		if exact(o.Share.Epsilon).Cmp(oe) < 0 || exact(o.Share.Delta).Cmp(od) < 0 {
			t.Errorf("%s: output %s Share %+v is less than its parts", name, o.Spec.Name, o.Share)
		}
		for _, m := range o.Metrics {
			for _, c := range m.Components {
				if spec.Noise == Laplace && c.Share.Delta != 0 {
					t.Errorf("%s: laplace component %s/%s has delta %v", name, m.Spec.Name, c.Stat, c.Share.Delta)
				}
				if c.Share.Epsilon <= 0 {
					t.Errorf("%s: component %s/%s has epsilon %v", name, m.Spec.Name, c.Stat, c.Share.Epsilon)
				}
			}
		}
	}
}

// TestPlanWeightsAndSelectionShare checks the shares of weighted outputs
// and metrics and of a selection share, exactly where the quotients are
// exact in binary.
func TestPlanWeightsAndSelectionShare(t *testing.T) {
	t.Parallel()
	for _, kind := range []NoiseKind{Laplace, Gaussian} {
		t.Run(string(kind), func(t *testing.T) {
			spec := JobSpec{Epsilon: 2, Delta: 1e-6, Noise: kind, K: 10, Outputs: []OutputSpec{
				{Name: "a", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 1, Weight: 3, SelectionShare: 0.25, Metrics: []MetricSpec{
					{Name: "people", Kind: CountUnits, Weight: 1},
					{Name: "revenue", Kind: Sum, Min: 0, Max: 100, Weight: 3},
					{Name: "avg", Kind: Mean, Min: 0, Max: 100, Weight: 4},
				}},
				{Name: "b", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 1, Weight: 1, PublicPartitions: true, Metrics: []MetricSpec{
					{Name: "events", Kind: Count, MaxPerUnit: 1, Weight: 2.5},
				}},
			}}
			p := mustPlan(t, spec)
			a, b := p.Outputs[0], p.Outputs[1]
			// Output a: 3/4 of epsilon 2 = 1.5; selection 0.25 of it.
			if got := a.Selection.Share.Epsilon; got != 0.375 {
				t.Errorf("selection epsilon %v, want 0.375", got)
			}
			wantSelDelta, metricDelta := 7.5e-7, 0.0 // all of a's delta with Laplace
			if kind == Gaussian {
				wantSelDelta, metricDelta = 7.5e-7*SelectionDeltaShare, 7.5e-7*(1-SelectionDeltaShare)
			}
			if got := a.Selection.Share.Delta; math.Abs(got-wantSelDelta) > 1e-15*wantSelDelta {
				t.Errorf("selection delta %v, want %v", got, wantSelDelta)
			}
			// Metrics share 1.125 as 1:3:4.
			for i, want := range []float64{1.125 / 8, 1.125 / 8 * 3, 1.125 / 8 * 4} {
				m := a.Metrics[i]
				if m.Share.Epsilon != want {
					t.Errorf("%s epsilon %v, want %v", m.Spec.Name, m.Share.Epsilon, want)
				}
				wantDelta := metricDelta / 8 * []float64{1, 3, 4}[i]
				if math.Abs(m.Share.Delta-wantDelta) > 1e-15*wantDelta {
					t.Errorf("%s delta %v, want %v", m.Spec.Name, m.Share.Delta, wantDelta)
				}
			}
			if c := a.Metrics[2].Components; c[0].Share.Epsilon != 1.125/4 || c[1].Share.Epsilon != 1.125/4 {
				t.Errorf("mean components %v, %v, want half of %v each", c[0].Share.Epsilon, c[1].Share.Epsilon, 1.125/2)
			}
			if a.Share.Epsilon != 1.5 {
				t.Errorf("output a spends epsilon %v, want 1.5", a.Share.Epsilon)
			}
			// Output b: 1/4 of 2, all to its one metric; with Laplace no delta.
			if b.Selection != nil || b.Metrics[0].Share.Epsilon != 0.5 || b.Share.Epsilon != 0.5 {
				t.Errorf("output b: selection %v, metric %v, spends %v; want none, 0.5, 0.5", b.Selection, b.Metrics[0].Share.Epsilon, b.Share.Epsilon)
			}
			if p.Total.Epsilon != 2 {
				t.Errorf("Total epsilon %v, want 2", p.Total.Epsilon)
			}
		})
	}
}

// TestPlanEqualWeightsKeepTheEqualSplit checks that equal weights of any
// size give the split of equal shares: a third of the job per output.
func TestPlanEqualWeightsKeepTheEqualSplit(t *testing.T) {
	t.Parallel()
	out := func(name string, w float64) OutputSpec {
		return OutputSpec{Name: name, GroupBy: []string{"g"}, MaxPartitionsPerUnit: 1, PublicPartitions: true, Weight: w,
			Metrics: []MetricSpec{{Name: "c", Kind: Count, MaxPerUnit: 1, Weight: w}, {Name: "u", Kind: CountUnits, Weight: w}}}
	}
	for _, w := range []float64{1, 0.1, 7} {
		p := mustPlan(t, JobSpec{Epsilon: 1, Delta: 0, Noise: Laplace, K: 1, Outputs: []OutputSpec{out("a", w), out("b", w), out("c", w)}})
		for _, o := range p.Outputs {
			for _, m := range o.Metrics {
				if got, want := m.Share.Epsilon, splitByWeight(1.0/3, []float64{1, 1})[0]; math.Abs(got-want) > 1e-16 {
					t.Errorf("weight %v: %s/%s epsilon %v, want %v", w, o.Spec.Name, m.Spec.Name, got, want)
				}
			}
		}
	}
}

func TestSplitByWeightNeverExceedsTheWhole(t *testing.T) {
	t.Parallel()
	// Parts whose float quotients round up: 0.1 in three, seven and
	// forty-nine, with awkward weights.
	for _, total := range []float64{0.1, 1.0 / 3, 1e-6, 0.7} {
		for _, ws := range [][]float64{{1, 1, 1}, {1, 1, 1, 1, 1, 1, 1}, {0.1, 0.2, 0.3}, {1.0 / 3, 2.0 / 3}, {1e-300, 1, 1e300}} {
			parts := splitByWeight(total, ws)
			if exactSum(parts).Cmp(exact(total)) > 0 {
				t.Errorf("split %v by %v = %v: sums over the whole", total, ws, parts)
			}
			for i, p := range parts {
				want := total / (func() float64 {
					s := 0.0
					for _, w := range ws {
						s += w
					}
					return s
				}()) * ws[i]
				if p < 0 || p > want || want-p > 1e-14*total {
					t.Errorf("split %v by %v: part %d = %v, want about %v", total, ws, i, p, want)
				}
			}
		}
	}
}

func TestPlanSensitivities(t *testing.T) {
	t.Parallel()
	out := OutputSpec{Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 4, Metrics: []MetricSpec{
		{Name: "c", Kind: Count, MaxPerUnit: 3},
		{Name: "u", Kind: CountUnits},
		{Name: "s", Kind: Sum, Min: -20, Max: 5},
		{Name: "m", Kind: Mean, Min: 10, Max: 30},
		{Name: "v", Kind: Variance, Min: 0, Max: 8},
		{Name: "q", Kind: Quantiles, Min: 0, Max: 8, Ranks: []float64{0.25, 0.995}},
	}}
	out.SelectionShare = 0.5
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
	t.Parallel()
	base := func() JobSpec {
		return JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 1, Outputs: []OutputSpec{{
			Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 1, Weight: 1, SelectionShare: 0.5,
			Metrics: []MetricSpec{{Name: "c", Kind: Count, MaxPerUnit: 1, Weight: 1}}}}}
	}
	for _, tc := range []struct {
		name string
		mod  func(*JobSpec)
		want string
	}{
		{"epsilon zero", func(s *JobSpec) { s.Epsilon = 0 }, "epsilon: 0 must be > 0"},
		{"epsilon inf", func(s *JobSpec) { s.Epsilon = math.Inf(1) }, "epsilon: +Inf must be > 0"},
		{"gaussian without delta", func(s *JobSpec) { s.Noise = Gaussian; s.Delta = 0; s.Outputs[0].PublicPartitions = true }, "gaussian"},
		{"selection without delta", func(s *JobSpec) { s.Delta = 0 }, "selects its partitions"},
		{"k zero", func(s *JobSpec) { s.K = 0 }, "k: 0 must be >= 1"},
		{"no outputs", func(s *JobSpec) { s.Outputs = nil }, "outputs"},
		{"l0 zero", func(s *JobSpec) { s.Outputs[0].MaxPartitionsPerUnit = 0 }, "max_partitions_per_unit"},
		{"sum min = max", func(s *JobSpec) { s.Outputs[0].Metrics[0] = MetricSpec{Name: "s", Kind: Sum, Min: 3, Max: 3} }, "min < max"},
		{"output weight zero", func(s *JobSpec) { s.Outputs[0].Weight = 0 }, "output 0, weight: 0 must be a number > 0"},
		{"output weight inf", func(s *JobSpec) { s.Outputs[0].Weight = math.Inf(1) }, "output 0, weight: +Inf must be"},
		{"metric weight negative", func(s *JobSpec) { s.Outputs[0].Metrics[0].Weight = -1 }, "output 0, metric 0, weight: -1 must be"},
		{"metric weight nan", func(s *JobSpec) { s.Outputs[0].Metrics[0].Weight = math.NaN() }, "output 0, metric 0, weight: NaN must be"},
		{"selection share 1", func(s *JobSpec) { s.Outputs[0].SelectionShare = 1 }, "output 0, selection_share: 1 must be in (0, 1)"},
		{"selection share 0", func(s *JobSpec) { s.Outputs[0].SelectionShare = 0 }, "output 0, selection_share: 0 must be in (0, 1)"},
		{"selection share public", func(s *JobSpec) { s.Outputs[0].PublicPartitions = true }, "output 0, selection_share: 0.5 applies only"},
		{"quantile rank", func(s *JobSpec) {
			s.Outputs[0].Metrics[0] = MetricSpec{Name: "q", Kind: Quantiles, Min: 0, Max: 1, Ranks: []float64{1.5}}
		}, "ranks[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.mod(&s)
			_, err := NewPlan(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if se := (*SpecError)(nil); !errors.As(err, &se) {
				t.Errorf("err = %T, want a *SpecError", err)
			}
			// Job-file keys and CLI flags are the job layer's words.
			for _, word := range []string{"privacy.", "outputs[", "--"} {
				if strings.Contains(err.Error(), word) {
					t.Errorf("err = %v: privacy spells %q", err, word)
				}
			}
		})
	}
}

func TestReleaseChance(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// withDefaultSplit gives every output and metric of spec without a weight
// DefaultWeight, and every output that selects partitions without a
// selection share DefaultSelectionShare, as job loading does for job files.
func withDefaultSplit(spec JobSpec) JobSpec {
	outs := slices.Clone(spec.Outputs)
	for i := range outs {
		o := &outs[i]
		if o.Weight == 0 {
			o.Weight = DefaultWeight
		}
		if !o.PublicPartitions && o.SelectionShare == 0 && o.Selection != SelectCountThreshold {
			o.SelectionShare = DefaultSelectionShare
		}
		o.Metrics = slices.Clone(o.Metrics)
		for j := range o.Metrics {
			if o.Metrics[j].Weight == 0 {
				o.Metrics[j].Weight = DefaultWeight
			}
		}
	}
	spec.Outputs = outs
	return spec
}
