package main

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// consistencyJob releases weekly rows and their per-campaign rollup, with
// people <= events in both (docs/outputs.md, "Consistent tables").
const consistencyJob = `version: 1
name: cli_consistency
dataset: cli_consistency
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: ok}
privacy: {epsilon: 1, k: 1, max_partitions_per_unit: 2}
outputs:
  - name: weekly
    group_by: [campaign, week]
    public_partitions: {campaign: [a, b, c], week: [w1, w2, w3]}
    consistency: {units_le_rows: true}
    metrics: &metrics
      - {name: events, type: count, max_per_unit: 2}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 100}
  - name: by_campaign
    group_by: [campaign]
    public_partitions: {campaign: [a, b, c]}
    consistency: {rollup_of: weekly, units_le_rows: true}
    metrics: *metrics
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// consistencyEvents has 200 people over three campaigns and three weeks, a
// few rows each.
func consistencyEvents() string {
	var b strings.Builder
	b.WriteString("user_id,campaign,week,revenue,ok\n")
	for i := range 600 {
		u := i % 200
		b.WriteString("u" + strconv.Itoa(u) + "," + string(rune('a'+u%3)) + ",w" + strconv.Itoa(1+i%3) + "," +
			strconv.Itoa(i*7%90) + ",true\n")
	}
	return b.String()
}

// readReleased reads a released CSV into its header and rows.
func readReleased(t *testing.T, path string) (map[string]int, [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: %d rows, %v", path, len(rows), err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	return col, rows[1:]
}

func TestRunConsistentRollup(t *testing.T) {
	path := writeJobDir(t, consistencyJob, consistencyEvents())
	dir := filepath.Dir(path)
	if code, _, stderr := cli(t, "--ledger", filepath.Join(dir, "ledger.duckdb"), "budget", "set", "cli_consistency", "--epsilon", "5", "--reason", "test"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := cli(t, "run", path); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	num := func(row []string, i int) float64 {
		t.Helper()
		v, err := strconv.ParseFloat(row[i], 64)
		if err != nil {
			t.Fatalf("field %q: %v", row[i], err)
		}
		return v
	}
	sums := map[string][2]float64{}
	for _, name := range []string{"weekly", "by_campaign"} {
		col, rows := readReleased(t, filepath.Join(dir, "out", name+".csv"))
		for _, row := range rows {
			events, people, revenue := num(row, col["events"]), num(row, col["people"]), num(row, col["revenue"])
			if events < 0 || people < 0 || revenue < 0 || events != math.Trunc(events) || people != math.Trunc(people) {
				t.Errorf("%s %v: counts must be non-negative integers and revenue >= 0", name, row)
			}
			if people > events {
				t.Errorf("%s %v: people %v > events %v", name, row, people, events)
			}
			c := row[col["campaign"]]
			if name == "weekly" {
				s := sums[c]
				sums[c] = [2]float64{s[0] + events, s[1] + revenue}
				continue
			}
			if events != sums[c][0] {
				t.Errorf("by_campaign %s: events %v, its weeks sum to %v", c, events, sums[c][0])
			}
			if math.Abs(revenue-sums[c][1]) > 1e-9*math.Max(1, revenue) {
				t.Errorf("by_campaign %s: revenue %v, its weeks sum to %v", c, revenue, sums[c][1])
			}
		}
	}
	if len(sums) != 3 {
		t.Errorf("weekly campaigns = %v, want a, b and c", sums)
	}
}

func TestValidateConsistencyNamesTheKey(t *testing.T) {
	job := strings.Replace(consistencyJob, "    public_partitions: {campaign: [a, b, c], week: [w1, w2, w3]}\n", "", 1)
	path := writeJobDir(t, job, consistencyEvents())
	code, _, stderr := cli(t, "validate", path)
	want := `outputs[1].consistency.rollup_of: "weekly" needs the parent's keys to be public`
	if code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("validate: exit %d, stderr %q, want %q", code, stderr, want)
	}
}
