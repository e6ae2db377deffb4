package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// runBudget runs the command line and returns exit code, stdout and stderr.
func runBudget(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestBudgetSetShowJSON(t *testing.T) {
	ledger := filepath.Join(t.TempDir(), "l.duckdb")
	code, out, errs := runBudget(t, "--ledger", ledger, "budget", "set", "web_events", "--epsilon", "1", "--delta", "1e-6", "--period", "month", "--reason", "test")
	if code != 0 {
		t.Fatalf("budget set: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "budget of dataset web_events: epsilon 1, delta 0.000001 (from --delta), period month") {
		t.Errorf("budget set printed %q", out)
	}

	l, err := privacy.OpenLedger(ledger)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r1", "r2"} {
		if _, err := l.Reserve(context.Background(), privacy.ReserveRequest{ReleaseID: id, Dataset: "web_events", Job: "j", Epsilon: 0.1, Delta: 1e-7}); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errs = runBudget(t, "--ledger", ledger, "budget", "show", "web_events", "--format", "json")
	if code != 0 {
		t.Fatalf("budget show: exit %d\n%s", code, errs)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("budget show --format json: %v\n%s", err, out)
	}
	wantKeys := []string{"dataset", "delta_remaining", "delta_spent", "delta_total", "epsilon_remaining", "epsilon_spent",
		"epsilon_total", "period", "period_end", "period_start"}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("JSON fields %v, want %v", keys, wantKeys)
	}
	for k, want := range map[string]string{
		"dataset": `"web_events"`, "epsilon_total": "1", "epsilon_spent": "0.2", "epsilon_remaining": "0.8",
		"delta_total": "0.000001", "delta_spent": "2e-7", "delta_remaining": "8e-7", "period": `"month"`,
	} {
		if string(m[k]) != want {
			t.Errorf("%s = %s, want %s", k, m[k], want)
		}
	}

	code, out, _ = runBudget(t, "--ledger", ledger, "budget", "show", "--format", "json")
	var all []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &all) != nil || len(all) != 1 {
		t.Errorf("budget show (all) --format json: exit %d, %s", code, out)
	}

	code, out, _ = runBudget(t, "--ledger", ledger, "budget", "show")
	if code != 0 || !strings.Contains(out, "EPSILON SPENT") || !strings.Contains(out, "web_events  month   0.2") {
		t.Errorf("budget show table: exit %d\n%s", code, out)
	}
}

func TestBudgetShowTable(t *testing.T) {
	ledger := filepath.Join(t.TempDir(), "l.duckdb")
	for _, args := range [][]string{
		{"budget", "set", "web_events", "--epsilon", "2", "--delta", "0.000005", "--reason", "test"},
		{"budget", "set", "crm", "--epsilon", "0.5", "--reason", "test"},
	} {
		if code, _, errs := runBudget(t, append([]string{"--ledger", ledger}, args...)...); code != 0 {
			t.Fatalf("%v: %s", args, errs)
		}
	}
	_, out, _ := runBudget(t, "--ledger", ledger, "budget", "show")
	want := `DATASET     PERIOD  EPSILON SPENT  EPSILON REMAINING  EPSILON TOTAL  DELTA SPENT  DELTA REMAINING  DELTA TOTAL  PERIOD START  PERIOD END
crm         none    0              0.5                0.5            0            0                0            -             -
web_events  none    0              2                  2              0            0.000005         0.000005     -             -
`
	if out != want {
		t.Errorf("budget show:\n%s\nwant:\n%s", out, want)
	}
}

func TestBudgetExitCodes(t *testing.T) {
	ledger := filepath.Join(t.TempDir(), "l.duckdb")
	if code, _, errs := runBudget(t, "--ledger", ledger, "budget", "set", "d", "--epsilon", "1", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: %s", errs)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no budget", []string{"budget", "show", "other"}, 3, `dataset "other" has no budget; set one with ` + "`privagg budget set other --ledger " + ledger + " --epsilon EPSILON --delta DELTA --reason REASON`"},
		{"missing epsilon", []string{"budget", "set", "d"}, 2, "--epsilon: required"},
		{"zero epsilon", []string{"budget", "set", "d", "--epsilon", "0"}, 2, "--epsilon: 0 must be"},
		{"delta 1", []string{"budget", "set", "d", "--epsilon", "1", "--delta", "1"}, 2, "--delta: 1 must be >= 0 and < 1"},
		{"bad period", []string{"budget", "set", "d", "--epsilon", "1", "--period", "weekly"}, 2, "--period: period \"weekly\""},
		{"missing reason", []string{"budget", "set", "d", "--epsilon", "1"}, 2, "--reason: required"},
		{"blank reason", []string{"budget", "set", "d", "--epsilon", "1", "--reason", " "}, 2, "--reason: required"},
		{"bad format", []string{"budget", "show", "--format", "xml"}, 2, `--format: "xml" must be table or json`},
		{"history needs a dataset", []string{"budget", "history"}, 2, "privagg budget history: missing DATASET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runBudget(t, append([]string{"--ledger", ledger}, tc.args...)...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errs, tc.code, tc.want)
			}
		})
	}
}

func TestBudgetHistory(t *testing.T) {
	ledger := filepath.Join(t.TempDir(), "l.duckdb")
	if code, _, errs := cli(t, "--ledger", ledger, "budget", "set", "d", "--epsilon", "1", "--reason", "first budget: campaign analytics approved"); code != 0 {
		t.Fatal(errs)
	}
	code, out, _ := cli(t, "--ledger", ledger, "budget", "history", "d")
	if code != 0 || !strings.Contains(out, "no releases charged to dataset d") {
		t.Errorf("empty history: exit %d, %q", code, out)
	}
	// A dataset that never had a budget is refused as budget show refuses it.
	code, out, errs := cli(t, "--ledger", ledger, "budget", "history", "other", "--format", "json")
	if code != 3 || out != "" || !strings.Contains(errs, `dataset "other" has no budget`) {
		t.Errorf("history of an unknown dataset: exit %d, stdout %q, stderr %q; want 3", code, out, errs)
	}
	l, err := privacy.OpenLedger(ledger)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.Reserve(ctx, privacy.ReserveRequest{ReleaseID: "rel-1", Dataset: "d", Job: "weekly", Purpose: "marketing", Epsilon: 0.25, Outputs: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkStored(ctx, "rel-1", privacy.StoredFiles{SHA256: map[string]string{"a.csv": strings.Repeat("0", 64)}, Published: []string{"a.csv"}}); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "--ledger", ledger, "budget", "set", "d", "--epsilon", "2", "--period", "month", "--reason", "Q3: two more campaigns"); code != 0 {
		t.Fatal(errs)
	}
	code, out, _ = cli(t, "--ledger", ledger, "budget", "history", "d", "--format", "json")
	var h struct {
		Dataset       string           `json:"dataset"`
		BudgetChanges []map[string]any `json:"budget_changes"`
		Releases      []map[string]any `json:"releases"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil || len(h.Releases) != 1 || len(h.BudgetChanges) != 2 {
		t.Fatalf("history json: exit %d, %s", code, out)
	}
	r := h.Releases[0]
	if r["release_id"] != "rel-1" || r["state"] != "stored" || r["epsilon"] != 0.25 || r["published_at"] != nil || r["stored_at"] == nil {
		t.Errorf("history record %v", r)
	}
	me := privacy.OSUser()
	for i, want := range []map[string]any{
		{"epsilon": 1.0, "period": "none", "set_by": me, "reason": "first budget: campaign analytics approved"},
		{"epsilon": 2.0, "period": "month", "set_by": me, "reason": "Q3: two more campaigns"},
	} {
		for k, v := range want {
			if h.BudgetChanges[i][k] != v {
				t.Errorf("budget change %d: %s = %v, want %v", i, k, h.BudgetChanges[i][k], v)
			}
		}
		if h.BudgetChanges[i]["time"] == nil {
			t.Errorf("budget change %d has no time", i)
		}
	}
	code, out, _ = cli(t, "--ledger", ledger, "budget", "history", "d")
	for _, want := range []string{"rel-1", "stored", "SET BY", "REASON", me, "Q3: two more campaigns", "first budget: campaign analytics approved"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("history table: exit %d, lacks %q\n%s", code, want, out)
		}
	}
}

func TestHistoryTableOldBudgetChange(t *testing.T) {
	var b strings.Builder
	err := historyTable(&b, budgetHistory{Dataset: "d", BudgetChanges: []privacy.BudgetChange{{Dataset: "d", Period: "none"}}})
	if err != nil || !strings.Contains(b.String(), "none    -       -") {
		t.Errorf("a change recorded without who and why: %v\n%s", err, b.String())
	}
}

func TestBudgetVerify(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "l.duckdb")
	code, out, _ := runBudget(t, "--ledger", ledger, "budget", "verify")
	if code != 0 || !strings.Contains(out, "does not exist yet") {
		t.Errorf("verify of a new ledger: exit %d, %q", code, out)
	}
	runBudget(t, "--ledger", ledger, "budget", "set", "d", "--epsilon", "1", "--reason", "test")
	code, out, _ = runBudget(t, "--ledger", ledger, "budget", "verify")
	if code != 0 || !strings.Contains(out, "ledger OK") || !strings.Contains(out, "2 entries") {
		t.Errorf("verify: exit %d, %q", code, out)
	}
	if err := os.Remove(ledger + privacy.JournalSuffix); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runBudget(t, "--ledger", ledger, "budget", "verify")
	if code != 1 || !strings.Contains(errs, "journal") || !strings.Contains(errs, "backup") {
		t.Errorf("verify without journal: exit %d, %q", code, errs)
	}
	code, _, _ = runBudget(t, "--ledger", ledger, "budget", "show")
	if code != 1 {
		t.Errorf("show without journal: exit %d, want 1 (fail closed)", code)
	}
}

func TestLedgerPathPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("PRIVAGG_LEDGER", "")
	// Without a project file, the default ./privagg-ledger.duckdb is used but
	// never created: a budget set in another folder would start a second ledger.
	code, _, errs := runBudget(t, "budget", "set", "d", "--epsilon", "1", "--reason", "test")
	if code != 2 || !strings.Contains(errs, "no privagg.yaml in") || !strings.Contains(errs, "--ledger") {
		t.Errorf("budget set with no ledger anywhere: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "privagg-ledger.duckdb")); err == nil {
		t.Error("budget set created the default ledger")
	}
	env := filepath.Join(dir, "env.duckdb")
	t.Setenv("PRIVAGG_LEDGER", env)
	runBudget(t, "budget", "set", "e", "--epsilon", "1", "--reason", "test")
	if _, err := os.Stat(env); err != nil {
		t.Errorf("PRIVAGG_LEDGER ledger: %v", err)
	}
	flag := filepath.Join(dir, "flag.duckdb")
	runBudget(t, "--ledger", flag, "budget", "set", "f", "--epsilon", "1", "--reason", "test")
	if _, err := os.Stat(flag); err != nil {
		t.Errorf("--ledger ledger: %v", err)
	}
	g := &globals{}
	if got, implicit, err := ledgerPath(g); got != env || implicit || err != nil {
		t.Errorf("ledgerPath with env = %s, %v, %v; want the env's", got, implicit, err)
	}
	if got, err := jobLedger(g, &job.Job{File: "job.yaml"}); got != env || err != nil {
		t.Errorf("jobLedger with env = %s, %v; want the env's", got, err)
	}
	t.Setenv("PRIVAGG_LEDGER", "")
	if got, err := jobLedger(g, &job.Job{File: "job.yaml"}); got != "" || err != nil {
		t.Errorf("jobLedger without env or project = %q, %v; want the job's own", got, err)
	}
	// A ledger that exists at the default path is used.
	if err := os.Rename(flag, filepath.Join(dir, "privagg-ledger.duckdb")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(flag+privacy.JournalSuffix, filepath.Join(dir, "privagg-ledger.duckdb"+privacy.JournalSuffix)); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runBudget(t, "budget", "set", "f", "--epsilon", "2", "--reason", "test"); code != 0 {
		t.Errorf("budget set on the existing default ledger: exit %d, %s", code, errs)
	}
}
