package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/hint"
)

// hintRE finds the commands privagg suggests in its messages: `privagg ...`.
var hintRE = regexp.MustCompile("`(privagg [^`]+)`")

// hintFill is what the hint test gives for the values only the reader of a
// hint can choose (internal/hint's placeholders).
var hintFill = map[string]string{hint.Epsilon: "2", hint.Delta: "1e-6", hint.Reason: "hint test", hint.Dataset: "other"}

// hintArgs returns the arguments of the one hint in msg, split as a POSIX
// shell splits words in plain and single-quoted text, with placeholders filled in.
func hintArgs(t *testing.T, msg string) []string {
	t.Helper()
	m := hintRE.FindAllStringSubmatch(msg, -1)
	if len(m) != 1 {
		t.Fatalf("want one `privagg ...` hint in %q, found %d", msg, len(m))
	}
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	line := m[0][1]
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("hint %q: unbalanced quote", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	for i, w := range words {
		if v, ok := hintFill[w]; ok {
			words[i] = v
		}
	}
	return words[1:] // without "privagg"
}

// TestHintsRunAsPrinted: every command privagg suggests in a message works
// as printed, from another folder than the one it was printed in (issue 22,
// item 10): the ledger path is in it, the required flags are in it, and
// only the values the reader must choose are placeholders.
func TestHintsRunAsPrinted(t *testing.T) {
	path := writeJobDir(t, runJob, goodEvents)
	dir := filepath.Dir(path)
	ledger := filepath.Join(dir, "my ledger", "l.duckdb") // a path that needs quoting
	elsewhere := cliRun{dir: t.TempDir()}
	runHint := func(what, msg string) (int, string, string) {
		t.Helper()
		args := hintArgs(t, msg)
		code, stdout, stderr := elsewhere.privagg(t, args...)
		if code != 0 {
			t.Fatalf("%s: hint %q: exit %d\nstdout %s\nstderr %s", what, args, code, stdout, stderr)
		}
		return code, stdout, stderr
	}

	// A new ledger in a folder that does not exist: the refusal says to
	// create the folder, not to restore from a backup.
	code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "1", "--reason", "r")
	if code != 2 || !strings.Contains(stderr, "does not exist: create it first (mkdir -p '"+filepath.Dir(ledger)+"')") ||
		strings.Contains(stderr, "restore") {
		t.Fatalf("budget set in a missing folder: exit %d, %s", code, stderr)
	}
	if err := os.Mkdir(filepath.Dir(ledger), 0o750); err != nil {
		t.Fatal(err)
	}

	// budget verify and budget show on a ledger not created yet.
	_, stdout, _ := cli(t, "--ledger", ledger, "budget", "verify")
	runHint("budget verify of a new ledger", stdout)
	if err := os.Remove(ledger); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(ledger + ".journal.jsonl"); err != nil {
		t.Fatal(err)
	}
	_, stdout, _ = cli(t, "--ledger", ledger, "budget", "show")
	runHint("budget show without budgets", stdout)

	// A run whose dataset has no budget (the ledger given by --ledger; the
	// hints above set the budget of dataset "other").
	code, _, stderr = cli(t, "--ledger", ledger, "run", path)
	if code != 3 {
		t.Fatalf("run without a budget: exit %d, %s", code, stderr)
	}
	runHint("run without a budget", stderr)
	if code, _, errs := cli(t, "--ledger", ledger, "run", path); code != 0 {
		t.Fatalf("run after the hint set the budget: exit %d, %s", code, errs)
	}

	// A budget below what is spent: refused, and --force sets it.
	code, _, stderr = cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "0.5", "--reason", "r")
	if code != 2 || !strings.Contains(stderr, "epsilon 0.5 is below the epsilon 1 already spent") || !strings.Contains(stderr, "--force") {
		t.Fatalf("budget below the spend: exit %d, %s", code, stderr)
	}
	if code, _, errs := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "0.5", "--reason", "r", "--force"); code != 0 {
		t.Fatalf("budget below the spend with --force: exit %d, %s", code, errs)
	}

	// A damaged ledger: the restore hint's verify command, run once both
	// files are restored from the backup, says the ledger is OK.
	journal := ledger + ".journal.jsonl"
	backup, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(journal, []byte(strings.Replace(string(backup), `"epsilon":"2"`, `"epsilon":"3"`, 1)), 0o640); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = cli(t, "--ledger", ledger, "budget", "show")
	if code != 1 || !strings.Contains(stderr, "restore") {
		t.Fatalf("damaged journal: exit %d, %s", code, stderr)
	}
	if err := os.WriteFile(journal, backup, 0o640); err != nil {
		t.Fatal(err)
	}
	_, stdout, _ = runHint("restore hint", stderr)
	if !strings.HasPrefix(stdout, "ledger OK") {
		t.Errorf("restore hint's verify: %s", stdout)
	}

	// plan without a ledger file.
	_, stdout, _ = cli(t, "--ledger", filepath.Join(dir, "none.duckdb"), "plan", path)
	runHint("plan without a ledger", stdout)
}
