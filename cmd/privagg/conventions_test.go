package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Command-line mistakes exit 2 and say what is wrong: a mistyped or missing
// subcommand (with a suggestion) and a missing argument (by name).
func TestUsageMistakesNameWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"budget", "shwo"}, `privagg budget: unknown subcommand "shwo"; did you mean "show"? (one of history, set, show, verify)`},
		{[]string{"releases", "lst"}, `did you mean "list"?`},
		{[]string{"budget"}, "privagg budget: missing subcommand: one of history, set, show, verify"},
		{[]string{"verison"}, "Did you mean this?\n\tversion"},
		{[]string{"run"}, "privagg run: missing JOB.yaml (usage: privagg run JOB.yaml [flags])"},
		{[]string{"validate"}, "privagg validate: missing JOB.yaml"},
		{[]string{"plan"}, "privagg plan: missing JOB.yaml"},
		{[]string{"budget", "set", "--epsilon", "1"}, "privagg budget set: missing DATASET"},
		{[]string{"budget", "history"}, "privagg budget history: missing DATASET"},
		{[]string{"releases", "show"}, "privagg releases show: missing RELEASE_ID"},
		{[]string{"query"}, "privagg query: missing SQL"},
		{[]string{"run", "a.yaml", "b.yaml"}, `privagg run: unexpected argument "b.yaml": it takes only JOB.yaml`},
		{[]string{"version", "x"}, `privagg version: unexpected argument "x": it takes no arguments`},
	} {
		code, stdout, stderr := cli(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("privagg %v: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout and %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// Every command's --help has examples.
func TestEveryCommandHasExamples(t *testing.T) {
	root, _ := newRootCmd(io.Discard, io.Discard)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() && sub.Name() != "help" && sub.Name() != "completion" && sub.Example == "" {
				t.Errorf("%s has no Example", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
	code, stdout, _ := cli(t, "budget", "set", "--help")
	if code != 0 || !strings.Contains(stdout, "Examples:\n  privagg budget set web_events") {
		t.Errorf("budget set --help: exit %d, no examples:\n%s", code, stdout)
	}
}

// Shell completion is cobra's completion command.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, stdout, stderr := cli(t, "completion", shell)
		if code != 0 || !strings.Contains(stdout, "privagg") {
			t.Errorf("completion %s: exit %d, stderr %q", shell, code, stderr)
		}
	}
	code, stdout, _ := cli(t, cobra.ShellCompNoDescRequestCmd, "budget", "sh")
	if code != 0 || !strings.HasPrefix(stdout, "show\n") {
		t.Errorf("completing budget sh: exit %d, %q; want show", code, stdout)
	}
}

// query --out refuses an extension it does not write, and one that
// disagrees with --format, before it reads anything.
func TestQueryOutExtension(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", filepath.Join(dir, "r.xlsx")}, ".xlsx is not a format query writes: use .csv, .json, .parquet or .txt"},
		{[]string{"--format", "json", "--out", filepath.Join(dir, "r.csv")}, "extension .csv does not match --format json"},
	} {
		args := append([]string{"--ledger", filepath.Join(dir, "l.duckdb"), "query", "SELECT 1"}, tc.args...)
		code, _, stderr := cli(t, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("query %v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused queries left %d files", len(entries))
	}
}

// budget show and budget history refuse a dataset without a budget alike:
// exit 3 with the same message, with or without a ledger file.
func TestBudgetUnknownDatasetSameExit(t *testing.T) {
	ledger := filepath.Join(t.TempDir(), "l.duckdb")
	want := `privagg: budget refused for dataset "nope": dataset "nope" has no budget; set one with ` +
		"`privagg budget set nope --ledger " + ledger + " --epsilon EPSILON --delta DELTA --reason REASON`"
	check := func(when string) {
		for _, sub := range []string{"show", "history"} {
			code, stdout, stderr := cli(t, "--ledger", ledger, "budget", sub, "nope")
			if code != 3 || strings.TrimSpace(stderr) != want || stdout != "" {
				t.Errorf("%s: budget %s nope: exit %d, stdout %q, stderr %q; want 3 and %q", when, sub, code, stdout, stderr, want)
			}
		}
	}
	check("no ledger")
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "other", "--epsilon", "1", "--reason", "r"); code != 0 {
		t.Fatal(stderr)
	}
	check("a ledger with another dataset")
}
