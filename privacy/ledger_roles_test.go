package privacy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestReadOnlyLedgerNeverWrites: a ledger opened WithReadOnly reads what an
// interrupted write left as the next write will complete it, and changes no
// file; only a read-write open repairs.
func TestReadOnlyLedgerNeverWrites(t *testing.T) {
	ctx := context.Background()
	l := damagedLedger(t)
	snap := snapshotDB(t, l)
	mustReserve(t, l, reserveReq("r3", "d", 0.3, 0))
	restoreDB(t, l, snap) // journal entry 6 written, ledger not committed
	journal, _ := os.ReadFile(l.JournalPath())

	ro, err := OpenLedger(l.Path(), WithReadOnly())
	if err != nil {
		t.Fatalf("OpenLedger read-only: %v", err)
	}
	if !ro.ReadOnly() {
		t.Error("ReadOnly() = false")
	}
	sum, err := ro.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.Recovered, "journal entry 6 (reserved) is not yet committed") || sum.Entries != 6 {
		t.Errorf("read-only Inspect = %+v", sum)
	}
	st, err := ro.Status(ctx, "d")
	if err != nil || st.EpsilonSpent.String() != "0.6" {
		t.Errorf("read-only spent %s, %v; want 0.6 (the journaled charge counts)", st.EpsilonSpent, err)
	}
	for name, err := range map[string]error{
		"SetBudget": ro.SetBudget(ctx, "d", 5, 0, "none"),
		"MarkStored": func() error {
			return ro.MarkStored(ctx, "r2", testStoredFiles)
		}(),
	} {
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("%s on a read-only ledger: %v", name, err)
		}
	}
	if got := snapshotDB(t, l); !bytes.Equal(got, snap) {
		t.Error("a read-only open changed the ledger file")
	}
	if got, _ := os.ReadFile(l.JournalPath()); !bytes.Equal(got, journal) {
		t.Error("a read-only open changed the journal")
	}
	if _, err := os.Stat(l.Path() + ".wal"); err == nil {
		t.Error("a read-only open left a .wal file")
	}

	rw, err := OpenLedger(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := rw.Inspect(ctx); err != nil || !strings.Contains(sum.Recovered, "applied journal entry 6") {
		t.Errorf("read-write Inspect = %+v, %v", sum, err)
	}

	// An append cut off mid-line: read without it, and left in place.
	f, err := os.OpenFile(l.JournalPath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":7,"time":"2025-`)
	f.Close()
	journal, _ = os.ReadFile(l.JournalPath())
	ro, err = OpenLedger(l.Path(), WithReadOnly())
	if err != nil {
		t.Fatalf("OpenLedger read-only, incomplete last line: %v", err)
	}
	if sum, err := ro.Inspect(ctx); err != nil || !strings.Contains(sum.Recovered, "incomplete line") || sum.Entries != 6 {
		t.Errorf("read-only Inspect = %+v, %v", sum, err)
	}
	if got, _ := os.ReadFile(l.JournalPath()); !bytes.Equal(got, journal) {
		t.Error("a read-only open removed the incomplete line")
	}
}

// TestBudgetChangesRecordWhoAndWhy: new budget_set entries carry set_by and
// reason; an entry written before (five fields) still verifies, with its
// hash unchanged, and shows empty who and why.
func TestBudgetChangesRecordWhoAndWhy(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	// An entry as privagg wrote it before it recorded who and why.
	err := l.withSession(ctx, true, func(s *session) error {
		return s.apply(ctx, opBudgetSet, map[string]string{
			"dataset": "d", "epsilon": "1", "delta": "0", "period": "none", "created": formatTime(s.now),
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(l.JournalPath())
	if err := l.ChangeBudget(ctx, BudgetRequest{Dataset: "d", Epsilon: 2, Period: "month", SetBy: "alice", Reason: "Q3 plan"}); err != nil {
		t.Fatal(err)
	}
	mustSetBudget(t, l, "d", 3, 0, "none")
	mustSetBudget(t, l, "other", 3, 0, "none")
	data, _ := os.ReadFile(l.JournalPath())
	if !bytes.HasPrefix(data, old) {
		t.Error("the older entries changed")
	}
	l2, err := OpenLedger(l.Path())
	if err != nil {
		t.Fatalf("a journal with entries of both forms does not verify: %v", err)
	}
	changes, err := l2.BudgetChanges(ctx, "d")
	if err != nil || len(changes) != 3 {
		t.Fatalf("BudgetChanges = %+v, %v", changes, err)
	}
	for i, want := range []struct{ eps, period, setBy, reason string }{
		{"1", "none", "", ""}, {"2", "month", "alice", "Q3 plan"}, {"3", "none", OSUser(), ""},
	} {
		c := changes[i]
		if c.Epsilon.String() != want.eps || c.Period != want.period || c.SetBy != want.setBy || c.Reason != want.reason || c.Time.IsZero() {
			t.Errorf("change %d = %+v, want %+v", i, c, want)
		}
	}
	var last journalEntry
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if err := json.Unmarshal(lines[2], &last); err != nil || last.Fields["set_by"] != "alice" || last.Fields["reason"] != "Q3 plan" {
		t.Errorf("journal entry %s: %v", lines[2], err)
	}
	if err := l.ChangeBudget(ctx, BudgetRequest{Dataset: "d", Epsilon: 1, Period: "none", Reason: "line\nbreak"}); err == nil {
		t.Error("a reason with a control character was accepted")
	}
	if err := l.ChangeBudget(ctx, BudgetRequest{Dataset: "d", Epsilon: 1, Period: "none", Reason: strings.Repeat("x", 1001)}); err == nil {
		t.Error("a reason of 1001 bytes was accepted")
	}
}

// TestLedgerFilesGroupReadable: the ledger and its journal are made 0640
// whatever the umask, so privacy officers (the group) can read them.
func TestLedgerFilesGroupReadable(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 0, "none")
	for _, p := range []string{l.Path(), l.JournalPath()} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != ledgerFileMode {
			t.Errorf("%s: mode %v, want %v", p, m, os.FileMode(ledgerFileMode))
		}
	}
}
