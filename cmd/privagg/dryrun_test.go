package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// treeState lists every file under dir with its size and modification time.
func treeState(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, fmt.Sprintf("%s %v %d bytes %v", rel, info.Mode(), info.Size(), info.ModTime()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// run --dry-run reads and checks the input and prints the plan; the ledger,
// its journal and the job's folder (output.dir, run reports) are unchanged.
func TestRunDryRun(t *testing.T) {
	path := writeJobDir(t, runJob, goodEvents)
	dir := filepath.Dir(path)
	ledger := filepath.Join(dir, "ledger.duckdb")
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "r"); code != 0 {
		t.Fatal(stderr)
	}
	before := treeState(t, dir)
	code, stdout, stderr := cli(t, "run", "--dry-run", path)
	if code != 0 {
		t.Fatalf("run --dry-run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"dry run: input checked (files, columns, consent; malformed rows within input.max_reject_fraction 0.3); nothing charged, nothing written",
		"a run spends epsilon 1", "before: epsilon 5 of 5 remaining", "after:  epsilon 4 remaining"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if after := treeState(t, dir); !slices.Equal(before, after) {
		t.Errorf("run --dry-run changed the job folder:\nbefore %v\nafter  %v", before, after)
	}
	if code, stdout, _ := cli(t, "budget", "show", "--ledger", ledger, "cli_events", "--format", "json"); code != 0 || !strings.Contains(stdout, `"epsilon_spent": 0`) {
		t.Errorf("budget after a dry run: %s", stdout)
	}

	for _, tc := range []struct {
		name, job, events string
		code              int
		want              string
	}{
		{"malformed rows", runJob, "email,user_id,campaign,ok\nx@y.z,,a,true\nw@y.z,,b,true\n", 4, "malformed rows exceed input.max_reject_fraction 0.3"},
		{"column typo", strings.Replace(runJob, "consent: {column: ok}", "consent: {column: okk}", 1), goodEvents, 2, `consent.column: "okk" is not a column of the input`},
		{"no budget", strings.Replace(runJob, "dataset: cli_events", "dataset: other", 1), goodEvents, 3, `dataset "other" has no budget`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeJobDir(t, tc.job, tc.events)
			dir := filepath.Dir(path)
			before := treeState(t, dir)
			code, stdout, stderr := cli(t, "--ledger", ledger, "run", "--dry-run", path)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
			if after := treeState(t, dir); !slices.Equal(before, after) {
				t.Errorf("a refused dry run changed the job folder:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}
