package privacy

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestCountBucketTopIsTheLargestCountOfItsBucket(t *testing.T) {
	t.Parallel()
	prev := int64(0)
	for n := int64(1); n <= 200_000; n++ {
		b := CountBucket(n)
		if b < prev || b > prev+1 {
			t.Fatalf("CountBucket(%d) = %d after %d: buckets must be consecutive", n, b, prev)
		}
		if b != prev && n > 1 && countBucketTop(prev) != n-1 {
			t.Fatalf("countBucketTop(%d) = %d, want %d (the count before %d)", prev, countBucketTop(prev), n-1, n)
		}
		if top := countBucketTop(b); top < n {
			t.Fatalf("countBucketTop(%d) = %d < %d", b, top, n)
		}
		prev = b
	}
	if got := CountBucket(math.MaxInt64); got != CountBucketMax {
		t.Errorf("CountBucket(max) = %d, want %d", got, CountBucketMax)
	}
}

func TestValueBucketHoldsItsValue(t *testing.T) {
	t.Parallel()
	for _, x := range []float64{1e-9, 0.001, 0.5, 1, 1.5, 2, 3, 33.3, 50, 64, 1000, 1e6, 1e12} {
		for _, v := range []float64{x, -x} {
			b := ValueBucket(v)
			if (b > 0) != (v > 0) {
				t.Errorf("ValueBucket(%v) = %d: wrong sign", v, b)
			}
			if top := valueBucketTop(b); math.Abs(v) >= top || (abs64(b) > 1 && math.Abs(v) < valueBucketTop(b-sign(b))) {
				t.Errorf("ValueBucket(%v) = %d with top %v: outside", v, b, top)
			}
		}
	}
	if ValueBucket(0) != 0 || ValueBucket(math.NaN()) != 0 {
		t.Error("zero and NaN must be bucket 0")
	}
	if b := ValueBucket(math.Inf(1)); b != ValueBucketMax {
		t.Errorf("ValueBucket(+Inf) = %d, want %d", b, ValueBucketMax)
	}
}

func sign(b int64) int64 {
	if b < 0 {
		return -1
	}
	return 1
}

func autoOutput() OutputSpec {
	return OutputSpec{Name: "o", GroupBy: []string{"campaign"}, MaxPartitionsPerUnit: 1, AutoL0: true, PublicPartitions: true, Weight: 1, Metrics: []MetricSpec{
		{Name: "events", Kind: Count, MaxPerUnit: 1, Weight: 1, Auto: MetricAuto{MaxPerUnit: true}},
		{Name: "people", Kind: CountUnits, Weight: 1},
		{Name: "revenue", Kind: Sum, Column: "revenue", Min: 0, Max: 1, Weight: 1, Auto: MetricAuto{Min: true, Max: true}},
		{Name: "avg", Kind: Mean, Column: "revenue", Min: 0, Max: 1, Weight: 1, Auto: MetricAuto{Max: true}},
	}}
}

// The estimates are charged in the release: the job's epsilon, no more, of
// which bounds_share goes to the estimates and the rest to the outputs as
// before.
func TestPlanChargesTheBoundsShare(t *testing.T) {
	t.Parallel()
	spec := JobSpec{Epsilon: 2, Delta: 1e-6, Noise: Laplace, K: 10, BoundsShare: 0.1, Outputs: []OutputSpec{autoOutput()}}
	p, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Bounds == nil || math.Abs(p.Bounds.Share.Epsilon-0.2) > 1e-12 {
		t.Fatalf("bounds share = %+v, want epsilon 0.2", p.Bounds)
	}
	var est, all float64
	for _, l := range p.Bounds.leaves() {
		est += l.Epsilon
	}
	for _, l := range p.Outputs[0].leaves() {
		all += l.Epsilon
	}
	if math.Abs(est-0.2) > 1e-12 || math.Abs(all-2) > 1e-12 || p.Total.Epsilon > 2 {
		t.Errorf("estimates %v of the output's %v (total %v), want 0.2 of 2", est, all, p.Total.Epsilon)
	}
	// Selection keeps its share: the estimates come out of the metrics.
	sel := spec
	sel.Outputs = []OutputSpec{autoOutput()}
	sel.Outputs[0].PublicPartitions, sel.Outputs[0].SelectionShare = false, 0.5
	ps, err := NewPlan(sel)
	if err != nil {
		t.Fatal(err)
	}
	if got := ps.Outputs[0].Selection.Share.Epsilon; math.Abs(got-1) > 1e-12 {
		t.Errorf("selection epsilon %v, want 1 (half of 2, as without estimates)", got)
	}
	ob := p.Bounds.Outputs[0]
	if ob.Rows == 0 || len(ob.Totals) != 1 || ob.Columns[0] != "revenue" {
		t.Errorf("output estimates = %+v, want rows and one column", ob)
	}
	spec.BoundsShare = 0
	if _, err := NewPlan(spec); err == nil || !strings.Contains(err.Error(), "bounds_share") {
		t.Errorf("auto bounds without a bounds share: err = %v", err)
	}
}

// exactly is a histogram of n people at each count.
func exactly(counts map[int64]int64) Histogram {
	h := Histogram{}
	for v, n := range counts {
		h[CountBucket(v)] += n
	}
	return h
}

// Without noise, the estimates pick the documented quantiles, re-plan the
// output with them, and correct the released counts for what bounding
// dropped.
func TestEstimatesChooseBoundsAndCorrect(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	spec := JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 10, BoundsShare: 0.2, Outputs: []OutputSpec{autoOutput()}}
	plan, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{Job: "j"}, ReleaserOptions{Allocator: alloc})
	if err != nil {
		t.Fatal(err)
	}
	setNoise(r, noNoise{})
	r.est.nz = noNoise{}
	// Output o's auto bounds are not estimated: nothing is released.
	rr := aggReader(t, alloc, plan.Outputs[0].Spec, []aggRow{{keys: []string{"a"}, units: 1}})
	err = r.ReleaseOutput(context.Background(), "o", rr, nil)
	rr.Release()
	if err == nil || !strings.Contains(err.Error(), "auto bounds") {
		t.Fatalf("release before the estimates: err = %v", err)
	}

	// 6000 people in 1 partition, 2000 in 4, 2000 in 30: the median is 1.
	l0, err := r.EstimatePartitions("o", exactly(map[int64]int64{1: 6000, 4: 2000, 30: 2000}))
	if err != nil || l0 != 1 {
		t.Fatalf("L0 = %d, %v; want 1", l0, err)
	}
	rows := exactly(map[int64]int64{1: 9500, 2: 500})
	totals := Histogram{ValueBucket(20): 8000, ValueBucket(100): 1500, ValueBucket(-3): 2000}
	op, err := r.EstimateValues("o", rows, map[string]Histogram{"revenue": totals})
	if err != nil {
		t.Fatal(err)
	}
	ms := op.Spec.Metrics
	if op.Spec.MaxPartitionsPerUnit != 1 || ms[0].MaxPerUnit != 1 {
		t.Errorf("L0 %d, max_per_unit %d; want 1 and 1 (the 90th percentile)", op.Spec.MaxPartitionsPerUnit, ms[0].MaxPerUnit)
	}
	// 90% of the positive values are at most 100 (bucket [64, 128)); the
	// negative side's 90th percentile is 3 (bucket [2, 4)); both rounded up
	// to two significant digits.
	if ms[2].Max != 130 || ms[2].Min != -4 {
		t.Errorf("revenue clamp [%v, %v], want [-4, 130]", ms[2].Min, ms[2].Max)
	}
	if ms[3].Min != 0 || ms[3].Max != ms[2].Max {
		t.Errorf("avg clamp [%v, %v]: min is set by hand (0), max auto", ms[3].Min, ms[3].Max)
	}
	if r.Plan().Outputs[0].Metrics[0].Components[0].LInf != 1 {
		t.Errorf("the plan's sensitivities follow the estimates")
	}
	caps, err := r.DroppedCaps("o")
	if err != nil {
		t.Fatal(err)
	}
	if caps.L0 != 1 || caps.PairsCap < 30 {
		t.Errorf("caps = %+v, want L0 1 and a pairs cap of at least the top (30)", caps)
	}
	// A quarter of the pairs dropped; every kept pair is one row, so a
	// quarter of the rows too.
	s := DroppedSums{PairsKept: 3e6, PairsDropped: 1e6, HeavyPairs: 1e6, RowsKept: 3e6, HeavyRows: 1e6,
		MassKept: []float64{100}, MassClamped: []float64{0}, HeavyMass: []float64{10}}
	if err := r.EstimateDropped("o", s); err != nil {
		t.Fatal(err)
	}
	b := r.Bounds("o")
	if b == nil || b.Dropped == nil || math.Abs(b.Dropped.Pairs-0.25) > 1e-9 || math.Abs(*b.Dropped.Rows-0.25) > 1e-9 {
		t.Fatalf("dropped = %+v", b)
	}
	rr = aggReader(t, alloc, r.Plan().Outputs[0].Spec, []aggRow{{keys: []string{"a"}, units: 300, ints: map[string]int64{"0/rows": 300, "1/units": 300, "3/count": 300}, flts: map[string]float64{"2/sum": 30, "3/csum": 0}}})
	defer rr.Release()
	if err := r.ReleaseOutput(context.Background(), "o", rr, nil); err != nil {
		t.Fatal(err)
	}
	rel, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Free()
	tab := rel.Tables()[0]
	rec := tab.Record()
	// 300 kept of 400: released as 400; the interval is the noise's (zero
	// with noNoise), scaled like the value, plus the margin: a quarter of
	// the dropped share and twice the estimate's relative deviation.
	for _, c := range []struct {
		col, metric int
	}{{1, 0}, {3, 1}} {
		name := tab.Metrics()[c.metric].Name
		if got := rec.Column(c.col).(*array.Int64).Value(0); got != 400 {
			t.Errorf("%s = %d, want 400", name, got)
		}
		b := tab.Metrics()[c.metric].Bias
		if b == nil || math.Abs(b.DroppedShare-0.25) > 1e-9 || b.Margin < BiasMarginShare*0.25 || b.Margin > 0.1 {
			t.Fatalf("%s bias = %+v", name, b)
		}
		if got, want := rec.Column(c.col+1).(*array.Float64).Value(0), 400*b.Margin; math.Abs(got-want) > 1e-6*want {
			t.Errorf("%s_ci95 = %v, want %v (margin %v)", name, got, want, b.Margin)
		}
	}
	if tab.Bounds() == nil || !tab.Bounds().L0.Auto {
		t.Errorf("the table carries the bounds: %+v", tab.Bounds())
	}
	for i, m := range tab.Metrics() {
		// revenue's clamp reaches below 0: a sum is corrected only when it
		// cannot be.
		corrected := m.Kind == Count || m.Kind == CountUnits
		if (m.Bias != nil) != corrected {
			t.Errorf("metric %d (%s): bias %+v, corrected %v", i, m.Kind, m.Bias, corrected)
		}
	}
}
