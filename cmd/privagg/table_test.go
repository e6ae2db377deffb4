package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// linesOver returns the lines of s wider than width characters.
func linesOver(s string, width int) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if utf8.RuneCountInString(l) > width {
			out = append(out, l)
		}
	}
	return out
}

func TestTextTableFits(t *testing.T) {
	tb := &textTable{header: []string{"NAME", "PATH", "N"}, right: []bool{2: true}}
	tb.add("short", strings.Repeat("p", 80), "1")
	tb.add(strings.Repeat("n", 40), "/x", "12345")
	var b bytes.Buffer
	if err := tb.write(&b, 60); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 60 {
			t.Errorf("line of %d characters, want <= 60: %q", n, l)
		}
	}
	if !strings.Contains(lines[1], "…") || !strings.HasSuffix(lines[2], "12345") || !strings.HasSuffix(lines[1], "    1") {
		t.Errorf("cut or alignment wrong:\n%s", b.String())
	}
	b.Reset()
	if err := tb.write(&b, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), strings.Repeat("p", 80)) || strings.Contains(b.String(), "…") {
		t.Errorf("width 0 must print every cell in full:\n%s", b.String())
	}
}

// plan --what-if fits 100 columns however many epsilons and long names it
// has; --wide prints the labels in full. Every table command takes
// --format table|json, run also its older name text.
func TestWhatIfFitsTerminal(t *testing.T) {
	long := strings.Replace(runJob, "metrics: [{name: people, type: count_units}]",
		"metrics: [{name: people_reached_by_the_campaign_in_the_week, type: count_units}]", 1)
	path := writeJobDir(t, long, goodEvents)
	args := []string{"plan", path, "--what-if", "epsilon=0.01,0.1,0.25,0.5,1,2,4,8,16"}
	code, stdout, stderr := cli(t, args...)
	if code != 0 {
		t.Fatalf("plan --what-if: exit %d: %s", code, stderr)
	}
	if over := linesOver(stdout, 100); len(over) > 0 || !strings.Contains(stdout, "people.people_reached_by_the_camp…") {
		t.Errorf("plan --what-if: want every line within 100 columns, long labels cut:\n%s", stdout)
	}
	_, stdout, _ = cli(t, append(args, "--wide")...)
	if !strings.Contains(stdout, "people.people_reached_by_the_campaign_in_the_week ±95%") || len(linesOver(stdout, 100)) == 0 {
		t.Errorf("plan --what-if --wide: want labels in full:\n%s", stdout)
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"plan", "--format", "table", path}, 3}, // no budget: the plan says it does not fit
		{[]string{"plan", "--format", "text", path}, 2},
		{[]string{"run", "--dry-run", "--format", "table", path}, 3}, // no budget: the dry run is refused as the run would be
		{[]string{"run", "--dry-run", "--format", "text", path}, 3},
		{[]string{"run", "--format", "xml", path}, 2},
		{[]string{"--ledger", filepath.Join(filepath.Dir(path), "ledger.duckdb"), "releases", "list", "--format", "text"}, 2},
	} {
		code, _, stderr := cli(t, tc.args...)
		if code != tc.code || code == 2 && !strings.Contains(stderr, "must be table or json") {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, code, tc.code, stderr)
		}
	}
}
