package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

const typoJob = `version: 1
name: typo
dataset: d
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: ok}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - {name: people, group_by: [countri], metrics: [{name: people, type: count_units}]}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// privagg-beam, which privagg run --engine beam executes, refuses a
// group_by typo with the embedded engine's message (key path, "did you
// mean") and exit code 2.
func TestGroupByTypoAsEmbedded(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"job.yaml": typoJob, "events.csv": "user_id,country,ok\nu1,fr,true\nu2,de,true\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "job.yaml")
	j, err := job.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	led, err := privacy.OpenLedger(j.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	if err := led.SetBudget(context.Background(), j.Dataset, 5, 1e-5, "none"); err != nil {
		t.Fatal(err)
	}
	_, embedded := pipeline.Run(context.Background(), j, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{})})
	if code := pipeline.ExitCode(embedded); code != pipeline.ExitConfig {
		t.Fatalf("embedded engine: exit %d (%v), want %d", code, embedded, pipeline.ExitConfig)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{path}, &stdout, &stderr); code != pipeline.ExitConfig {
		t.Errorf("privagg-beam: exit %d, want %d:\n%s", code, pipeline.ExitConfig, stderr.String())
	}
	want := "privagg-beam: " + embedded.Error() + "\n"
	if got := stderr.String(); !strings.HasSuffix(got, want) {
		t.Errorf("privagg-beam stderr\n  %q\nwant it to end with the embedded engine's error\n  %q", got, want)
	}
	if !strings.Contains(embedded.Error(), `outputs[0].group_by[0]: "countri" is not a column of the input`) ||
		!strings.Contains(embedded.Error(), `did you mean "country"?`) {
		t.Errorf("embedded error %q lacks the key path or the suggestion", embedded)
	}
}
