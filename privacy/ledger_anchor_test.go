package privacy

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// rewriteConsistently reproduces the second audit's rewrite_journal.py (finding
// L2): it changes every budget of dataset to epsilon in the journal,
// recomputes every entry's hash and prev, and updates the ledger's rows
// (the budget and the journal head) to match, as an account that may write
// both files can.
func rewriteConsistently(t *testing.T, l *Ledger, dataset, epsilon string) {
	t.Helper()
	data, err := os.ReadFile(l.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	prev := genesisPrev
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var e journalEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		if e.Op == opBudgetSet && e.Fields["dataset"] == dataset {
			e.Fields["epsilon"] = epsilon
		}
		e.Prev = prev
		if e.Hash, err = e.bodyHash(); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(append(b, '\n'))
		prev = sha256Hex(b)
	}
	if err := os.WriteFile(l.JournalPath(), out.Bytes(), ledgerFileMode); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", l.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE budgets SET epsilon = ? WHERE dataset = ?`, []any{epsilon, dataset}},
		{`UPDATE ledger_meta SET value = ? WHERE key = 'journal_head'`, []any{prev}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRecordedHeadDetectsConsistentRewrite is the audit's L2 (issue 22
// item 3): a consistent rewrite of journal and ledger (budget 20 -> 1000)
// passes the keyless chain check, and is caught by the head recorded
// before it.
func TestRecordedHeadDetectsConsistentRewrite(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "web_events", 20, 5e-5, "none")
	if _, err := l.Reserve(ctx, reserveReq("r1", "web_events", 4, 0)); err != nil {
		t.Fatal(err)
	}
	sum, err := l.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recorded := sum.Head // what the officer keeps elsewhere
	if hc, err := l.VerifyHead(ctx, recorded); err != nil || hc.Seq != sum.Entries || len(hc.BudgetChanges) != 0 {
		t.Fatalf("VerifyHead of the current head: %+v, %v", hc, err)
	}

	// Appending is what the pipeline does: the head still verifies, and the
	// budget changes since it are listed.
	if _, err := l.Reserve(ctx, reserveReq("r2", "web_events", 1, 0)); err != nil {
		t.Fatal(err)
	}
	mustSetBudget(t, l, "web_events", 21, 5e-5, "none")
	hc, err := l.VerifyHead(ctx, recorded)
	if err != nil || hc.Seq != sum.Entries || hc.Entries != sum.Entries+2 || len(hc.BudgetChanges) != 1 ||
		hc.BudgetChanges[0].Epsilon.String() != "21" {
		t.Fatalf("VerifyHead after appends: %+v, %v", hc, err)
	}

	rewriteConsistently(t, l, "web_events", "1000")
	// The keyless chain cannot tell: this is the audit's finding.
	if err := l.Verify(ctx); err != nil {
		t.Fatalf("the consistent rewrite no longer passes Verify (the test's rewrite is wrong): %v", err)
	}
	st, err := l.Status(ctx, "web_events")
	if err != nil || st.EpsilonTotal.String() != "1000" {
		t.Fatalf("after the rewrite: %+v, %v; want a budget of 1000", st, err)
	}
	_, err = l.VerifyHead(ctx, recorded)
	var le *LedgerError
	if !errors.Is(err, ErrHeadNotFound) || !errors.As(err, &le) || !strings.Contains(err.Error(), recorded) {
		t.Fatalf("VerifyHead after the rewrite: %v, want a *LedgerError wrapping ErrHeadNotFound naming the head", err)
	}

	for _, bad := range []string{"", "abc", strings.ToUpper(recorded)} {
		if _, err := l.VerifyHead(ctx, bad); err == nil || errors.Is(err, ErrHeadNotFound) {
			t.Errorf("VerifyHead(%q): %v, want a format error", bad, err)
		}
	}
}
