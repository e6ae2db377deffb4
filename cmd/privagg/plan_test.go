package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanCommand: plan reads no data (the input does not even exist), shows
// the split and expected error, compares budgets with --what-if, gives JSON
// to tooling, and exits 3 when the job does not fit the ledger.
func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(strings.Replace(runJob, "events.csv", "never-read.csv", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger.duckdb")

	code, _, errs := runBudget(t, "plan", job)
	if code != 3 || !strings.Contains(errs, "budget refused") {
		t.Errorf("plan without a budget: exit %d, stderr %q; want 3", code, errs)
	}

	if code, _, errs := runBudget(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "1.5", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: %s", errs)
	}
	code, out, errs := runBudget(t, "--ledger", ledger, "plan", job)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errs)
	}
	for _, want := range []string{"a run spends epsilon 1", "people  count_units", "2.996", "before: epsilon 1.5 of 1.5 remaining", "after:  epsilon 0.5 remaining"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = runBudget(t, "--ledger", ledger, "plan", job, "--format", "json")
	var r struct {
		Spend   struct{ Epsilon float64 }
		Outputs []struct {
			Metrics []struct {
				Name string  `json:"name"`
				CI95 float64 `json:"ci95"`
			} `json:"metrics"`
		} `json:"outputs"`
		Ledger struct {
			Fits bool `json:"fits"`
		} `json:"ledger"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("plan --format json: exit %d, %v\n%s", code, err, out)
	}
	// One count_units metric over public keys gets all of epsilon 1 with L0 1:
	// Laplace scale 1, 95% half-width ln(20) = 2.996.
	if !r.Ledger.Fits || r.Spend.Epsilon != 1 || len(r.Outputs) != 1 || r.Outputs[0].Metrics[0].CI95 < 2.99 || r.Outputs[0].Metrics[0].CI95 > 3.0 {
		t.Errorf("plan json = %+v", r)
	}

	code, out, _ = runBudget(t, "--ledger", ledger, "plan", job, "--what-if", "epsilon=0.5,1,2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[3], "2 ") || !strings.Contains(lines[3], "false") {
		t.Errorf("what-if: exit %d\n%s", code, out)
	}

	// Spend the budget down: the same job no longer fits.
	if code, _, errs := runBudget(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "0.5", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: %s", errs)
	}
	if code, out, _ := runBudget(t, "--ledger", ledger, "plan", job); code != 3 || !strings.Contains(out, "does NOT fit") {
		t.Errorf("plan over budget: exit %d\n%s", code, out)
	}
	if code, _, _ := runBudget(t, "plan", job, "--what-if", "epsilon=zero"); code != 2 {
		t.Errorf("bad --what-if: exit %d, want 2", code)
	}

	// A consent waiver is pointed out on stderr, also with JSON output.
	waived := filepath.Join(dir, "waived.yaml")
	if err := os.WriteFile(waived, []byte(strings.Replace(strings.Replace(runJob, "events.csv", "never-read.csv", 1),
		"consent: {column: ok}", `consent: {waived: "public data"}`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"plan", waived}, {"plan", waived, "--format", "json"}} {
		_, out, errs := runBudget(t, append([]string{"--ledger", ledger}, args...)...)
		if !strings.Contains(errs, `privagg: warning: consent is waived ("public data")`) || strings.Contains(out, "warning") {
			t.Errorf("%v: stdout %q, stderr %q; want the waiver warning on stderr only", args, out, errs)
		}
	}
}
