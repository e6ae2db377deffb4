package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// threeWayJob splits epsilon 1 and delta 1e-6 over three outputs: every
// share is a third, the figures that print with float noise
// (0.3333333333333333, 6.666666666666666e-07) unless formatted.
const threeWayJob = `version: 1
name: cli_three
dataset: cli_events
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
identifiers: [email]
consent: {column: ok}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - {name: a, group_by: [campaign], metrics: [{name: people, type: count_units}]}
  - {name: b, group_by: [campaign], public_partitions: {campaign: [a, b]}, metrics: [{name: people, type: count_units}]}
  - {name: c, group_by: [campaign], metrics: [{name: n, type: count}, {name: people, type: count_units}]}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

var numberLiteral = regexp.MustCompile(`[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?`)

// noisyNumbers returns the numbers of s with more than
// privacy.DisplayDigits (12) significant digits, such as 0.49999999999999994
// or 0.0000006666666666666666.
func noisyNumbers(s string) []string {
	var bad []string
	for _, loc := range numberLiteral.FindAllStringIndex(s, -1) {
		if isWordByte(s, loc[0]-1) || isWordByte(s, loc[1]) {
			continue // part of a hash or an id, not a number
		}
		lit := s[loc[0]:loc[1]]
		mant, _, _ := strings.Cut(strings.ToLower(lit), "e")
		digits := strings.TrimLeft(strings.ReplaceAll(mant, ".", ""), "0")
		if strings.Contains(mant, ".") {
			digits = strings.TrimRight(digits, "0")
		}
		if len(digits) > 12 {
			bad = append(bad, lit)
		}
	}
	return bad
}

func isWordByte(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func TestNoisyNumbers(t *testing.T) {
	for s, want := range map[string]int{"0.49999999999999994": 1, "delta 0.0000006666666666666666": 1, "6.666666666666666e-07": 1,
		"0.333333333333 6.66666666667e-07 1e-06 0.5 250000 2026-11-30T00:03:28Z 2220317b1e5833799d32a3439": 0} {
		if got := noisyNumbers(s); len(got) != want {
			t.Errorf("noisyNumbers(%q) = %v, want %d", s, got, want)
		}
	}
}

// plan, run and budget show/history print every number the same way,
// without float noise, in text and JSON; remaining budgets are exact
// (1.5 - 1 is 0.5).
func TestNumbersPrintWithoutFloatNoise(t *testing.T) {
	path := writeJobDir(t, threeWayJob, goodEvents)
	ledger := filepath.Join(filepath.Dir(path), "ledger.duckdb")
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "1.5", "--delta", "5e-6", "--reason", "r"); code != 0 {
		t.Fatal(stderr)
	}
	check := func(name string, want []string, args ...string) {
		t.Helper()
		code, stdout, stderr := cli(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		if bad := noisyNumbers(stdout); len(bad) > 0 {
			t.Errorf("%s prints float noise %v:\n%s", name, bad, stdout)
		}
		for _, w := range want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, stdout)
			}
		}
	}
	check("plan", []string{"spends epsilon 0.333333333333, delta 3.33333333333e-7", "after:  epsilon 0.5 remaining, delta 0.00000433333333333 remaining"},
		"plan", path)
	check("plan json", []string{`"epsilon": 0.333333333333,`, `"epsilon_remaining": 0.5,`}, "plan", "--format", "json", path)
	check("plan what-if", nil, "plan", "--what-if", "epsilon=0.3,0.7", path)
	check("run", nil, "run", path)
	check("run json", nil, "run", "--format", "json", path)
	// A refusal names the amounts the same way (0.5 remains, 1 is asked).
	code, _, stderr := cli(t, "run", "--release-id", "second", path)
	if code != 3 || !strings.Contains(stderr, "remaining epsilon 0.5, delta 0.00000433333333333") {
		t.Errorf("second run: exit %d, want 3 with the remaining budget:\n%s", code, stderr)
	}
	if bad := noisyNumbers(stderr); len(bad) > 0 {
		t.Errorf("the refusal prints float noise %v:\n%s", bad, stderr)
	}
	for _, format := range []string{"table", "json"} {
		check("budget show "+format, []string{"0.5"}, "budget", "show", "--ledger", ledger, "cli_events", "--format", format)
		check("budget history "+format, []string{"6.66666666667e-7"}, "budget", "history", "--ledger", ledger, "cli_events", "--format", format)
	}
}
