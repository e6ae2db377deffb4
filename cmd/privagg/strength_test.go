package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeJobDir writes job (a job file's text) as job.yaml and events (CSV) as
// events.csv into a new folder and returns the job file's path.
func writeJobDir(t *testing.T, job, events string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "job.yaml")
}

const goodEvents = "email,user_id,campaign,ok\nx@y.z,u1,a,true\nw@y.z,u2,b,true\n"

// Weak privacy parameters (epsilon above 10, delta at or above 1e-5) need
// --allow-weak-privacy in a job file and in budget set alike.
func TestWeakPrivacyNeedsTheFlag(t *testing.T) {
	ledger := filepath.Join(t.TempDir(), "ledger.duckdb")
	code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "d", "--epsilon", "1e308", "--delta", "0.9", "--reason", "r")
	if code != 2 || !strings.Contains(stderr, "--epsilon: 1e+308 is above 10: weak privacy; pass --allow-weak-privacy") ||
		!strings.Contains(stderr, "--delta: 0.9 is at or above 0.00001: weak privacy") {
		t.Errorf("budget set 1e308/0.9: exit %d, stderr %q; want 2 naming both", code, stderr)
	}
	if _, err := os.Stat(ledger); !os.IsNotExist(err) {
		t.Errorf("a refused budget set created the ledger (%v)", err)
	}
	code, stdout, stderr := cli(t, "--ledger", ledger, "budget", "set", "d", "--epsilon", "11", "--delta", "1e-5", "--reason", "r", "--allow-weak-privacy")
	if code != 0 || !strings.Contains(stdout, "epsilon 11, delta 0.00001 (from --delta)") {
		t.Errorf("budget set --allow-weak-privacy: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// The delta it used is said, also when --delta was not given.
	code, stdout, _ = cli(t, "--ledger", ledger, "budget", "set", "e", "--epsilon", "10", "--reason", "r")
	if code != 0 || !strings.Contains(stdout, "delta 0 (the default: --delta not given;") {
		t.Errorf("budget set without --delta: exit %d, stdout %q", code, stdout)
	}

	weakJob := writeJobDir(t, strings.Replace(runJob, "{epsilon: 1, delta: 1e-6,", "{epsilon: 20, delta: 1e-5,", 1), goodEvents)
	for _, cmd := range []string{"validate", "plan", "run"} {
		code, _, stderr := cli(t, "--ledger", ledger, cmd, weakJob)
		if code != 2 || !strings.Contains(stderr, "privacy.epsilon: 20 is above 10: weak privacy") ||
			!strings.Contains(stderr, "privacy.delta: 0.00001 is at or above 0.00001") {
			t.Errorf("%s with epsilon 20, delta 1e-5: exit %d, stderr %q; want 2 naming both", cmd, code, stderr)
		}
	}
	if code, _, stderr := cli(t, "validate", weakJob, "--allow-weak-privacy"); code != 0 {
		t.Errorf("validate --allow-weak-privacy: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(weakJob), "out")); !os.IsNotExist(err) {
		t.Errorf("a refused run wrote output.dir (%v)", err)
	}
}
