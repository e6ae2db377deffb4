package duckdb

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/testnoise"
)

// twoPhaseJob: keys from the data, L0 = 5, k = 10. Epsilon 10 gives
// selection 5, so a partition of 100 people is dropped with probability
// below 1e-30, and one of a single person is never released (k).
const twoPhaseJob = `version: 1
name: twophase
dataset: audit
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: 10, delta: 1e-3, k: 10, max_partitions_per_unit: 5}
outputs:
  - name: t
    group_by: [campaign]
    metrics:
      - {name: people, type: count_units}
      - {name: events, type: count, max_per_unit: 3}
      - {name: revenue, type: sum, column: value, min: 0, max: 100}
      - {name: q, type: quantiles, column: value, min: 0, max: 100, ranks: [0.5, 1]}
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`

// twoPhaseEvents: big partitions b1..b<big>, each with 100 people of one
// row of value 10, and person x with 2 rows of value 1000 in each of the big
// partitions and in 50 - big partitions of its own.
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

// TestTwoPhaseKeepsEverySelectedPartition: x has 50 partitions, of which only
// the big ones can be selected. Bounded among all 50 (one phase), x would
// count in each big partition with probability 5/50; bounded again among the
// selected ones, x counts in min(big, L0) of them, whatever the seed: in all
// 3 of 3, and in exactly 5 of 7. Each case runs the release 10 times with
// fresh secret seeds and no noise.
func TestTwoPhaseKeepsEverySelectedPartition(t *testing.T) {
	for _, big := range []int{3, 7} {
		t.Run(fmt.Sprintf("%d_selected", big), func(t *testing.T) {
			h := newAuditHarness(t, twoPhaseJob, twoPhaseEvents(big), withNoise(testnoise.None{}))
			for trial := range 10 {
				rel := h.trial()
				var keys []string
				withX := 0
				for k, cols := range rel {
					keys = append(keys, k)
					// The quantile stream reads the same phase-2 pairs: the
					// maximum is x's clamped total where x counts.
					if wantMax := map[bool]float64{true: 100, false: 10}[cols["people"] == 101]; math.Abs(cols["q_p50"]-10) > 1 || math.Abs(cols["q_p100"]-wantMax) > 1 {
						t.Errorf("trial %d: %s: median %v and maximum %v, want 10 and %v", trial, k, cols["q_p50"], cols["q_p100"], wantMax)
					}
					switch cols["people"] {
					case 101:
						withX++
						if cols["events"] != 102 || cols["revenue"] != 1100 {
							t.Errorf("trial %d: %s with x: events %v revenue %v, want 102 and 1100 (Linf 3, clamp 100)", trial, k, cols["events"], cols["revenue"])
						}
					case 100:
						if cols["events"] != 100 || cols["revenue"] != 1000 {
							t.Errorf("trial %d: %s without x: events %v revenue %v, want 100 and 1000", trial, k, cols["events"], cols["revenue"])
						}
					default:
						t.Errorf("trial %d: %s has %v people, want 100 or 101", trial, k, cols["people"])
					}
				}
				slices.Sort(keys)
				var want []string
				for p := 1; p <= big; p++ {
					want = append(want, fmt.Sprintf("t/b%d", p))
				}
				if !slices.Equal(keys, want) {
					t.Fatalf("trial %d: released %v, want %v", trial, keys, want)
				}
				if withX != min(big, 5) {
					t.Errorf("trial %d: x counts in %d of the %d selected partitions, want min(%d, L0 5) = %d", trial, withX, big, big, min(big, 5))
				}
			}
		})
	}
}

// TestTwoPhaseBoundingProperties checks phase 2 on random inputs and random
// selections, through each bounding path of TestBoundingProperties: the
// pairs phase 2 keeps (phase-1 pairs of the units not affected, the others
// bounded again from the input) are exactly those of bounding every unit
// again among the selected partitions; each unit keeps min(L0, its selected
// partitions), all of them selected, including every selected partition it
// kept in phase 1; and the released statistics count these pairs.
func TestTwoPhaseBoundingProperties(t *testing.T) {
	paths := []struct {
		name     string
		numeric  bool
		weakHash bool
		ties     bool
	}{
		{name: "hashed"}, {name: "collisions", weakHash: true}, {name: "rank_ties", ties: true}, {name: "integer", numeric: true},
	}
	ctx := context.Background()
	for seed := uint64(1); seed <= 5; seed++ {
		for _, path := range paths {
			r := rand.New(rand.NewPCG(seed, 7))
			l0 := 1 + r.IntN(4)
			t.Run(fmt.Sprintf("%s/seed%d_L0=%d", path.name, seed, l0), func(t *testing.T) {
				dir := t.TempDir()
				tr := randomEvents(t, r, dir, 300, 8, 3, path.numeric)
				eng, qp := openPlanWith(t, loadBoundingJob(t, dir, l0, 2, 0, 100), r.Uint64(), func(qp *queryPlan) {
					if path.weakHash {
						qp.unitHash = "hash(" + colUnit + ") % 3"
					}
				})
				if path.ties {
					qp.partitions[0] = 1 << 62 // the rank key keeps 1 random bit
					for _, s := range qp.preparedStatsSQL(0) {
						if err := eng.Exec(ctx, s); err != nil {
							t.Fatal(err)
						}
					}
				}
				// A random half of the partitions is selected.
				var all, sel []string
				for k := range tr.rows {
					if !slices.Contains(all, k.g) {
						all = append(all, k.g)
					}
				}
				slices.Sort(all)
				for _, g := range all {
					if r.IntN(2) == 0 {
						sel = append(sel, g)
					}
				}
				lits := []string{"NULL"}
				for _, g := range sel {
					lits = append(lits, lit(g))
				}
				if err := eng.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT %s FROM %s WHERE g IN (%s)",
					selectedTable(0), colPid, dictTable(0), strings.Join(lits, ", "))); err != nil {
					t.Fatal(err)
				}
				if err := eng.Exec(ctx, qp.affectedSQL(0)); err != nil {
					t.Fatal(err)
				}
				rows, err := eng.QueryRows(ctx, "SELECT count(*) > 0 FROM "+affectedTable(0))
				if err != nil {
					t.Fatal(err)
				}
				qp.rebound[0] = rows[0][0].(bool)

				// Incremental phase 2 equals bounding everyone again.
				phase2 := "(" + qp.reboundSQL(0, qp.rebound[0]) + ")"
				samePairs(t, eng, phase2, "("+qp.pairsSQL(0, bounding{parts: selectedTable(0)})+")")

				// Per unit: min(L0, selected partitions), all selected,
				// every selected phase-1 partition kept.
				units := unitNames(t, eng, qp)
				kept := pairSet(t, eng, qp, phase2, units)
				before := pairSet(t, eng, qp, "SELECT * FROM "+pairsTable(0), units)
				perUnit := map[string]int{}
				for k := range kept {
					perUnit[k.unit]++
					if !slices.Contains(sel, k.g) {
						t.Errorf("phase 2 keeps %v, not selected", k)
					}
				}
				for k := range before {
					if slices.Contains(sel, k.g) && !kept[k] {
						t.Errorf("%v was kept in phase 1 and selected, but not kept in phase 2", k)
					}
				}
				selectedOf := map[string]int{}
				for k := range tr.rows {
					if slices.Contains(sel, k.g) {
						selectedOf[k.unit]++
					}
				}
				for unit, n := range selectedOf {
					if perUnit[unit] != min(n, l0) {
						t.Errorf("%s keeps %d partitions in phase 2, has %d selected, want min(n, L0 %d) = %d", unit, perUnit[unit], n, l0, min(n, l0))
					}
				}
				// The released statistics: one row per selected partition,
				// its unit count that of the phase-2 pairs.
				if qp.rebound[0] {
					if err := eng.Exec(ctx, qp.selectedStatsSQL(0)); err != nil {
						t.Fatal(err)
					}
				}
				rel, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT g, %s FROM (%s)", q("__units"), qp.releaseSQL(0, qp.selectedStats(0))))
				if err != nil {
					t.Fatal(err)
				}
				perPart := map[string]int64{}
				for k := range kept {
					perPart[k.g]++
				}
				if len(rel) != len(sel) {
					t.Errorf("released %d partitions, want the %d selected", len(rel), len(sel))
				}
				for _, row := range rel {
					if g := row[0].(string); row[1].(int64) != perPart[g] {
						t.Errorf("partition %s: %v units released, want %d", g, row[1], perPart[g])
					}
				}
			})
		}
	}
}

// samePairs checks that two relations of bounded pairs hold the same
// (__ukey, __pid, __rows, __t0) rows.
func samePairs(t *testing.T, eng *DB, got, want string) {
	t.Helper()
	cols := fmt.Sprintf("CAST(%s AS VARCHAR), %s, %s, __t0", colUkey, colPid, colRows)
	rows, err := eng.QueryRows(context.Background(), fmt.Sprintf(
		"SELECT count(*) FROM ((SELECT %[1]s FROM %[2]s EXCEPT ALL SELECT %[1]s FROM %[3]s) UNION ALL (SELECT %[1]s FROM %[3]s EXCEPT ALL SELECT %[1]s FROM %[2]s))",
		cols, got, want))
	if err != nil {
		t.Fatal(err)
	}
	if n := rows[0][0].(int64); n != 0 {
		t.Errorf("%d pairs differ between %s and %s", n, got, want)
	}
}

// unitNames maps output 0's window keys to the units' text.
func unitNames(t *testing.T, eng *DB, qp *queryPlan) map[string]string {
	t.Helper()
	ukey, _ := qp.unitKey(0)
	rows, err := eng.QueryRows(context.Background(), fmt.Sprintf("SELECT DISTINCT CAST(%s AS VARCHAR), CAST(%s AS VARCHAR) FROM %s", ukey, colUnit, viewClean))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r[0].(string)] = r[1].(string)
	}
	return out
}

// pairSet reads a relation of output 0's bounded pairs as (unit, key) pairs.
func pairSet(t *testing.T, eng *DB, qp *queryPlan, pairs string, units map[string]string) map[pairKey]bool {
	t.Helper()
	rows, err := eng.QueryRows(context.Background(), fmt.Sprintf("SELECT CAST(%s AS VARCHAR), g FROM (%s)", colUkey, qp.withKeys(0, pairs)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[pairKey]bool{}
	for _, r := range rows {
		out[pairKey{units[r[0].(string)], r[1].(string)}] = true
	}
	return out
}
