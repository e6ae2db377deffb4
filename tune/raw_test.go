package tune

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
)

// handJob is a job over handEvents: four people, partitions a, b, c.
const handJob = `version: 1
name: hand
dataset: hand_events
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {waived: "test data"}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: by_campaign
    group_by: [campaign]
    metrics:
      - {name: events, type: count, max_per_unit: 1}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 10}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// handEvents, as (person, partition) pairs with rows and revenue total:
// u1: a (2 rows, 15), b (1, 20), c (1, 0); u2: a (1, 100); u3: a (3, 3),
// b (1, 4); u4: b (1, -2). A row of u5 has an unparsable revenue and is
// dropped as malformed.
const handEvents = `user_id,campaign,revenue
u1,a,10
u1,a,5
u1,b,20
u1,c,0
u2,a,100
u3,a,1
u3,a,1
u3,a,1
u3,b,4
u4,b,-2
u5,c,notanumber
`

func handInput(t *testing.T) (*job.Job, *duckdb.RawInput) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"job.yaml": handJob, "events.csv": handEvents} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j, err := job.LoadJob(filepath.Join(dir, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := duckdb.OpenRawInput(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return j, in
}

// TestStudyOutputByHand checks the raw study against the pairs above.
//
// People by number of partitions: 1 partition: u2, u4; 2: u3; 3: u1.
// Pairs by rows: 1 row: 5 pairs; 2: 1; 3: 1.
// L0 1, each person keeping one partition at random: a keeps u1 with 1/3,
// u2, u3 with 1/2: 1 + 1/3 + 1/2; b the same (u1, u3, u4); c u1's 1/3.
// With a threshold of 2 people, a and b are likely kept (round(11/6) =
// 2) and c not; among {a, b} u1 and u3 have 2 partitions each, so a keeps
// 1/2 + 1 + 1/2 = 2 people and b 1/2 + 1/2 + 1 = 2; c keeps its 1/3.
// L0 2 with no threshold: a keeps 2/3 + 1 + 1, b 2/3 + 1 + 1, c 2/3.
// Clamping the totals 15, 20, 0, 100, 3, 4, -2 to [0, 10] removes 5 + 10
// + 90 + 2 = 107 of their absolute mass 144.
func TestStudyOutputByHand(t *testing.T) {
	t.Parallel()
	j, in := handInput(t)
	ctx := context.Background()
	threshold := func(l0 int64) (int64, error) {
		if l0 == 1 {
			return 2, nil
		}
		return 0, nil
	}
	r, err := studyOutput(ctx, in, j, 0, func(top int64) []int64 {
		if top != 3 {
			t.Errorf("largest number of partitions of a person: %d, want 3", top)
		}
		return []int64{1, 2}
	}, threshold)
	if err != nil {
		t.Fatal(err)
	}
	if r.people != 4 || r.pairs != 7 || r.partitions != 3 {
		t.Errorf("people %d, pairs %d, partitions %d; want 4, 7, 3", r.people, r.pairs, r.partitions)
	}
	if want := []Count{{1, 2}, {2, 1}, {3, 1}}; !slices.Equal(r.degrees, want) {
		t.Errorf("degrees %v, want %v", r.degrees, want)
	}
	if want := []Count{{1, 5}, {2, 1}, {3, 1}}; !slices.Equal(r.rows, want) {
		t.Errorf("rows %v, want %v", r.rows, want)
	}
	if got := ExcessShare(r.rows, 1); !near(got, 3.0/10) {
		t.Errorf("Linf 1 drops %v of rows, want 3/10", got)
	}
	want := [][]partition{
		{{n: 3, e1: 11.0 / 6, e2: 2}, {n: 3, e1: 11.0 / 6, e2: 2}, {n: 1, e1: 1.0 / 3, e2: 1.0 / 3}},
		{{n: 3, e1: 8.0 / 3, e2: 8.0 / 3}, {n: 3, e1: 8.0 / 3, e2: 8.0 / 3}, {n: 1, e1: 2.0 / 3, e2: 2.0 / 3}},
	}
	for li := range want {
		if len(r.parts[li]) != len(want[li]) {
			t.Fatalf("L0 %d: %d partitions, want %d", r.l0s[li], len(r.parts[li]), len(want[li]))
		}
		for p, w := range want[li] {
			g := r.parts[li][p]
			if g.n != w.n || !near(g.e1, w.e1) || !near(g.e2, w.e2) {
				t.Errorf("L0 %d partition %d: %+v, want %+v", r.l0s[li], p, g, w)
			}
		}
	}
	loss, err := clampLoss(ctx, in, 0, [][2]float64{{0, 10}, {-2, 100}})
	if err != nil {
		t.Fatal(err)
	}
	if !near(loss[0], 107.0/144) || loss[1] != 0 {
		t.Errorf("clamp losses %v, want [107/144 0]", loss)
	}
}

// TestEvaluateByHand: partitions of 3 people keeping 2 in expectation and
// one of 1 keeping 1/3, released with certainty (public partitions) and
// noise σ 0: released 3, error per partition (1 + 1 + 2/3) / 3, people
// lost among the released 1 + 1 + 2/3 of 7.
func TestEvaluateByHand(t *testing.T) {
	t.Parallel()
	parts := []partition{{n: 3, e1: 2, e2: 2}, {n: 3, e1: 2, e2: 2}, {n: 1, e1: 1.0 / 3, e2: 1.0 / 3}}
	e, err := evaluate(parts, Budget{}, 1, 1, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !near(e.released, 3) || !near(e.score, (2+2.0/3)/3) || !near(e.lossRel, (2+2.0/3)/7) {
		t.Errorf("evaluate = %+v", e)
	}
}

// TestFocusSteersTheSplit: with RawOptions.Focus the focus metric gets
// weight 1 and the others FocusOtherWeight, and the focus metric's noise is
// then smaller than the balanced recommendation gives it (its share of the
// metric budget grows from what the balance left it to 1/1.2).
func TestFocusSteersTheSplit(t *testing.T) {
	t.Parallel()
	j, _ := handInput(t)
	ctx := context.Background()
	balanced, err := Raw(ctx, j, RawOptions{})
	if err != nil {
		t.Fatal(err)
	}
	focused, err := Raw(ctx, j, RawOptions{Focus: "people"})
	if err != nil {
		t.Fatal(err)
	}
	if focused.Focus != "people" || balanced.Focus != "" {
		t.Errorf("report focus %q and %q, want people and none", focused.Focus, balanced.Focus)
	}
	var got []float64
	for _, m := range focused.Outputs[0].Metrics {
		got = append(got, m.Weight.Recommended)
	}
	if want := []float64{FocusOtherWeight, 1, FocusOtherWeight}; !slices.Equal(got, want) {
		t.Errorf("focused weights %v, want %v", got, want)
	}
	bn, fn := balanced.Outputs[0].Metrics[1].Noise.StdDev, focused.Outputs[0].Metrics[1].Noise.StdDev
	if !(fn < bn) {
		t.Errorf("people noise with focus %v, without %v: want it smaller with focus", fn, bn)
	}
	if _, err := Raw(ctx, j, RawOptions{Focus: "nope"}); err == nil || !strings.Contains(err.Error(), "events, people, revenue") {
		t.Errorf("unknown focus metric: err = %v, want the job's metrics named", err)
	}
}
