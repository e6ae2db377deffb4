package privacy

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// specFor is a valid metric of kind k, with every field its kind reads.
func specFor(t *testing.T, k MetricKind) MetricSpec {
	t.Helper()
	m, ok := LookupMetric(k)
	if !ok {
		t.Fatalf("kind %q is not registered", k)
	}
	ms := MetricSpec{Name: "m", Kind: k}
	f := m.Fields()
	if f.Measure {
		ms.Column, ms.Min, ms.Max = "v", -2, 10
	}
	if f.MaxPerUnit {
		ms.MaxPerUnit = 3
	}
	if f.Ranks {
		ms.Ranks = []float64{0.5, 0.9}
	}
	return ms
}

// TestRegistryKindsAreConsistent checks, for every registered kind, that its
// declarations agree with each other and with the statistics: the fields it
// reads cover what its statistics depend on, its columns are unique with
// every _ci95 after its value, every value column has a meaning, the plan
// gives each part its statistic's sensitivity and splits exactly the
// metric's budget, the error model describes the error one way, and with
// noiseless parts the release fills every column and every _ci95 is 0.
func TestRegistryKindsAreConsistent(t *testing.T) {
	t.Parallel()
	kinds := MetricKinds()
	for _, k := range []MetricKind{Count, CountUnits, Sum, Mean, Variance, Quantiles} {
		if !slices.Contains(kinds, k) {
			t.Errorf("registry has %v, without %s", kinds, k)
		}
	}
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			m, _ := LookupMetric(k)
			if m.Kind() != k {
				t.Fatalf("registered as %q, Kind() = %q", k, m.Kind())
			}
			if m.Doc() == "" {
				t.Error("Doc is empty")
			}
			ms := specFor(t, k)
			if p := CheckMetric(ms); len(p) > 0 {
				t.Fatalf("a spec with every field it reads fails its own check: %+v", p)
			}
			f := m.Fields()

			cols := m.Columns(ms)
			if len(cols) == 0 {
				t.Fatal("declares no columns")
			}
			seen := map[string]bool{}
			for i, c := range cols {
				if seen[strings.ToLower(c.Name)] {
					t.Errorf("column %s declared twice", c.Name)
				}
				seen[strings.ToLower(c.Name)] = true
				if !strings.HasPrefix(c.Name, ms.Name) {
					t.Errorf("column %s does not start with the metric's name", c.Name)
				}
				if c.CI != strings.HasSuffix(c.Name, CISuffix) {
					t.Errorf("column %s: CI %v disagrees with its name", c.Name, c.CI)
				}
				if c.CI {
					if i == 0 || cols[i-1].CI || cols[i-1].Name+CISuffix != c.Name || c.Int {
						t.Errorf("column %s must be a DOUBLE right after its value column", c.Name)
					}
					continue
				}
				if got := ColumnMeaning(k, ms.Name, c.Name); got == "" || got == "noisy "+string(k) {
					t.Errorf("column %s has no meaning of its own (%q)", c.Name, got)
				}
			}

			parts := m.Parts(ms)
			if len(parts) == 0 {
				t.Fatal("declares no parts")
			}
			_, streams := m.(streamMetric)
			for _, p := range parts {
				if p.Weight <= 0 || p.Comment == "" {
					t.Errorf("part %s: weight %d, comment %q", p.Stat, p.Weight, p.Comment)
				}
				if !slices.Contains(statistics, p.Stat) {
					t.Errorf("part needs unknown statistic %s", p.Stat)
				}
				if (p.Stat.UsesColumn() || p.Stat.UsesBounds()) && !f.Measure {
					t.Errorf("part %s reads column and bounds, but the kind does not read them", p.Stat)
				}
				if p.Stat == RowCount && !f.MaxPerUnit {
					t.Errorf("part %s needs max_per_unit, which the kind does not read", p.Stat)
				}
				if p.Stat.Stream() && !streams {
					t.Errorf("part %s is a stream, but the kind has no aggregator", p.Stat)
				}
			}

			for _, kind := range []NoiseKind{Laplace, Gaussian} {
				share := Share{Epsilon: 0.7, Delta: 1e-6}
				if kind == Laplace {
					share.Delta = 0
				}
				mp, err := planMetric(kind, 2, ms, share)
				if err != nil {
					t.Fatalf("%s: plan: %v", kind, err)
				}
				if len(mp.Components) != len(parts) || len(mp.Columns) != len(cols) {
					t.Fatalf("%s: plan has %d components and %d columns, kind declares %d and %d",
						kind, len(mp.Components), len(mp.Columns), len(parts), len(cols))
				}
				var eps, del float64
				for i, c := range mp.Components {
					want := c.Stat.Sensitivity(needOf(parts[i].Stat, ms))
					if c.Stat != parts[i].Stat || c.LInf != want || !(c.LInf > 0) {
						t.Errorf("%s: component %d is %s with Linf %v, want %s with %v > 0", kind, i, c.Stat, c.LInf, parts[i].Stat, want)
					}
					if !(c.StdDev > 0 && c.CI95 > 0) {
						t.Errorf("%s: component %s has stddev %v, ci95 %v", kind, c.Stat, c.StdDev, c.CI95)
					}
					eps += c.Share.Epsilon
					del += c.Share.Delta
				}
				if math.Abs(eps-share.Epsilon) > 1e-15 || math.Abs(del-share.Delta) > 1e-21 {
					t.Errorf("%s: parts spend (%v, %v), the metric has (%v, %v)", kind, eps, del, share.Epsilon, share.Delta)
				}
				e := m.Error(&mp)
				described := 0
				if e.StdDev > 0 && e.CI95 > 0 {
					described++
				}
				if e.CI95At != nil {
					described++
					if v := e.CI95At(100); !(v > 0) || math.IsInf(v, 0) || e.CI95At(10000) > v {
						t.Errorf("%s: CI95At(100) = %v, CI95At(10000) = %v: want positive, finite, shrinking", kind, v, e.CI95At(10000))
					}
				}
				if e.Note != "" {
					described++
				}
				if described != 1 {
					t.Errorf("%s: error model %+v describes the error %d ways, want 1", kind, e, described)
				}

				// Noiseless parts from a few people: every column is filled,
				// every _ci95 is 0.
				noisy := make([]Noisy, len(parts))
				for i, c := range mp.Components {
					n := needOf(c.Stat, ms)
					for _, total := range []float64{-5, 1, 4.5, 30} {
						v, ok := c.Stat.PerPerson(n, 2, total, true)
						switch {
						case !ok:
						case c.Stat.Stream():
							noisy[i].Values = append(noisy[i].Values, v)
						case c.Stat.Integer():
							noisy[i].Int += int64(v)
						default:
							noisy[i].Float += v
						}
					}
					if c.Stat.Stream() {
						noisy[i].Values = noisy[i].Values[:len(ms.Ranks)]
					}
				}
				out := make([]Cell, len(cols))
				if err := m.release(ms, Noised{mp: &mp, nz: noNoise{}, parts: noisy}, out); err != nil {
					t.Fatalf("%s: release: %v", kind, err)
				}
				for i, c := range cols {
					if c.CI && out[i].Float != 0 {
						t.Errorf("%s: noiseless %s = %v, want 0", kind, c.Name, out[i].Float)
					}
					if !c.Int && (math.IsNaN(out[i].Float) || math.IsInf(out[i].Float, 0)) {
						t.Errorf("%s: %s = %v", kind, c.Name, out[i].Float)
					}
				}
			}
		})
	}
}

// TestStatisticRanges checks each statistic's reference definition against
// its declared range, whose largest magnitude is the sensitivity the plan
// uses (streams: 1 value per person): no person's contribution may leave it,
// whatever the person's rows and total (seeded, so the test is
// deterministic).
func TestStatisticRanges(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range statistics {
		for _, b := range [][2]float64{{0, 100}, {-40, 10}, {-3, -1}, {0.25, 0.5}} {
			n := StatNeed{Stat: s, Column: "v", Min: b[0], Max: b[1], MaxPerUnit: 4}
			lo, hi := s.Range(n)
			want := math.Max(math.Abs(lo), math.Abs(hi))
			if s.Stream() {
				want = 1 // one value per person and partition
			}
			if got := s.Sensitivity(n); got != want || !(got > 0) {
				t.Errorf("%s %v: sensitivity %v, want %v > 0", s, b, got, want)
			}
			for range 2000 {
				rows := rng.Int64N(20)
				total := (rng.Float64() - 0.5) * 1000
				if rng.IntN(4) == 0 {
					total = b[rng.IntN(2)] // the bounds themselves
				}
				v, ok := s.PerPerson(n, rows, total, true)
				if ok && (v < lo || v > hi) {
					t.Fatalf("%s %v: rows %d total %v contributes %v, outside [%v, %v]", s, b, rows, total, v, lo, hi)
				}
			}
		}
	}
}

// TestLayoutSharesStatistics: metrics on the same column and bounds share
// their statistics; other bounds, columns or max_per_unit do not.
func TestLayoutSharesStatistics(t *testing.T) {
	t.Parallel()
	o := OutputSpec{Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 1, Metrics: []MetricSpec{
		{Name: "avg", Kind: Mean, Column: "rev", Min: 0, Max: 10},
		{Name: "var", Kind: Variance, Column: "rev", Min: 0, Max: 10},
		{Name: "var_b", Kind: Variance, Column: "rev", Min: 0, Max: 10},
		{Name: "var_wide", Kind: Variance, Column: "rev", Min: 0, Max: 20},
		{Name: "var_age", Kind: Variance, Column: "age", Min: 0, Max: 10},
		{Name: "c1", Kind: Count, MaxPerUnit: 1},
		{Name: "c2", Kind: Count, MaxPerUnit: 1},
		{Name: "c3", Kind: Count, MaxPerUnit: 2},
	}}
	l, err := o.Layout()
	if err != nil {
		t.Fatal(err)
	}
	// avg: count, csum; var adds csumsq, var_b nothing; var_wide two new
	// (its count does not depend on the bounds); var_age three new; counts:
	// two RowCount needs.
	if got := len(l.Needs); got != 3+2+3+2 {
		t.Errorf("%d needs, want 10: %+v", got, l.Needs)
	}
	if l.Need(0, 0) != l.Need(1, 0) || l.Need(1, 0) != l.Need(2, 0) || l.Need(0, 1) != l.Need(2, 1) || l.Need(1, 2) != l.Need(2, 2) {
		t.Error("mean and variances on one column and bounds do not share their statistics")
	}
	if l.Need(3, 0) != l.Need(2, 0) || l.Need(3, 1) == l.Need(2, 1) || l.Need(4, 0) == l.Need(2, 0) {
		t.Error("sharing ignores the column or bounds a statistic depends on")
	}
	if l.Need(5, 0) != l.Need(6, 0) || l.Need(6, 0) == l.Need(7, 0) {
		t.Error("row counts are shared by max_per_unit")
	}
	names := map[string]bool{}
	for k := range l.Needs {
		names[l.Column(k)] = true
	}
	if len(names) != len(l.Needs) {
		t.Error("two needs share a column name")
	}
}
