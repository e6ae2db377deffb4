package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// budget set and budget verify print the journal's head with the command
// that checks it; that command passes while the journal only grows, and
// fails (exit 1) once the ledger and its journal were replaced by another,
// self-consistent history, which plain verify accepts (issue 22 item 3).
func TestBudgetVerifyHead(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "l.duckdb")
	code, stdout, stderr := cli(t, "--ledger", ledger, "budget", "set", "web_events", "--epsilon", "10", "--delta", "1e-6", "--reason", "plan")
	if code != 0 || !strings.Contains(stdout, "journal head ") {
		t.Fatalf("budget set: exit %d\n%s%s", code, stdout, stderr)
	}
	args := hintArgs(t, stdout)
	head := args[len(args)-1]

	// More entries: the recorded head still verifies and the change since is listed.
	if code, _, errs := cli(t, "--ledger", ledger, "budget", "set", "web_events", "--epsilon", "9", "--delta", "1e-6", "--reason", "lower"); code != 0 {
		t.Fatal(errs)
	}
	code, stdout, stderr = cliRun{dir: t.TempDir()}.privagg(t, args...)
	if code != 0 || !strings.Contains(stdout, "head OK: the journal passes through "+head+" (entry 2 of 3)") ||
		!strings.Contains(stdout, "since that head: 1 entries, 1 budget changes") || !strings.Contains(stdout, "epsilon 9 delta 0.000001 period none") {
		t.Fatalf("verify --head after an append: exit %d\n%s%s", code, stdout, stderr)
	}

	// Another history, consistent in itself: a ledger whose budget is 1000.
	other := filepath.Join(t.TempDir(), "l.duckdb")
	if code, _, errs := cli(t, "--ledger", other, "budget", "set", "web_events", "--epsilon", "1000", "--reason", "plan", "--allow-weak-privacy"); code != 0 {
		t.Fatal(errs)
	}
	for _, suffix := range []string{"", ".journal.jsonl"} {
		data, err := os.ReadFile(other + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ledger+suffix, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if code, stdout, _ := cli(t, "--ledger", ledger, "budget", "verify"); code != 0 || !strings.HasPrefix(stdout, "ledger OK") {
		t.Fatalf("plain verify of the replaced ledger: exit %d, %s; the keyless chain is expected to accept it", code, stdout)
	}
	code, stdout, stderr = cli(t, args...)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "has the head "+head+" recorded earlier: the journal and the ledger were rewritten") {
		t.Errorf("verify --head of the replaced ledger: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "verify", "--head", "abc"); code != 2 || !strings.Contains(stderr, "--head: head \"abc\": must be") {
		t.Errorf("verify --head abc: exit %d, %s", code, stderr)
	}
}
