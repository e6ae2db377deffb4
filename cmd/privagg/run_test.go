package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const runJob = `version: 1
name: cli_run
dataset: cli_events
purpose: marketing
input: {path: events.csv, max_reject_fraction: 0.3}
privacy_unit: user_id
identifiers: [email]
consent: {column: ok}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: people
    group_by: [campaign]
    public_partitions: {campaign: [a, b]}
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// TestRunExitCodes runs the command line and checks the documented exit codes
// and that failures leave output.dir empty and print no input values.
func TestRunExitCodes(t *testing.T) {
	setup := func(t *testing.T, job, events string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(job), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(events), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	good := "email,user_id,campaign,ok\nx@y.z,u1,a,true\nw@y.z,u2,b,true\n"
	for _, tc := range []struct {
		name   string
		job    string
		events string
		budget bool
		code   int
		stderr string
	}{
		{"published", runJob, good, true, 0, ""},
		{"no budget", runJob, good, false, 3, "has no budget"},
		{"config error", strings.Replace(runJob, "epsilon: 1", "epsilon: -1", 1), good, true, 2, "privacy.epsilon: -1"},
		{"unknown key", strings.Replace(runJob, "name: cli_run", "name: cli_run\nnmae: x", 1), good, true, 2, "nmae"},
		{"input rejected", runJob, "email,user_id,campaign,ok\nx@y.z,,a,true\nw@y.z,,b,true\n", true, 4, "input rejected"},
		{"missing input", strings.Replace(runJob, "events.csv", "none.csv", 1), good, true, 4, "matches no file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := setup(t, tc.job, tc.events)
			ledger := filepath.Join(dir, "ledger.duckdb")
			if tc.budget {
				if code, _, errs := runBudget(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "test"); code != 0 {
					t.Fatalf("budget set: %s", errs)
				}
			}
			code, out, errs := runBudget(t, "run", filepath.Join(dir, "job.yaml"))
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			if !strings.Contains(errs, tc.stderr) {
				t.Errorf("stderr %q lacks %q", errs, tc.stderr)
			}
			for _, secret := range []string{"x@y.z", "w@y.z", "u1", "u2"} {
				if strings.Contains(out+errs, secret) {
					t.Errorf("output quotes input value %q", secret)
				}
			}
			entries, _ := os.ReadDir(filepath.Join(dir, "out"))
			if tc.code == 0 && len(entries) != 3 {
				t.Errorf("published %d entries, want 2 files and history/", len(entries))
			}
			if tc.code != 0 && len(entries) != 0 {
				t.Errorf("failed run left %d files in output.dir", len(entries))
			}
		})
	}
}

// TestUsageExitCode: unknown commands and flags are usage errors (exit 2).
func TestUsageExitCode(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"run"}, {"run", "a.yaml", "--no-such-flag"}, {"--log-format", "xml", "version"}} {
		if code, _, errs := runBudget(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
}
