package beamengine

import (
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"
)

// TestSelectionAndConsentTable runs the private-partition path (one DP
// selection per output with k as pre-threshold, reused by every metric) on
// NDJSON input with a consent table. Only "big" may be released: "small"
// has 2 people (< k = 3, never released whatever the noise), and the people
// of "revoked" (latest record refuses), "tie" (grant and refusal at the same
// time: refusal wins), "other" (granted for another purpose only) and
// "never" (no record) are excluded. With ε = 10 a partition of 100 people
// passes selection with probability 1 - 1e-40 or more, so the test is not flaky.
func TestSelectionAndConsentTable(t *testing.T) {
	var events, consent strings.Builder
	consent.WriteString("user_id,purpose,granted,updated_at\n")
	add := func(seg string, n int, records ...string) {
		for i := range n {
			u := fmt.Sprintf("%s%d", seg, i)
			fmt.Fprintf(&events, `{"user_id":%q,"seg":%q,"amount":%d}`+"\n", u, seg, i%7)
			for _, r := range records {
				fmt.Fprintf(&consent, "%s,%s\n", u, r)
			}
		}
	}
	add("big", 100, "marketing,true,2026-01-01 00:00:00", "marketing,false,2025-01-01 00:00:00")
	add("small", 2, "marketing,true,2026-01-01 00:00:00")
	add("revoked", 100, "marketing,true,2025-01-01 00:00:00", "marketing,false,2026-01-01 00:00:00")
	add("tie", 100, "marketing,true,2026-01-01 00:00:00", "marketing,false,2026-01-01 00:00:00")
	add("other", 100, "sales,true,2026-01-01 00:00:00")
	add("never", 100)
	job := setupJob(t, `version: 1
name: sel
dataset: d
purpose: marketing
input: {path: events.json, format: json}
privacy_unit: user_id
consent:
  table: {path: consent.csv, unit: user_id, purpose: purpose, granted: granted, at: updated_at}
privacy: {epsilon: 10, delta: 1e-5, k: 3, max_partitions_per_unit: 1}
outputs:
  - name: by_seg
    group_by: [seg]
    metrics:
      - {name: people, type: count_units}
      - {name: amount, type: sum, column: amount, min: 0, max: 10}
      - {name: amount_q, type: quantiles, column: amount, min: 0, max: 10, ranks: [0.5]}
      - {name: amount_var, type: variance, column: amount, min: 0, max: 10}
output: {dir: out, format: csv}
ledger: ledger/l.duckdb
`, map[string]string{"events.json": events.String(), "consent.csv": consent.String()}, 20)
	res, err := runBeam(t, job, "", pbeam.TestModeDisabled)
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Rejects != nil {
		t.Errorf("no row rejected, report rejects = %+v, want none", res.Report.Rejects)
	}
	if r := res.Report; r.RowsRead != 502 || r.RowsRejected != 0 || r.RowsExcludedByConsent != 400 {
		t.Errorf("report read=%d rejected=%d excluded=%d, want 502, 0, 400", r.RowsRead, r.RowsRejected, r.RowsExcludedByConsent)
	}
	tb := readTable(t, filepath.Join(job.Output.Dir, "by_seg.csv"), 1)
	want := []string{"seg", "people", "people_ci95", "amount", "amount_ci95", "amount_q_p50", "amount_var", "amount_var_ci95"}
	if !slices.Equal(tb.header, want) {
		t.Errorf("columns %v, want %v", tb.header, want)
	}
	var keys []string
	for k := range tb.rows {
		keys = append(keys, k)
	}
	if !slices.Equal(keys, []string{"big"}) {
		t.Errorf("released keys %v, want [big]", keys)
	}
}

// twoPhaseJob: keys from the data, L0 = 5, k = 10. Epsilon 900 gives
// selection 450 and each metric 225: a partition of 100 people is always
// selected, one of a single person never (k), and the noise of people
// (Laplace scale 5/225) and revenue (scale 500/225) exceeds 0.5 and 30 with
// probability below 1e-9. (The library's Gaussian selection threshold,
// used for L0 > 3, stops working near a selection epsilon of 1,000.)
const twoPhaseJob = `version: 1
name: twophase
dataset: d
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: 900, delta: 1e-3, k: 10, max_partitions_per_unit: 5}
outputs:
  - name: t
    group_by: [campaign]
    metrics:
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: value, min: 0, max: 100}
output: {dir: out, format: csv}
ledger: ledger/l.duckdb
`

// twoPhaseEvents: big partitions b1..b<big>, each with 100 people of one
// row of value 10, and person x with 2 rows of value 1000 in each big
// partition and in 50 - big partitions of its own.
func twoPhaseEvents(big int) string {
	var b strings.Builder
	b.WriteString("user_id,campaign,value,consent\n")
	for p := 1; p <= big; p++ {
		for i := range 100 {
			fmt.Fprintf(&b, "b%d_u%d,b%d,10,true\n", p, i, p)
		}
	}
	for p := range 50 {
		g := fmt.Sprintf("s%02d", p)
		if p < big {
			g = fmt.Sprintf("b%d", p+1)
		}
		for range 2 {
			fmt.Fprintf(&b, "x,%s,1000,true\n", g)
		}
	}
	return b.String()
}

// twoPhaseCounted reads the released partitions of the two-phase job and,
// per metric, whether x counts in each: people 101 or 100, revenue 1100 or
// 1000 (100 people of 10, x's total clamped to 100), through the noise (see
// twoPhaseJob). Other values fail the test. pbeam bounds each aggregation on
// its own, so x may count in different partitions for people and revenue.
func twoPhaseCounted(t *testing.T, dir string) (people, revenue map[string]bool) {
	t.Helper()
	tb := readTable(t, filepath.Join(dir, "t.csv"), 1)
	people, revenue = map[string]bool{}, map[string]bool{}
	for k, row := range tb.rows {
		p, err1 := strconv.ParseFloat(row[slices.Index(tb.header, "people")], 64)
		r, err2 := strconv.ParseFloat(row[slices.Index(tb.header, "revenue")], 64)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if p := math.Round(p); p != 100 && p != 101 {
			t.Errorf("%s: people %v, want 101 with x or 100 without", k, p)
		}
		if math.Abs(r-1100) >= 30 && math.Abs(r-1000) >= 30 {
			t.Errorf("%s: revenue %v, want 1100 with x or 1000 without", k, r)
		}
		people[k], revenue[k] = math.Round(p) == 101, math.Abs(r-1100) < 30
	}
	return people, revenue
}

// TestSelectionThenBoundingAmongSelected: the two-phase release on Beam.
// pbeam.SelectPartitions bounds x to L0 = 5 of its 50 partitions to select;
// its result is every aggregation's PublicPartitions, and pbeam drops the
// other partitions before bounding, so x is bounded again among the selected
// ones: in each metric it counts in all 3 of 3, and in exactly 5 of 7.
// Bounded among all 50 instead, x would count in each big partition with
// probability 1/10.
func TestSelectionThenBoundingAmongSelected(t *testing.T) {
	for _, big := range []int{3, 7} {
		t.Run(fmt.Sprintf("%d_selected", big), func(t *testing.T) {
			job := setupJob(t, twoPhaseJob, map[string]string{"events.csv": twoPhaseEvents(big)}, 1000)
			if _, err := runBeam(t, job, "", pbeam.TestModeDisabled); err != nil {
				t.Fatal(err)
			}
			people, revenue := twoPhaseCounted(t, job.Output.Dir)
			var want []string
			for p := 1; p <= big; p++ {
				want = append(want, fmt.Sprintf("b%d", p))
			}
			if got := slices.Sorted(maps.Keys(people)); !slices.Equal(got, want) {
				t.Errorf("released %v, want the big partitions %v", got, want)
			}
			for name, counted := range map[string]map[string]bool{"people": people, "revenue": revenue} {
				withX := 0
				for _, x := range counted {
					if x {
						withX++
					}
				}
				if withX != min(big, 5) {
					t.Errorf("%s: x counts in %d of %d selected partitions, want min(%d, L0 5) = %d", name, withX, big, big, min(big, 5))
				}
			}
		})
	}
}
