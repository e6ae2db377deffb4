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
