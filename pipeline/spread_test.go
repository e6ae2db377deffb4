package pipeline

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
)

const spreadJob = `version: 1
name: spread
dataset: test_events
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 3}
outputs:
  - name: by_group
    group_by: [grp]
    public_partitions: {grp: [g1, g2, g3, g4]}
    metrics:
      - {name: avg, type: mean, column: revenue, min: 0, max: 100}
      - {name: var, type: variance, column: revenue, min: 0, max: 100}
      - {name: sd, type: stddev, column: revenue, min: 0, max: 100}
      - {name: sd_wide, type: stddev, column: revenue, min: -50, max: 400}
output: {dir: out, format: csv, round: none} # exact values to compare
ledger: ledger/privagg-ledger.duckdb
`

// TestStdDevEndToEnd runs a job with mean, variance and stddev through the
// embedded engine without noise, on random events (seeded): every person's
// revenue is totalled per group, clamped to the metric's bounds, and the
// released stddev must be the square root of the population variance of
// those clamped totals, and variance that variance. L0 = 3 covers every
// person's groups, so bounding keeps all rows. g4 has no data: 0.
func TestStdDevEndToEnd(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var b strings.Builder
	b.WriteString("user_id,grp,revenue,consent\n")
	totals := map[string]map[string]float64{} // group -> user -> total
	for u := range 300 {
		groups := []string{"g1", "g2", "g3"}[:1+rng.IntN(3)]
		for _, g := range groups {
			for range 1 + rng.IntN(4) {
				v := math.Round(rng.ExpFloat64()*30*100) / 100
				fmt.Fprintf(&b, "u%d,%s,%v,true\n", u, g, v)
				if totals[g] == nil {
					totals[g] = map[string]float64{}
				}
				totals[g][fmt.Sprint(u)] += v
			}
		}
	}
	job := testfixture.CSVJob(t, spreadJob, b.String(), 10)
	defer testfixture.WithNoise(t, testnoise.None{})()
	if _, err := Run(context.Background(), job, RunOptions{NewEngine: embedded, ReleaseID: "spread-1"}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	rows := readCSV(t, filepath.Join(job.Output.Dir, "by_group.csv"))
	want := []string{"grp", "avg", "avg_ci95", "var", "var_ci95", "sd", "sd_ci95", "sd_wide", "sd_wide_ci95"}
	if !slices.Equal(rows[0], want) {
		t.Fatalf("columns %v, want %v", rows[0], want)
	}
	variance := func(g string, lo, hi float64) float64 {
		var n, sum, sq float64
		for _, x := range totals[g] {
			c := math.Min(math.Max(x, lo), hi)
			n, sum, sq = n+1, sum+c, sq+c*c
		}
		if n == 0 {
			return 0
		}
		return sq/n - (sum/n)*(sum/n)
	}
	for _, r := range rows[1:] {
		g := r[0]
		col := func(name string) float64 {
			v, err := strconv.ParseFloat(r[slices.Index(want, name)], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		near := func(name string, got, want float64) {
			if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("%s %s = %v, want %v", g, name, got, want)
			}
		}
		v, wide := variance(g, 0, 100), variance(g, -50, 400)
		near("var", col("var"), v)
		near("sd", col("sd"), math.Sqrt(v))
		near("sd_wide", col("sd_wide"), math.Sqrt(wide))
		for _, ci := range []string{"avg_ci95", "var_ci95", "sd_ci95", "sd_wide_ci95"} {
			near(ci, col(ci), 0)
		}
		if g == "g4" && col("sd") != 0 {
			t.Errorf("g4 has no data, stddev %v", col("sd"))
		}
	}
	if len(rows) != 5 {
		t.Errorf("%d rows, want the 4 public groups", len(rows)-1)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
