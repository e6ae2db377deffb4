package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
	for _, args := range [][]string{{"run", "--dry-run", path}, {"run", "--verbose", path}} {
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

// thinJob has, at epsilon 0.5 split three ways, an output whose keys come
// from DP partition selection (a row needs about 142 people for a 50%
// chance), one that selects through the count (about 87) and one with
// public partitions.
const thinJob = `version: 1
name: cli_thin
dataset: cli_events
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: ok}
privacy: {epsilon: 0.5, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - {name: selected, group_by: [campaign], metrics: [{name: people, type: count_units}]}
  - {name: counted, group_by: [campaign], selection: count_threshold, metrics: [{name: people, type: count_units}]}
  - {name: listed, group_by: [campaign], public_partitions: {campaign: [c0, c1]}, metrics: [{name: people, type: count_units}]}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// spreadEvents has 48 campaigns c0..c47; campaign c0 has first people and
// every other campaign 3, one row each.
func spreadEvents(first int) string {
	var b strings.Builder
	b.WriteString("user_id,campaign,ok\n")
	for c := range 48 {
		n := 3
		if c == 0 {
			n = first
		}
		for u := range n {
			fmt.Fprintf(&b, "u%d_%d,c%d,true\n", c, u, c)
		}
	}
	return b.String()
}

// thinWarning is the whole warning about an output whose partitions all
// fall short: the rule, the people needed (from the plan) and L0; no other
// number, so no per-partition count can appear in it.
var thinWarning = regexp.MustCompile(`output (\w+) is likely to release nothing: a row needs about (\d+) people for a 50% chance of release ` +
	`and no partition of the input has that many \(people counted after bounding each to 1 of the output's partitions\); ` +
	`raise privacy.epsilon or this output's share, coarsen group_by, or list public_partitions \(privagg plan shows the people needed\)`)

// run warns, before anything is charged, about an output whose input has
// enough usable rows but spreads its people over 48 partitions of 3, none
// near the people a row needs; it does not when one partition has enough
// people, and never about public partitions. run --dry-run never gives this
// rule (audit 2, L4): its yes/no is a non-DP fact about the data, and a dry
// run is free, repeatable and leaves no run report.
func TestWarnThinPartitions(t *testing.T) {
	path := writeJobDir(t, thinJob, spreadEvents(3))
	ledger := filepath.Join(filepath.Dir(path), "ledger.duckdb")
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "r"); code != 0 {
		t.Fatal(stderr)
	}
	for _, args := range [][]string{{"run", "--dry-run", path}, {"run", "--verbose", path}} {
		code, _, stderr := cli(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var warned []string
		for _, m := range thinWarning.FindAllStringSubmatch(stderr, -1) {
			warned = append(warned, m[1])
			if need, _ := strconv.Atoi(m[2]); need <= 3 {
				t.Errorf("%v: output %s needs %d people, want more than the 3 of every partition", args, m[1], need)
			}
		}
		want := []string{"selected", "counted"}
		if args[1] == "--dry-run" {
			want = nil
		}
		if !slices.Equal(warned, want) {
			t.Errorf("%v: warned about %v, want %v:\n%s", args, warned, want, stderr)
		}
		if strings.Contains(stderr, "usable rows") {
			t.Errorf("%v: the usable-rows rule fired for 144 usable rows:\n%s", args, stderr)
		}
		// Before the budget is reserved (run logs the reservation).
		if w, r := strings.Index(stderr, "is likely to release nothing"), strings.Index(stderr, "budget reserved"); args[1] == "--verbose" && (r < 0 || w > r) {
			t.Errorf("%v: warning at %d, budget reserved at %d:\n%s", args, w, r, stderr)
		}
	}

	// One partition with 200 people: some row can be released.
	path = writeJobDir(t, thinJob, spreadEvents(200))
	for _, args := range [][]string{{"run", "--dry-run", path}, {"run", path}} {
		code, _, stderr := cli(t, append([]string{"--ledger", ledger}, args...)...)
		if code != 0 || strings.Contains(stderr, "likely to release nothing") {
			t.Errorf("%v: exit %d, want 0 without a warning:\n%s", args, code, stderr)
		}
	}
}
