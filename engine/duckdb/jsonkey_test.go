package duckdb

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
)

const jsonKeyJob = `version: 1
name: jsonkey
dataset: d
purpose: p
input: {path: events.jsonl}
privacy_unit: user_id
consent: {waived: "test data"}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 5}
outputs:
  - name: o
    group_by: [store]
    metrics:
      - {name: events, type: count, max_per_unit: 10}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// TestJSONKeyValueOfAnotherType: DuckDB's JSON reader types a column from a
// sample of the first records. A raw group-by column whose later values do
// not fit that type (a word where the sample held numbers) used to become a
// NULL key without a trace: a partition of its own, made of rows that
// belong elsewhere. Like the CSV reader, which rejects such a line, the row
// is now malformed and listed with its rule; a value that casts to the type
// (a number written as a string) is read in it.
func TestJSONKeyValueOfAnotherType(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	const sampled = 25000 // beyond DuckDB's JSON sample of 20,480 records
	for i := range sampled {
		if err := enc.Encode(map[string]any{"user_id": "u" + string(rune('a'+i%20)), "store": i % 3}); err != nil {
			t.Fatal(err)
		}
	}
	for _, store := range []any{"A1", "2", true} {
		if err := enc.Encode(map[string]any{"user_id": "ua", "store": store}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "events.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	jobFile := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(jobFile, []byte(jsonKeyJob), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := job.LoadJob(jobFile)
	if err != nil {
		t.Fatal(err)
	}
	eng, qp := openPlan(t, j, 1)
	rows, err := eng.QueryRows(context.Background(), "SELECT CAST(store AS VARCHAR), count(*)::BIGINT FROM "+viewClean+" GROUP BY ALL ORDER BY 1 NULLS LAST")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		k, ok := r[0].(string)
		if !ok {
			k = "NULL"
		}
		got[k] = toInt64(r[1])
	}
	want := map[string]int64{"0": 8334, "1": 8333, "2": 8333 + 1} // 25,000 records by i % 3, and "2"
	if len(got) != len(want) {
		t.Errorf("clean rows by store = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("store %s: %d clean rows, want %d (all: %v)", k, got[k], n, got)
		}
	}
	bad, err := eng.QueryRows(context.Background(), "SELECT count(*)::BIGINT FROM "+viewEvents+" WHERE "+colBad)
	if err != nil {
		t.Fatal(err)
	}
	if n := toInt64(bad[0][0]); n != 2 {
		t.Errorf("%d malformed rows, want 2 (\"A1\" and true)", n)
	}
	var rule string
	for _, r := range qp.malformedRules() {
		if r.column == "store" {
			rule = r.rule
		}
	}
	if rule != engine.RuleNotOfType("BIGINT") {
		t.Errorf("store's rule = %q, want %q", rule, engine.RuleNotOfType("BIGINT"))
	}
}
