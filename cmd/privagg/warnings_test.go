package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// plan shows, per output with DP partition selection, the people a row
// needs for a 50% and a 95% chance of release, in text and JSON; run
// --dry-run and run warn, before anything is charged, about outputs whose
// rows cannot reach that many people (the input has fewer usable rows),
// and never about public partitions. The warning carries no per-key count.
func TestWarnLikelyEmptyOutputs(t *testing.T) {
	path := writeJobDir(t, threeWayJob, goodEvents)
	ledger := filepath.Join(filepath.Dir(path), "ledger.duckdb")
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "r"); code != 0 {
		t.Fatal(stderr)
	}
	_, stdout, _ := cli(t, "plan", path)
	if !strings.Contains(stdout, "a row needs") || !strings.Contains(stdout, "for a 50% and") {
		t.Errorf("plan lacks the people needed per row:\n%s", stdout)
	}
	_, stdout, _ = cli(t, "plan", "--format", "json", path)
	if !strings.Contains(stdout, `"people_for_50pct_release"`) || !strings.Contains(stdout, `"people_for_95pct_release"`) {
		t.Errorf("plan --format json lacks the people needed per row:\n%s", stdout)
	}
	for _, args := range [][]string{{"run", "--dry-run", path}, {"run", path}} {
		code, _, stderr := cli(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, out := range []string{"a", "c"} {
			if !strings.Contains(stderr, "output "+out+" is likely to release nothing") {
				t.Errorf("%v: no warning about output %s:\n%s", args, out, stderr)
			}
		}
		if strings.Contains(stderr, "output b is likely") {
			t.Errorf("%v: warns about public partitions:\n%s", args, stderr)
		}
		if !strings.Contains(stderr, "the input has 2 usable rows") {
			t.Errorf("%v: warning lacks the input-level count:\n%s", args, stderr)
		}
	}
	// Only public partitions: nothing to warn about.
	public := strings.Replace(threeWayJob, "  - {name: a,", "  #", 1)
	public = strings.Replace(public, "  - {name: c,", "  #", 1)
	path = writeJobDir(t, public, goodEvents)
	if code, _, stderr := cli(t, "--ledger", ledger, "run", "--dry-run", path); code != 0 || strings.Contains(stderr, "likely to release nothing") {
		t.Errorf("public partitions only: exit %d:\n%s", code, stderr)
	}
}

// A column that looks like a direct identifier, used but not listed under
// identifiers, is a validate warning (stderr, exit 0) naming the key path;
// the privacy unit and ordinary names are not.
func TestValidateWarnsIdentifierLikeColumns(t *testing.T) {
	events := "email,user_id,client_ip,campaign_name,ok\nx@y.z,u1,1.2.3.4,a,true\n"
	job := strings.Replace(runJob, "group_by: [campaign]\n    public_partitions: {campaign: [a, b]}",
		"group_by: [client_ip, campaign_name]\n    public_partitions: {client_ip: [x], campaign_name: [a]}", 1)
	code, _, stderr := cli(t, "validate", writeJobDir(t, job, events))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := `privagg: warning: outputs[0].group_by[0]: column "client_ip" looks like a direct identifier`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	for _, quiet := range []string{`"campaign_name"`, `"user_id"`} {
		if strings.Contains(stderr, quiet) {
			t.Errorf("warns about %s:\n%s", quiet, stderr)
		}
	}
}
