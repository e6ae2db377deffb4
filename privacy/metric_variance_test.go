package privacy

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/differential-privacy/go/v3/noise"
)

// truth is the true value of the statistics of variance-like metrics
// (count, centered sum, centered sum of squares) of per-person totals
// clamped to [lo, hi], and their population variance.
type truth struct {
	n         int64
	csum, csq float64
	variance  float64
}

func truthOf(totals []float64, lo, hi float64) truth {
	var tr truth
	mid := Midpoint(lo, hi)
	var sum, sq float64
	for _, x := range totals {
		c := clamp(x, lo, hi)
		tr.n++
		tr.csum += c - mid
		tr.csq += (c - mid) * (c - mid)
		sum += c
		sq += c * c
	}
	if tr.n > 0 {
		m := sum / float64(tr.n)
		tr.variance = sq/float64(tr.n) - m*m
	}
	return tr
}

// spreadOutput is an output with one metric per kind, all on column v with
// bounds [lo, hi], so that they share one set of statistics.
func spreadOutput(lo, hi float64, kinds ...MetricKind) OutputSpec {
	o := OutputSpec{Name: "o", GroupBy: []string{"k"}, MaxPartitionsPerUnit: 1, PublicPartitions: true}
	for _, k := range kinds {
		o.Metrics = append(o.Metrics, MetricSpec{Name: string(k), Kind: k, Column: "v", Min: lo, Max: hi})
	}
	return o
}

// spreadRow is an aggregate row for spreadOutput (its metrics share metric
// 0's statistics).
func spreadRow(key string, tr truth) aggRow {
	return aggRow{keys: []string{key}, units: tr.n,
		ints: map[string]int64{statKey(0, ValueCount): tr.n},
		flts: map[string]float64{statKey(0, CenteredSum): tr.csum, statKey(0, CenteredSumSquares): tr.csq}}
}

// releaseFloats runs rows of out through a Releaser with noise nz (nil: the
// library's) and returns the float columns by name.
func releaseFloats(t *testing.T, out OutputSpec, kind NoiseKind, epsilon float64, nz noise.Noise, rows []aggRow) map[string][]float64 {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	spec := JobSpec{Epsilon: epsilon, Delta: 0, Noise: kind, K: 1, Outputs: []OutputSpec{out}}
	if kind == Gaussian {
		spec.Delta = 1e-5
	}
	plan := mustPlan(t, spec)
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{Allocator: alloc})
	if err != nil {
		t.Fatal(err)
	}
	if nz != nil {
		setNoise(r, nz)
	}
	rr := aggReader(t, alloc, out, rows)
	defer rr.Release()
	if err := r.ReleaseOutput(context.Background(), "o", rr, nil); err != nil {
		t.Fatal(err)
	}
	rel, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Free()
	rec := rel.Tables()[0].Record()
	cols := map[string][]float64{}
	for i, f := range rec.Schema().Fields() {
		if a, ok := rec.Column(i).(*array.Float64); ok {
			cols[f.Name] = slices.Clone(a.Float64Values())
		}
	}
	return cols
}

// TestVarianceNoiseless: without noise, variance is the population variance
// of the clamped per-person totals, with a 0 half-width; a key without people
// releases 0.
func TestVarianceNoiseless(t *testing.T) {
	t.Parallel()
	parts := [][]float64{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {-50, 3, 3, 3, 400}, {7}, {}}
	var rows []aggRow
	for i, totals := range parts {
		rows = append(rows, spreadRow(keyName(i), truthOf(totals, 0, 20)))
	}
	cols := releaseFloats(t, spreadOutput(0, 20, Variance), Laplace, 1, noNoise{}, rows)
	for i, totals := range parts {
		if got, want := cols["variance"][i], truthOf(totals, 0, 20).variance; math.Abs(got-want) > 1e-9 || cols["variance_ci95"][i] != 0 {
			t.Errorf("row %d: variance %v ± %v, want %v ± 0", i, got, cols["variance_ci95"][i], want)
		}
	}
	if got := cols["variance"][0]; math.Abs(got-8.25) > 1e-12 {
		t.Errorf("variance of 1..10 = %v, want 8.25", got)
	}
}

// widthNoise adds no noise and states intervals of half-width
// widthFactor·Linf, so that the propagation can be checked against every
// point of the box the parts' intervals span.
type widthNoise struct{ noNoise }

const widthFactor = 3

func (widthNoise) ComputeConfidenceIntervalInt64(x, _, linf int64, _, _, _ float64) (noise.ConfidenceInterval, error) {
	w := float64(widthFactor * linf)
	return noise.ConfidenceInterval{LowerBound: float64(x) - w, UpperBound: float64(x) + w}, nil
}

func (widthNoise) ComputeConfidenceIntervalFloat64(x float64, _ int64, linf, _, _, _ float64) (noise.ConfidenceInterval, error) {
	return noise.ConfidenceInterval{LowerBound: x - widthFactor*linf, UpperBound: x + widthFactor*linf}, nil
}

// checkIntervalCoversBox checks the interval propagation of a metric of kind
// k whose value is f(variance) for a monotone f: whatever true values
// (N, S, Q) lie in its parts' intervals, f of the variance they give lies
// within the released value ± its half-width. The noisy parts are random
// (seeded), also negative counts and sums of squares; the true points are
// the box's corners, the variance's vertex and random points.
func checkIntervalCoversBox(t *testing.T, k MetricKind, f func(float64) float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	ms := MetricSpec{Name: "m", Kind: k, Column: "v", Min: -3, Max: 5}
	half := 4.0
	mp, err := planMetric(Laplace, 1, ms, Share{Epsilon: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := mp.Metric()
	w := [3]float64{widthFactor, widthFactor * half, widthFactor * half * half}
	for trial := range 3000 {
		n := rng.Int64N(40) - 5
		s := (rng.Float64() - 0.5) * 2 * half * float64(max(n, 1))
		q := rng.Float64() * half * half * float64(max(n, 1)) * 1.2
		if trial%3 == 0 {
			q = -rng.Float64() * w[2] // a negative noisy sum of squares
		}
		parts := []Noisy{{Int: n}, {Float: s}, {Float: q}}
		var out [2]Cell
		if err := m.release(ms, Noised{mp: &mp, nz: widthNoise{}, parts: parts}, out[:]); err != nil {
			t.Fatal(err)
		}
		check := func(tn, ts, tq float64) {
			den := math.Max(tn, 1)
			v := f(clamp(tq/den-(ts/den)*(ts/den), 0, half*half))
			if d := math.Abs(v - out[0].Float); d > out[1].Float+1e-9 {
				t.Fatalf("parts %+v: true %s %v at (%v, %v, %v) is %v from the released %v, half-width %v",
					parts, k, v, tn, ts, tq, d, out[0].Float, out[1].Float)
			}
		}
		nLo, nHi := math.Max(float64(n)-w[0], 1), math.Max(float64(n)+w[0], 1)
		sLo, sHi := s-w[1], s+w[1]
		qLo, qHi := math.Max(q-w[2], 0), math.Max(q+w[2], 0)
		for _, tn := range []float64{nLo, nHi} {
			for _, ts := range []float64{sLo, sHi, 0} {
				if ts == 0 && (sLo > 0 || sHi < 0) {
					continue
				}
				for _, tq := range []float64{qLo, qHi} {
					check(tn, ts, tq)
				}
			}
		}
		if smin := math.Min(math.Abs(sLo), math.Abs(sHi)); sLo > 0 || sHi < 0 {
			if u := qHi / (2 * smin * smin); u > 1/nHi && u < 1/nLo {
				check(1/u, smin, qHi)
			}
		}
		for range 20 {
			check(nLo+rng.Float64()*(nHi-nLo), sLo+rng.Float64()*(sHi-sLo), qLo+rng.Float64()*(qHi-qLo))
		}
	}
}

func TestVarianceIntervalCoversTheBox(t *testing.T) {
	t.Parallel()
	checkIntervalCoversBox(t, Variance, func(v float64) float64 { return v })
}

// checkCoverage releases a metric of kind k, whose value is f(variance),
// for 2000 partitions with the library's real noise (Laplace and Gaussian)
// and counts how often the true value of the clamped per-person totals lies
// within value ± _ci95.
//
// The intervals hold the truth with probability at least 95% (the three
// parts' intervals at level 0.95^(1/3) hold jointly with probability 0.95,
// and the propagation only widens them). The check requires a coverage of
// at least 0.93 per noise kind: with a true coverage of exactly 0.95,
// P(Binomial(2000, 0.95) < 1860) = 4.1e-5, so a call fails falsely with
// probability below 1e-4 (less, as the coverage is above 0.95).
//
// The intervals are conservative (about 0.999 here) but not vacuous: an
// interval a third as wide must fail the same check (it covers 0.76 to 0.88
// here, at least 6 binomial standard deviations below 0.93), and at epsilon
// 2 the median half-width must be under an eighth of the largest value
// f((max-min)²/4).
func checkCoverage(t *testing.T, k MetricKind, f func(float64) float64) {
	t.Helper()
	const trials = 2000
	const lo, hi = 0.0, 100.0
	rng := rand.New(rand.NewPCG(5, 6))
	var rows []aggRow
	var truths []float64
	for i := range trials {
		people := 300 + rng.IntN(400)
		spread := 5 + rng.Float64()*60
		centre := rng.Float64() * 100
		totals := make([]float64, people)
		for j := range totals {
			totals[j] = centre + spread*rng.NormFloat64() // some clamped at 0 or 100
		}
		tr := truthOf(totals, lo, hi)
		rows = append(rows, spreadRow(keyName(i), tr))
		truths = append(truths, f(tr.variance))
	}
	name := string(k)
	largest := f((hi - lo) * (hi - lo) / 4)
	for _, kind := range []NoiseKind{Laplace, Gaussian} {
		t.Run(string(kind), func(t *testing.T) {
			cols := releaseFloats(t, spreadOutput(lo, hi, k), kind, 2, nil, rows)
			var covered, coveredThird int
			for i, v := range truths {
				d, half := math.Abs(cols[name][i]-v), cols[name+CISuffix][i]
				if d <= half {
					covered++
				}
				if d <= half/3 {
					coveredThird++
				}
			}
			if got := float64(covered) / trials; got < 0.93 {
				t.Errorf("%s ± _ci95 covers the true value in %.3f of %d partitions, want >= 0.93", name, got, trials)
			} else {
				t.Logf("%s: coverage %.3f", name, got)
			}
			if got := float64(coveredThird) / trials; got >= 0.93 {
				t.Errorf("power: %s ± _ci95/3 covers %.3f, want < 0.93", name, got)
			} else {
				t.Logf("power: %s ± _ci95/3 covers %.3f", name, got)
			}
			if med := median(cols[name+CISuffix]); !(med < largest/8) {
				t.Errorf("median %s half-width %v: too wide to be informative (largest value %v)", name, med, largest)
			}
		})
	}
}

func TestVarianceCoverage(t *testing.T) {
	t.Parallel()
	checkCoverage(t, Variance, func(v float64) float64 { return v })
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
