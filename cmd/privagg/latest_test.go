package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// latestJob is a job publishing by_channel into out/ over the public
// campaigns campaigns (three channels each).
func latestJob(campaigns string) string {
	return strings.Replace(strings.Replace(catalogJob("parquet"), "campaign: [cmp_a, cmp_b]", "campaign: ["+campaigns+"]", 1),
		"channel: [email, search]", "channel: [email, search, social]", 1)
}

// TestLatestIsTheLastPublished (issue 24, items 4 and 5), through the
// binary: r1 (9 rows) is published, then r2 (3 rows: the run warns that
// by_channel loses most of its rows), then r1 again. The ledger and the
// published folder then both name r1 the latest by_channel, and an analyst
// who may read the folder only still reaches r2 through its history, with
// the month-over-month JOIN of docs/analysts.md.
func TestLatestIsTheLastPublished(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "privagg-ledger.duckdb")
	out := filepath.Join(dir, "out_parquet")
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(catalogEvents), 0o644); err != nil {
		t.Fatal(err)
	}
	jobs := map[string]string{"r1": latestJob("cmp_a, cmp_b, cmp_c"), "r2": latestJob("cmp_a")}
	for id, spec := range jobs {
		if err := os.WriteFile(filepath.Join(dir, "job_"+id+".yaml"), []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cmd_events", "--epsilon", "10", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatal(stderr)
	}
	runJob := func(id string) string {
		t.Helper()
		code, stdout, stderr := cli(t, "run", "--release-id", id, filepath.Join(dir, "job_"+id+".yaml"))
		if code != 0 {
			t.Fatalf("run %s: exit %d\n%s", id, code, stderr)
		}
		return stdout + stderr
	}
	const shrinkWarning = "table by_channel goes from 9 rows (release r1) to 3"
	if stderr := runJob("r1"); strings.Contains(stderr, "goes from") {
		t.Errorf("first publication warned of a shrink:\n%s", stderr)
	}
	if stderr := runJob("r2"); !strings.Contains(stderr, shrinkWarning) {
		t.Errorf("r2 replaced 9 rows with 3 without the warning %q:\n%s", shrinkWarning, stderr)
	}
	if stderr := runJob("r1"); !strings.Contains(stderr, "re-published") || strings.Contains(stderr, "goes from") {
		t.Errorf("re-publishing r1:\n%s", stderr)
	}

	for name, source := range map[string][]string{
		"ledger":           {"--ledger", ledger, "query"},
		"published folder": {"query", "--from", out},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := cli(t, append(source, "--tables")...)
			if code != 0 {
				t.Fatalf("--tables: exit %d\n%s", code, stderr)
			}
			var lines []string
			for _, l := range strings.Split(stdout, "\n") {
				lines = append(lines, strings.Join(strings.Fields(l), " "))
			}
			// The BOUNDS column ("-": the job estimated nothing) ends each line.
			for _, want := range []string{"by_channel r1 by_channel 9 true -", "by_channel__r1 r1 by_channel 9 true -", "by_channel__r2 r2 by_channel 3 false -"} {
				if !slices.Contains(lines, want) {
					t.Errorf("--tables has no line %q:\n%s", want, stdout)
				}
			}
			code, stdout, stderr = cli(t, append(source, "SELECT count(*) AS n FROM by_channel")...)
			if code != 0 || stdout != "n\n9\n" {
				t.Errorf("the latest by_channel: exit %d, %q, want 9 rows (r1)\n%s", code, stdout, stderr)
			}
			// docs/analysts.md: compare two releases row by row.
			code, stdout, stderr = cli(t, append(source, "--format", "csv",
				"SELECT count(*) AS n, count(b.people) AS both FROM by_channel__r1 a LEFT JOIN by_channel__r2 b USING (campaign, channel)")...)
			if code != 0 || stdout != "n,both\n9,3\n" {
				t.Errorf("JOIN across releases: exit %d, %q, want 9 rows of which 3 in both\n%s", code, stdout, stderr)
			}
		})
	}
}
