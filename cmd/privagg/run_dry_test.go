package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// After a release is published, run --dry-run says the run will re-publish
// it at no cost, as the run then does, instead of forecasting a charge.
func TestRunDryRunPredictsRepublish(t *testing.T) {
	path := writeJobDir(t, runJob, goodEvents)
	ledger := filepath.Join(filepath.Dir(path), "ledger.duckdb")
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "r"); code != 0 {
		t.Fatal(stderr)
	}
	if code, stdout, _ := cli(t, "run", "--dry-run", path); code != 0 || !strings.Contains(stdout, "after:  epsilon 4 remaining") {
		t.Fatalf("dry run before the release: exit %d, want the charge forecast:\n%s", code, stdout)
	}
	if code, _, stderr := cli(t, "run", path); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := cli(t, "run", "--dry-run", path)
	if code != 0 || !strings.Contains(stdout, "is already published; a run re-publishes it") || !strings.Contains(stdout, "no charge (epsilon 0, delta 0)") ||
		strings.Contains(stdout, "a run spends epsilon 1") {
		t.Errorf("dry run of a published release: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = cli(t, "run", "--dry-run", "--format", "json", path)
	var v struct {
		Status, State string
		Charge        struct{ Epsilon, Delta float64 }
	}
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || code != 0 || v.Status != "re-publish" || v.State != "published" || v.Charge.Epsilon != 0 {
		t.Errorf("dry run --format json: exit %d, %v\n%s", code, err, stdout)
	}
	s := runJSON(t, path, 0)
	if s.Status != "re-published" || s.Charge.Epsilon != 0 {
		t.Errorf("the run after the dry run: %+v, want a re-publish at no cost", s)
	}
}
