package privacy

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/differential-privacy/go/v3/noise"
)

func thresholdOutput() OutputSpec {
	return OutputSpec{Name: "o", GroupBy: []string{"g"}, MaxPartitionsPerUnit: 5, Selection: SelectCountThreshold,
		Metrics: []MetricSpec{{Name: "events", Kind: Count, MaxPerUnit: 3}, {Name: "people", Kind: CountUnits}}}
}

// TestPlanCountThresholdSpendsNoSelectionEpsilon: with count_threshold the
// metrics get all of the output's epsilon and the threshold all of its
// delta (Laplace); with Gaussian noise selection gets SelectionDeltaShare
// of delta, as in two phases.
func TestPlanCountThresholdSpendsNoSelectionEpsilon(t *testing.T) {
	t.Parallel()
	p := mustPlan(t, JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 10, Outputs: []OutputSpec{thresholdOutput()}})
	op := p.Outputs[0]
	if op.Selection == nil || op.Selection.Method != SelectCountThreshold || op.Selection.Metric != 1 {
		t.Fatalf("selection %+v, want count_threshold on metric 1", op.Selection)
	}
	if op.Selection.Share != (Share{Epsilon: 0, Delta: 1e-6}) {
		t.Errorf("selection share %+v, want epsilon 0 and all of delta", op.Selection.Share)
	}
	for _, m := range op.Metrics {
		if m.Share.Epsilon != 0.5 || m.Share.Delta != 0 {
			t.Errorf("metric %s share %+v, want epsilon 0.5 (half of all of it), delta 0", m.Spec.Name, m.Share)
		}
	}
	if p.Total != (Share{Epsilon: 1, Delta: 1e-6}) {
		t.Errorf("total %+v, want the job's (1, 1e-6)", p.Total)
	}
	g := mustPlan(t, JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Gaussian, K: 10, Outputs: []OutputSpec{thresholdOutput()}})
	if got, want := g.Outputs[0].Selection.Share.Delta, 1e-6*SelectionDeltaShare; math.Abs(got-want) > 1e-18 {
		t.Errorf("gaussian selection delta %v, want %v", got, want)
	}
}

// TestCountThresholdRules: count_threshold needs keys from the data and a
// count_units metric, and takes no selection share.
func TestCountThresholdRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*OutputSpec)
		want string
	}{
		{"no count_units", func(o *OutputSpec) { o.Metrics = o.Metrics[:1] }, "output 0, selection: count_threshold " + ErrThresholdNeedsCountUnits.Error()},
		{"selection share", func(o *OutputSpec) { o.SelectionShare = 0.3 }, "output 0, selection_share: 0.3 " + ErrThresholdShare.Error()},
		{"public keys", func(o *OutputSpec) { o.PublicPartitions = true }, "output 0, selection: count_threshold " + ErrSelectionPublic.Error()},
		{"unknown", func(o *OutputSpec) { o.Selection = "first_come" }, "output 0, selection: first_come must be one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := thresholdOutput()
			tc.edit(&o)
			_, err := NewPlan(withDefaultSplit(JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 10, Outputs: []OutputSpec{o}}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// shiftNoise adds +shift to every int64 and has threshold thr: it shows
// which noised value is released and how often a value is noised.
type shiftNoise struct {
	noNoise
	shift int64
	thr   float64
	calls *int
}

func (n shiftNoise) AddNoiseInt64(x, _, _ int64, _, _ float64) (int64, error) {
	*n.calls++
	return x + n.shift, nil
}
func (n shiftNoise) AddNoiseFloat64(x float64, _ int64, _, _, _ float64) (float64, error) {
	*n.calls++
	return x + float64(n.shift), nil
}
func (n shiftNoise) Threshold(int64, float64, float64, float64, float64) (float64, error) {
	return n.thr, nil
}

// TestCountThresholdRelease: a partition is released when its bounded
// people count reaches k and its noised count, unrounded, reaches threshold
// + k - 1 (clearsThreshold); the released people value is
// that same noised count, drawn once per partition, not twice.
func TestCountThresholdRelease(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	out := thresholdOutput()
	plan := mustPlan(t, JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 10, Outputs: []OutputSpec{out}})
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{Allocator: alloc})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	// noised = units + 100; kept when units >= 10 and units + 100 >= 149.5 + 9.
	setNoise(r, shiftNoise{shift: 100, thr: 149.5, calls: &calls})
	rows := []aggRow{
		{keys: []string{"a"}, units: 9, ints: map[string]int64{"0/rows": 20, "1/units": 9}},    // < k: suppressed
		{keys: []string{"b"}, units: 58, ints: map[string]int64{"0/rows": 20, "1/units": 58}},  // 158 < 159: suppressed
		{keys: []string{"c"}, units: 59, ints: map[string]int64{"0/rows": 70, "1/units": 59}},  // 159: released
		{keys: []string{"d"}, units: 500, ints: map[string]int64{"0/rows": 7, "1/units": 500}}, // released
	}
	empty := aggReader(t, alloc, out, nil)
	defer empty.Release()
	if _, err := r.SelectPartitions(context.Background(), "o", empty); err == nil {
		t.Error("SelectPartitions on a count_threshold output succeeded, want a refusal")
	}
	agg := aggReader(t, alloc, out, rows)
	defer agg.Release()
	if err := r.ReleaseOutput(context.Background(), "o", agg, nil); err != nil {
		t.Fatal(err)
	}
	rel, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Free()
	rec := rel.Tables()[0].Record()
	if rec.NumRows() != 2 {
		t.Fatalf("released %d rows, want c and d", rec.NumRows())
	}
	keys := rec.Column(0).(*array.String)
	events, people := rec.Column(1).(*array.Int64), rec.Column(3).(*array.Int64)
	for row, want := range []struct {
		key            string
		events, people int64
	}{{"c", 170, 159}, {"d", 107, 600}} {
		if keys.Value(row) != want.key || events.Value(row) != want.events || people.Value(row) != want.people {
			t.Errorf("row %d = (%s, %d, %d), want %+v", row, keys.Value(row), events.Value(row), people.Value(row), want)
		}
	}
	if got := r.Stats()["o"]; got != (OutputStats{Partitions: 4, Released: 2, Suppressed: 2}) {
		t.Errorf("stats %+v, want 4 partitions, 2 released, 2 suppressed", got)
	}
}

// TestCountThresholdMatchesLibrary: with the library's Laplace noise and
// threshold the keep decision is clearsThreshold's: a partition far
// below the threshold is never kept and one far above always is (each
// with probability above 1 - 1e-9 over 200 draws).
func TestCountThresholdMatchesLibrary(t *testing.T) {
	t.Parallel()
	p := mustPlan(t, JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 10, Outputs: []OutputSpec{thresholdOutput()}})
	op := &p.Outputs[0]
	c := op.Metrics[op.Selection.Metric].Components[0]
	thr, err := noise.Laplace().Threshold(c.L0, c.LInf, c.Share.Epsilon, c.Share.Delta, op.Selection.Share.Delta)
	if err != nil {
		t.Fatal(err)
	}
	scale := float64(c.L0) / c.Share.Epsilon
	low, high := int64(thr)-int64(25*scale), int64(thr)+int64(25*scale)+10
	for range 200 {
		if _, keep, err := thresholdKeep(noise.Laplace(), op.Selection, c, max(low, 10)); err != nil || keep {
			t.Fatalf("kept %d people below threshold %.1f (err %v)", low, thr, err)
		}
		if _, keep, err := thresholdKeep(noise.Laplace(), op.Selection, c, high); err != nil || !keep {
			t.Fatalf("suppressed %d people above threshold %.1f (err %v)", high, thr, err)
		}
	}
	// Half the draws pass at ceil(threshold) + k - 1 people (the noise is
	// symmetric), so that is the 50% figure.
	p50, p95, err := op.ReleaseChance(Laplace)
	if err != nil || p50 != int64(math.Ceil(thr))+9 || p95 <= p50 {
		t.Errorf("release chance %d, %d, %v: want p50 = ceil(%.2f) + 9 < p95", p50, p95, err, thr)
	}
}
