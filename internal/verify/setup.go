package verify

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// SetupJob writes the job and input into a temp folder, sets a budget and
// returns the loaded job.
func SetupJob(t *testing.T, jobYAML, events string, budget float64) *job.Job {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("events.csv", events)
	write("job.yaml", jobYAML)
	j, err := job.LoadJob(filepath.Join(dir, "job.yaml"))
	if err != nil {
		t.Fatalf("LoadJob: %v", err)
	}
	if budget > 0 {
		if err := os.MkdirAll(filepath.Dir(j.Ledger), 0o755); err != nil {
			t.Fatal(err)
		}
		led, err := privacy.OpenLedger(j.Ledger)
		if err != nil {
			t.Fatal(err)
		}
		if err := led.SetBudget(context.Background(), j.Dataset, budget, 1e-3, "none"); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// RejectsJob is the rejects listing's test job, shared by the embedded
// engine's and the Beam engine's tests so that both list the rejected rows
// of one job: it can reject a row for each of its columns (the privacy
// unit, the consent column, the source of a derived key and a metric's
// column).
const RejectsJob = `version: 1
name: rejects
dataset: d
purpose: marketing
input: {path: events.csv, max_reject_fraction: 0.9}
privacy_unit: user_id
consent: {column: consent_marketing}
columns:
  week: {from: ts, truncate: week}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: by_week
    group_by: [week]
    public_partitions: {week: ["2026-01-05"]}
    metrics: [{name: revenue, type: sum, column: revenue, min: 0, max: 100}]
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`
