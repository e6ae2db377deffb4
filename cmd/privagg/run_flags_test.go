package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setupRun writes runJob and its events into a fresh folder, sets a budget in
// its ledger and returns the folder.
func setupRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"job.yaml":   runJob,
		"events.csv": "email,user_id,campaign,ok\nx@y.z,u1,a,true\nw@y.z,u2,b,true\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errs := runBudget(t, "--ledger", filepath.Join(dir, "ledger.duckdb"), "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "test budget"); code != 0 {
		t.Fatalf("budget set: %s", errs)
	}
	return dir
}

// TestRunFlagRules: run's flags follow the job file's rules, and are
// refused (exit 2, naming the flag, the value and the rule) before anything
// is read or written: the release id rule of the ledger, the memory limit
// rule DuckDB applies, and the path rules against output.dir.
func TestRunFlagRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		// A job file that does not exist: the flag is refused before it is read.
		{"release id", []string{"run", "--release-id", "_x", "missing.yaml"},
			"--release-id: _x must be 1-128 characters"},
		{"release id, job file", []string{"run", "--release-id", "_x", "job.yaml"},
			"--release-id: _x must be 1-128 characters"},
		{"memory limit percent, job file", []string{"run", "--memory-limit", "80%", "job.yaml"},
			"--memory-limit: 80% must be a size such as 4GB"},
		{"memory limit percent", []string{"run", "--memory-limit", "80%", "missing.yaml"},
			"--memory-limit: 80% must be a size such as 4GB"},
		{"memory limit unit", []string{"run", "--memory-limit", "4Gi", "missing.yaml"},
			"--memory-limit: 4Gi must be a size such as 4GB"},
		{"ledger in output.dir", []string{"--ledger", "out/ledger.duckdb", "run", "job.yaml"},
			"/out/ledger.duckdb must not be inside output.dir"},
		{"temp dir in output.dir", []string{"run", "--temp-dir", "out/spill", "job.yaml"},
			"--temp-dir: out/spill must not be inside output.dir"},
		{"plan: ledger in output.dir", []string{"--ledger", "out/ledger.duckdb", "plan", "job.yaml"},
			"/out/ledger.duckdb must not be inside output.dir"},
		{"validate: ledger in output.dir", []string{"--ledger", "out/ledger.duckdb", "validate", "job.yaml"},
			"/out/ledger.duckdb must not be inside output.dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := setupRun(t)
			t.Chdir(dir)
			code, out, errs := runBudget(t, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out, errs)
			}
			if !strings.Contains(errs, tc.stderr) {
				t.Errorf("stderr %q lacks %q", errs, tc.stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
				t.Errorf("output.dir exists after a refused flag (err %v)", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "privagg-runs")); !os.IsNotExist(err) {
				t.Errorf("a run report was written for a refused flag (err %v)", err)
			}
		})
	}
}

// TestRunMemoryLimitFlag4G: a memory limit DuckDB accepts runs, whether
// written 4GB or 4G.
func TestRunMemoryLimitFlag4G(t *testing.T) {
	for _, limit := range []string{"4GB", "4G"} {
		dir := setupRun(t)
		code, out, errs := runBudget(t, "run", "--memory-limit", limit, filepath.Join(dir, "job.yaml"))
		if code != 0 {
			t.Fatalf("--memory-limit %s: exit %d\nstdout: %s\nstderr: %s", limit, code, out, errs)
		}
	}
}
