package duckdb

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/privagg/privagg/job"
)

const boundingJob = `version: 1
name: bounding
dataset: d
purpose: p
input: {path: events.csv}
privacy_unit: user_id
consent: {column: ok}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: %d}
outputs:
  - name: o
    group_by: [g]
    metrics:
      - {name: events, type: count, max_per_unit: %d}
      - {name: revenue, type: sum, column: v, min: %g, max: %g}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

type pairKey struct{ unit, g string }

type truth struct {
	rows  map[pairKey]int64
	total map[pairKey]float64
	parts map[string]int // partitions per unit
}

// randomEvents writes random events: units with 1..maxParts partitions and
// 1..maxRows rows per partition, values far beyond the clamps, rows shuffled.
//
// Units are named u0, u1, ... (a text column), or 0, 1, ... with numeric.
func randomEvents(t *testing.T, r *rand.Rand, dir string, units, maxParts, maxRows int, numeric bool) truth {
	t.Helper()
	tr := truth{rows: map[pairKey]int64{}, total: map[pairKey]float64{}, parts: map[string]int{}}
	var lines []string
	for u := range units {
		unit := fmt.Sprintf("u%d", u)
		if numeric {
			unit = fmt.Sprint(u)
		}
		nParts := 1 + r.IntN(maxParts)
		perm := r.Perm(maxParts * 2)
		tr.parts[unit] = nParts
		for p := range nParts {
			g := fmt.Sprintf("g%02d", perm[p])
			for range 1 + r.IntN(maxRows) {
				v := math.Round((r.Float64()*2-0.5)*1000) / 4 // -125 .. 375, quarter steps: exact in float64
				k := pairKey{unit, g}
				tr.rows[k]++
				tr.total[k] += v
				lines = append(lines, fmt.Sprintf("%s,%s,%v,true", unit, g, v))
			}
		}
	}
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	data := "user_id,g,v,ok\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestBoundingProperties checks, for random inputs and bounds, that whatever
// the input no person keeps more than L0 partitions, a person with at most
// L0 partitions keeps all of them, the kept pairs are real, and the
// aggregates count at most Linf rows per person and partition and clamp each
// person's total. It runs every input through each bounding path:
//
//   - hashed: text units, partitioned by their hash, checked for collisions;
//   - collisions: the same with a unit hash so weak that units do collide,
//     which must be detected and bounded by the unit itself;
//   - rank ties: a rank key with (almost) no random bits, so every unit's
//     partitions tie on the hash and only the partition id separates them;
//   - integer: numeric units, partitioned by the unit itself.
func TestBoundingProperties(t *testing.T) {
	paths := []struct {
		name     string
		numeric  bool
		weakHash bool // unitHash with 3 values
		ties     bool // rank key without random bits
	}{
		{name: "hashed"}, {name: "collisions", weakHash: true}, {name: "rank_ties", ties: true}, {name: "integer", numeric: true},
	}
	for seed := uint64(1); seed <= 6; seed++ {
		for _, path := range paths {
			r := rand.New(rand.NewPCG(seed, 99))
			l0, linf := 1+r.IntN(4), 1+r.IntN(3)
			lo, hi := float64(r.IntN(50))-25, 50+float64(r.IntN(100))
			t.Run(fmt.Sprintf("%s/seed%d_L0=%d_Linf=%d", path.name, seed, l0, linf), func(t *testing.T) {
				dir := t.TempDir()
				tr := randomEvents(t, r, dir, 300, 6, 5, path.numeric)
				job := loadBoundingJob(t, dir, l0, linf, lo, hi)
				eng, qp := openPlanWith(t, job, r.Uint64(), func(qp *queryPlan) {
					if path.weakHash {
						qp.unitHash = "hash(" + colUnit + ") % 3"
					}
				})
				if qp.unitExact[0] != path.weakHash {
					t.Fatalf("unitExact = %v after preparing, want %v (a collision must switch to exact unit keys, and only a collision)", qp.unitExact[0], path.weakHash)
				}
				if path.ties {
					qp.partitions[0] = 1 << 62 // the rank key keeps 1 random bit
				} else {
					// Phase 1 of the two-phase release keeps the same pairs
					// in its table as the bounding query streams.
					samePairs(t, eng, pairsTable(0), "("+qp.pairsSQL(0, bounding{})+")")
				}
				checkBounding(t, eng, qp, tr, l0, linf, lo, hi)
			})
		}
	}
}

// checkBounding checks output 0's bounded pairs and aggregates against the
// truth (see TestBoundingProperties).
func checkBounding(t *testing.T, eng *DB, qp *queryPlan, tr truth, l0, linf int, lo, hi float64) {
	t.Helper()
	ctx := context.Background()
	rows, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT CAST(%s AS VARCHAR), g, %s, __t0 FROM (%s)", colUnit, colRows, qp.boundedSQL(0)))
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]int{}
	wantCount := map[string]int64{}
	wantSum := map[string]float64{}
	for _, row := range rows {
		k := pairKey{row[0].(string), row[1].(string)}
		kept[k.unit]++
		if _, ok := tr.rows[k]; !ok {
			t.Fatalf("bounded pair %v is not in the input", k)
		}
		if row[2].(int64) != tr.rows[k] || row[3].(float64) != tr.total[k] {
			t.Errorf("pair %v: rows %v total %v, want %d %v", k, row[2], row[3], tr.rows[k], tr.total[k])
		}
		wantCount[k.g] += min(tr.rows[k], int64(linf))
		wantSum[k.g] += math.Min(math.Max(tr.total[k], lo), hi)
	}
	for unit, n := range tr.parts {
		if kept[unit] > l0 {
			t.Errorf("%s keeps %d partitions, L0 = %d", unit, kept[unit], l0)
		}
		if kept[unit] != min(n, l0) {
			t.Errorf("%s keeps %d of its %d partitions, want min(n, L0) = %d", unit, kept[unit], n, min(n, l0))
		}
	}
	// The aggregate query applies Linf and the clamps to the same bounded
	// rows (materialized so both reads see one L0 choice). With keys from
	// the data it releases the selected partitions: here all of them.
	if err := eng.Exec(ctx, "CREATE OR REPLACE TEMP TABLE b AS "+qp.boundedSQL(0)); err != nil {
		t.Fatal(err)
	}
	if qp.twoPhase(0) {
		if err := eng.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT %s FROM %s", selectedTable(0), colPid, dictTable(0))); err != nil {
			t.Fatal(err)
		}
	}
	rr, err := eng.QueryArrow(ctx, qp.aggregateSQL(0, "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	parts := 0
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			parts++
			g := rec.Column(0).(*array.String).Value(i)
			if got := rec.Column(2).(*array.Int64).Value(i); got != wantCount[g] {
				t.Errorf("partition %s: bounded count %d, want %d", g, got, wantCount[g])
			}
			if got := rec.Column(3).(*array.Float64).Value(i); math.Abs(got-wantSum[g]) > 1e-6 {
				t.Errorf("partition %s: clamped sum %v, want %v", g, got, wantSum[g])
			}
		}
	}
	if parts != len(wantCount) {
		t.Errorf("aggregate has %d partitions, want %d", parts, len(wantCount))
	}
}

// TestBoundingChoiceIsUniform: 3,000 people each have the same 6
// partitions, written in the same order, and keep L0 = 2. If the choice
// followed data order or key order, partitions 0 and 1 would always win. With
// a uniform choice, each partition is kept by Binomial(3000, 1/3) people
// (mean 1000); the chi-square statistic over the 6 partitions has 5 degrees
// of freedom and exceeds 36 with probability below 1e-6, so the test fails
// by chance less than once in a million runs.
func TestBoundingChoiceIsUniform(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user_id,g,v,ok\n")
	for u := range 3000 {
		for p := range 6 {
			fmt.Fprintf(&b, "u%d,g%d,1,true\n", u, p)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, qp := openPlan(t, loadBoundingJob(t, dir, 2, 1, 0, 1), secretSeed())
	rows, err := eng.QueryRows(context.Background(), fmt.Sprintf("SELECT g, count(*)::BIGINT FROM (%s) GROUP BY g", qp.boundedSQL(0)))
	if err != nil {
		t.Fatal(err)
	}
	var chi2 float64
	total := int64(0)
	for _, row := range rows {
		n := row[1].(int64)
		total += n
		chi2 += math.Pow(float64(n)-1000, 2) / 1000
	}
	if total != 6000 || len(rows) != 6 {
		t.Fatalf("kept %d pairs in %d partitions, want 6000 in 6", total, len(rows))
	}
	if chi2 > 36 {
		t.Errorf("chi-square %.1f > 36: the L0 choice is not uniform (%v)", chi2, rows)
	}
}

// TestBoundingChoiceIsUniformPerPerson: five people each have the same six
// partitions and keep L0 = 2; the bounding query runs with 1,200 secret
// seeds. For each person, each partition must be kept in about a third of
// the runs: Binomial(1200, 1/3), mean 400. A choice that is random across
// people but not for one person (a seed that only flips bits of a public
// hash keeps some pairs of partitions together) fails this; the per-person
// chi-square over the 6 partitions has 5 degrees of freedom and exceeds 36
// with probability below 1e-6, so the test fails by chance less than once in
// 200,000 runs.
func TestBoundingChoiceIsUniformPerPerson(t *testing.T) {
	const people, parts, seeds = 5, 6, 1200
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user_id,g,v,ok\n")
	for u := range people {
		for p := range parts {
			fmt.Fprintf(&b, "person-%d,g%d,1,true\n", u, p)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, qp := openPlan(t, loadBoundingJob(t, dir, 2, 1, 0, 1), secretSeed())
	kept := map[pairKey]int{}
	for range seeds {
		qp.seed = secretSeed() // the dictionary does not depend on the seed
		rows, err := eng.QueryRows(context.Background(), fmt.Sprintf("SELECT CAST(%s AS VARCHAR), g FROM (%s)", colUnit, qp.boundedSQL(0)))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != people*2 {
			t.Fatalf("kept %d pairs, want %d", len(rows), people*2)
		}
		for _, row := range rows {
			kept[pairKey{row[0].(string), row[1].(string)}]++
		}
	}
	for u := range people {
		unit := fmt.Sprintf("person-%d", u)
		var chi2 float64
		counts := make([]int, parts)
		for p := range parts {
			counts[p] = kept[pairKey{unit, fmt.Sprintf("g%d", p)}]
			chi2 += math.Pow(float64(counts[p])-400, 2) / 400
		}
		if chi2 > 36 {
			t.Errorf("%s: partitions kept %v times in %d runs (want about 400 each): chi-square %.1f > 36, the L0 choice is not uniform per person", unit, counts, seeds, chi2)
		}
	}
}

// loadBoundingJob writes boundingJob with these bounds into dir (beside its
// events.csv) and loads it.
func loadBoundingJob(t *testing.T, dir string, l0, linf int, lo, hi float64) *job.Job {
	t.Helper()
	jobFile := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(jobFile, []byte(fmt.Sprintf(boundingJob, l0, linf, lo, hi)), 0o644); err != nil {
		t.Fatal(err)
	}
	job, err := job.LoadJob(jobFile)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// openPlan opens an engine with the job's views and output tables, as Run does.
func openPlan(t *testing.T, job *job.Job, seed uint64) (*DB, *queryPlan) {
	return openPlanWith(t, job, seed, func(*queryPlan) {})
}

// openPlanWith is openPlan with a change to the plan before any table is made.
func openPlanWith(t *testing.T, job *job.Job, seed uint64, change func(*queryPlan)) (*DB, *queryPlan) {
	t.Helper()
	qp, err := newQueryPlan(job, seed)
	if err != nil {
		t.Fatal(err)
	}
	change(qp)
	eng, err := OpenDB(context.Background(), DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if err := prepareInput(context.Background(), eng, qp); err != nil {
		t.Fatal(err)
	}
	for o := range job.Outputs {
		if err := prepareOutput(context.Background(), eng, qp, o); err != nil {
			t.Fatal(err)
		}
	}
	return eng, qp
}
