package privacy

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestRollupVarianceOfTheEstimator(t *testing.T) {
	t.Parallel()
	// Two parts and a total, each with deviation 1: the least squares
	// estimate of each has variance 2/3 of its own.
	total := &noisyValue{v: 10, sd: 1, noiseHalf: 3}
	parts := []*noisyValue{{v: 3, sd: 1, noiseHalf: 3}, {v: 4, sd: 1, noiseHalf: 3}}
	rollup(total, parts, true)
	// residual 10 - 7 = 3, λ = 3 / 3: parts + 1, total - 1.
	if parts[0].v != 4 || parts[1].v != 5 || total.v != 9 {
		t.Errorf("rollup = %v + %v = %v, want 4 + 5 = 9", parts[0].v, parts[1].v, total.v)
	}
	want := 3 * math.Sqrt(2.0/3)
	for _, e := range []*noisyValue{total, parts[0], parts[1]} {
		if math.Abs(e.half()-want) > 1e-12 {
			t.Errorf("half-width = %v, want %v", e.half(), want)
		}
	}
}

func TestRollupWeighsByVariance(t *testing.T) {
	t.Parallel()
	// A precise total (sd 1) and noisy parts (sd 10): the parts absorb
	// almost all of the residual.
	total := &noisyValue{v: 100, sd: 1, noiseHalf: 3}
	parts := []*noisyValue{{v: 30, sd: 10, noiseHalf: 30}, {v: 40, sd: 10, noiseHalf: 30}}
	rollup(total, parts, true)
	if math.Abs(total.v-(100-30.0/201)) > 1e-9 {
		t.Errorf("total = %v, want 100 - 30/201", total.v)
	}
}

// TestRollupProperties: on random values, the parts sum exactly to the total,
// none is negative with nonneg, no half-width grows, and integer rounding
// keeps the sum.
func TestRollupProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 2000 {
		n := 1 + rng.IntN(12)
		total := &noisyValue{v: rng.NormFloat64() * 50, sd: 1 + rng.Float64()*30}
		total.noiseHalf, total.biasHalf = 2*total.sd, rng.Float64()*5
		parts := make([]*noisyValue, n)
		before := make([]float64, n)
		for i := range parts {
			p := &noisyValue{v: rng.NormFloat64() * 30, sd: 1 + rng.Float64()*30}
			p.noiseHalf = 2 * p.sd
			parts[i], before[i] = p, p.noiseHalf
		}
		totalHalf := total.noiseHalf
		rollup(total, parts, true)
		var sum float64
		for i, p := range parts {
			sum += p.v
			if p.v < 0 {
				t.Fatalf("trial %d: part %d = %v < 0", trial, i, p.v)
			}
			if p.noiseHalf > before[i]+1e-9 {
				t.Fatalf("trial %d: part %d noise half-width grew %v -> %v", trial, i, before[i], p.noiseHalf)
			}
		}
		if sum != total.v {
			t.Fatalf("trial %d: parts sum to %v, total %v", trial, sum, total.v)
		}
		if total.noiseHalf > totalHalf+1e-9 {
			t.Fatalf("trial %d: total noise half-width grew %v -> %v", trial, totalHalf, total.noiseHalf)
		}
		roundRollup(total, parts)
		var isum float64
		for i, p := range parts {
			isum += p.v
			if p.v != math.Trunc(p.v) || p.v < 0 {
				t.Fatalf("trial %d: part %d = %v: not a non-negative integer", trial, i, p.v)
			}
		}
		if isum != total.v || total.v != math.Trunc(total.v) {
			t.Fatalf("trial %d: rounded parts sum to %v, total %v", trial, isum, total.v)
		}
	}
}

func TestAtMost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		lo, hi         noisyValue
		pinned         bool
		wantLo, wantHi float64
	}{
		{"already", noisyValue{v: 3, sd: 1}, noisyValue{v: 5, sd: 1}, false, 3, 5},
		{"equal weights", noisyValue{v: 505, sd: 10}, noisyValue{v: 468, sd: 10}, false, 487, 487}, // 486.5 rounds up
		{"precise hi", noisyValue{v: 505, sd: 30}, noisyValue{v: 468, sd: 10}, false, 472, 472},    // (505/900+468/100)/(1/900+1/100) = 471.7
		{"pinned", noisyValue{v: 505, sd: 1}, noisyValue{v: 468, sd: 100}, true, 468, 468},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := tc.lo, tc.hi
			atMost(&lo, &hi, tc.pinned, true)
			if lo.v != tc.wantLo || hi.v != tc.wantHi {
				t.Errorf("atMost = (%v, %v), want (%v, %v)", lo.v, hi.v, tc.wantLo, tc.wantHi)
			}
		})
	}
}

func consistentSpec() JobSpec {
	weeks := []MetricSpec{
		{Name: "events", Kind: Count, MaxPerUnit: 3},
		{Name: "people", Kind: CountUnits},
		{Name: "revenue", Kind: Sum, Column: "revenue", Min: 0, Max: 500},
		{Name: "avg", Kind: Mean, Column: "revenue", Min: 0, Max: 100},
	}
	return withDefaultSplit(JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 5, Outputs: []OutputSpec{
		{Name: "weekly", GroupBy: []string{"campaign", "week"}, MaxPartitionsPerUnit: 3, PublicPartitions: true, Metrics: weeks,
			Consistency: &Consistency{UnitsLeRows: true}},
		{Name: "by_campaign", GroupBy: []string{"campaign"}, MaxPartitionsPerUnit: 1, PublicPartitions: true, Metrics: weeks,
			Consistency: &Consistency{UnitsLeRows: true, RollupOf: "weekly"}},
	}})
}

// noisedRow is one partition's noised values of consistentSpec's metrics.
func noisedRow(key []string, events, people int64, revenue, count, csum float64) NoisedPartition {
	return NoisedPartition{Key: key, Metrics: []NoisedMetric{
		{Parts: []Noisy{{Int: events}}}, {Parts: []Noisy{{Int: people}}}, {Parts: []Noisy{{Float: revenue}}},
		{Parts: []Noisy{{Int: int64(count)}, {Float: csum}}},
	}}
}

// releaseConsistent releases consistentSpec from weekly and by_campaign
// partitions through AddNoisedOutput, the external engines' path.
func releaseConsistent(t *testing.T, alloc memory.Allocator, spec JobSpec, weekly, byCampaign []NoisedPartition) *Release {
	t.Helper()
	plan, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{Job: "j"}, ReleaserOptions{Allocator: alloc})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddNoisedOutput("weekly", weekly, OutputStats{}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddNoisedOutput("by_campaign", byCampaign, OutputStats{}); err != nil {
		t.Fatal(err)
	}
	rel, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// randomNoised draws noisy-looking values of campaigns x weeks partitions
// and their campaign totals, with truths that satisfy every constraint and
// noise large enough to break them.
func randomNoised(rng *rand.Rand, campaigns, weeks int) (weekly, byCampaign []NoisedPartition) {
	noisy := func(x, scale float64) float64 { return x + scale*(rng.ExpFloat64()-rng.ExpFloat64()) }
	for c := range campaigns {
		var events, people, revenue float64
		for w := range weeks {
			e := float64(rng.IntN(60))
			p := math.Floor(e * rng.Float64())
			rv := e * 20 * rng.Float64()
			events, people, revenue = events+e, people+p, revenue+rv
			weekly = append(weekly, noisedRow([]string{fmt.Sprint("c", c), fmt.Sprint("w", w)},
				int64(noisy(e, 20)), int64(noisy(p, 20)), noisy(rv, 800), noisy(p, 20), noisy(rv-50*p, 800)))
		}
		byCampaign = append(byCampaign, noisedRow([]string{fmt.Sprint("c", c)},
			int64(noisy(events, 10)), int64(noisy(people, 10)), noisy(revenue, 500), noisy(people, 10), noisy(revenue-50*people, 500)))
	}
	return weekly, byCampaign
}

// TestConsistentReleaseProperties: on random noised values, through the
// Releaser, every campaign row sums its weeks exactly, counts are
// non-negative integers, people <= events in every row, revenue >= 0 and
// means stay in [min, max].
func TestConsistentReleaseProperties(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	spec := consistentSpec()
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		weekly, byCampaign := randomNoised(rng, 1+rng.IntN(6), 1+rng.IntN(8))
		rel := releaseConsistent(t, alloc, spec, weekly, byCampaign)
		wk, bc := tableColumns(t, rel.Tables()[0]), tableColumns(t, rel.Tables()[1])
		sums := map[string][2]float64{}
		for row, c := range wk.keys["campaign"] {
			s := sums[c]
			s[0] += wk.num["events"][row]
			s[1] += wk.num["revenue"][row]
			sums[c] = s
		}
		for row, c := range bc.keys["campaign"] {
			if got, want := bc.num["events"][row], sums[c][0]; got != want {
				t.Errorf("seed %d: %s events %v, weeks sum to %v", seed, c, got, want)
			}
			if got, want := bc.num["revenue"][row], sums[c][1]; math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("seed %d: %s revenue %v, weeks sum to %v", seed, c, got, want)
			}
		}
		for _, tc := range []tableCols{wk, bc} {
			for row := range tc.num["events"] {
				ev, pp, rv, avg := tc.num["events"][row], tc.num["people"][row], tc.num["revenue"][row], tc.num["avg"][row]
				if ev < 0 || pp < 0 || rv < 0 {
					t.Errorf("seed %d: %s row %d: events %v, people %v, revenue %v: negative", seed, tc.name, row, ev, pp, rv)
				}
				if pp > ev {
					t.Errorf("seed %d: %s row %d: people %v > events %v", seed, tc.name, row, pp, ev)
				}
				if avg < 0 || avg > 100 {
					t.Errorf("seed %d: %s row %d: avg %v outside [0, 100]", seed, tc.name, row, avg)
				}
				for _, m := range []string{"events", "people", "revenue", "avg"} {
					if h := tc.num[m+CISuffix][row]; !(h >= 0) || math.IsInf(h, 0) {
						t.Errorf("seed %d: %s row %d: %s_ci95 = %v", seed, tc.name, row, m, h)
					}
				}
			}
		}
		for _, tb := range rel.Tables() {
			for _, m := range tb.Metrics() {
				if (m.Name == "events" || m.Name == "people" || m.Name == "revenue") != (m.Consistency != "") {
					t.Errorf("seed %d: %s.%s Consistency = %q", seed, tb.Name(), m.Name, m.Consistency)
				}
			}
		}
		// Rounding for files keeps the consistent values exact.
		rounded, err := rel.Rounded(RoundInterval, alloc)
		if err != nil {
			t.Fatal(err)
		}
		if got := tableColumns(t, rounded.Tables()[1]); !equalFloats(got.num["revenue"], bc.num["revenue"]) {
			t.Errorf("seed %d: rounding changed consistent revenue %v -> %v", seed, bc.num["revenue"], got.num["revenue"])
		}
		rounded.Free()
		rel.Free()
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConsistentReleaseGolden fixes the values of a small consistent
// release (testdata/consistency.golden; go test -run Golden -update
// rewrites it).
func TestConsistentReleaseGolden(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	weekly := []NoisedPartition{
		noisedRow([]string{"a", "w1"}, 120, 90, 2400, 90, -2100),
		noisedRow([]string{"a", "w2"}, 468, 505, 9100, 505, -16000),
		noisedRow([]string{"b", "w1"}, -12, 4, -300, 4, 10),
		noisedRow([]string{"b", "w2"}, 30, 20, 700, 20, -300),
	}
	byCampaign := []NoisedPartition{
		noisedRow([]string{"a"}, 640, 560, 11000, 560, -17000),
		noisedRow([]string{"b"}, 25, 22, 900, 22, -200),
	}
	rel := releaseConsistent(t, alloc, consistentSpec(), weekly, byCampaign)
	defer rel.Free()
	var b strings.Builder
	for _, tb := range rel.Tables() {
		fmt.Fprintf(&b, "# %s\n", tb.Name())
		rec := tb.Record()
		for i, f := range rec.Schema().Fields() {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(f.Name)
		}
		b.WriteString("\n")
		for row := range int(rec.NumRows()) {
			for i := range int(rec.NumCols()) {
				if i > 0 {
					b.WriteString(",")
				}
				switch c := rec.Column(i).(type) {
				case *array.String:
					b.WriteString(c.Value(row))
				case *array.Int64:
					fmt.Fprint(&b, c.Value(row))
				case *array.Float64:
					fmt.Fprintf(&b, "%.6g", c.Value(row))
				}
			}
			b.WriteString("\n")
		}
		for _, m := range tb.Metrics() {
			if m.Consistency != "" {
				fmt.Fprintf(&b, "%s: %s\n", m.Name, m.Consistency)
			}
		}
	}
	path := filepath.Join("testdata", "consistency.golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run Golden -update writes it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("release differs from %s:\n%s\nwant:\n%s", path, b.String(), want)
	}
}

func TestCheckConsistency(t *testing.T) {
	t.Parallel()
	base := consistentSpec()
	for _, tc := range []struct {
		name  string
		edit  func(s *JobSpec)
		field string
		want  error
	}{
		{"ok", func(*JobSpec) {}, "", nil},
		{"empty", func(s *JobSpec) { s.Outputs[0].Consistency = &Consistency{} }, "consistency", ErrConsistencyEmpty},
		{"no count", func(s *JobSpec) { s.Outputs[0].Metrics = s.Outputs[0].Metrics[1:] }, "consistency.units_le_rows", ErrUnitsLeRowsMetrics},
		{"unknown", func(s *JobSpec) { s.Outputs[1].Consistency.RollupOf = "nope" }, "consistency.rollup_of", ErrRollupUnknown},
		{"self", func(s *JobSpec) { s.Outputs[1].Consistency.RollupOf = "by_campaign" }, "consistency.rollup_of", ErrRollupSelf},
		{"not public", func(s *JobSpec) { s.Outputs[0].PublicPartitions = false }, "consistency.rollup_of", ErrRollupParentNotPublic},
		{"not subset", func(s *JobSpec) { s.Outputs[1].GroupBy = []string{"channel"} }, "consistency.rollup_of", ErrRollupNotSubset},
		{"no shared metric", func(s *JobSpec) {
			s.Outputs[1].Metrics = []MetricSpec{{Name: "rows", Kind: Count, MaxPerUnit: 1, Weight: 1}, {Name: "people", Kind: CountUnits, Weight: 1}}
		}, "consistency.rollup_of", ErrRollupNoSharedMetrics},
		{"chain", func(s *JobSpec) { s.Outputs[0].Consistency.RollupOf = "by_campaign" }, "consistency.rollup_of", ErrRollupChain},
		{"shared", func(s *JobSpec) {
			third := s.Outputs[1]
			third.Name = "by_week"
			third.GroupBy = []string{"week"}
			s.Outputs = append(s.Outputs, third)
		}, "consistency.rollup_of", ErrRollupShared},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			s.Outputs = make([]OutputSpec, len(base.Outputs))
			for i, o := range base.Outputs {
				c := *o.Consistency
				o.Consistency = &c
				s.Outputs[i] = o
			}
			tc.edit(&s)
			var got []error
			for i := range s.Outputs {
				s.CheckConsistency(i, func(field string, value any, err error) {
					if field != tc.field {
						t.Errorf("field = %q, want %q", field, tc.field)
					}
					got = append(got, err)
				})
			}
			if tc.want == nil {
				if len(got) > 0 {
					t.Errorf("problems %v, want none", got)
				}
				if _, err := NewPlan(s); err != nil {
					t.Errorf("NewPlan: %v", err)
				}
				return
			}
			if len(got) == 0 || !errors.Is(errors.Join(got...), tc.want) {
				t.Errorf("problems %v, want %v", got, tc.want)
			}
			if _, err := NewPlan(s); !errors.Is(err, tc.want) {
				t.Errorf("NewPlan: %v, want %v", err, tc.want)
			}
		})
	}
}

// tableCols are a table's key columns as strings and its metric columns as
// float64, by name.
type tableCols struct {
	name string
	keys map[string][]string
	num  map[string][]float64
}

func tableColumns(t *testing.T, tb *Table) tableCols {
	t.Helper()
	rec := tb.Record()
	out := tableCols{name: tb.Name(), keys: map[string][]string{}, num: map[string][]float64{}}
	for i, f := range rec.Schema().Fields() {
		switch c := rec.Column(i).(type) {
		case *array.String:
			for row := range c.Len() {
				out.keys[f.Name] = append(out.keys[f.Name], c.Value(row))
			}
		case *array.Int64:
			for _, v := range c.Int64Values() {
				out.num[f.Name] = append(out.num[f.Name], float64(v))
			}
		case *array.Float64:
			out.num[f.Name] = append(out.num[f.Name], c.Float64Values()...)
		default:
			t.Fatalf("column %s: type %s", f.Name, rec.Column(i).DataType())
		}
	}
	return out
}
