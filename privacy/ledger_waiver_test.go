package privacy

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConsentWaiverInJournal: a release of a job with consent.waived
// records the reason in its reserved journal entry; the ledger file has no
// column for it, so Lookup and History read it from the verified journal,
// also after reopening. Entries without the field (every release with
// consent, and every entry written before the field existed) keep their
// earlier form and verify as before; editing the reason breaks the chain.
func TestConsentWaiverInJournal(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t, WithLockTimeout(5*time.Second))
	mustSetBudget(t, l, "d", 1, 1e-6, "none")
	waived := reserveReq("r1", "d", 0.1, 0)
	waived.ConsentWaiver = "public registry data (legal ref. 2026-17)"
	mustReserve(t, l, waived)
	mustReserve(t, l, reserveReq("r2", "d", 0.1, 0))
	if err := l.MarkStored(ctx, "r1", testStoredFiles); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(l.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	oldKeys := []string{"dataset", "delta", "epsilon", "job", "job_sha256", "output_dir", "outputs", "period_start", "purpose", "release_id", "reserved_at"}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e journalEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Op != opReserved {
			continue
		}
		var keys []string
		for k := range e.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := oldKeys
		if e.Fields["release_id"] == "r1" {
			want = append(slices.Clone(oldKeys[:1]), oldKeys...)
			want[0] = "consent_waiver"
			if e.Fields["consent_waiver"] != waived.ConsentWaiver {
				t.Errorf("r1 journal waiver %q", e.Fields["consent_waiver"])
			}
		}
		if !slices.Equal(keys, want) {
			t.Errorf("%s: journal fields %v, want %v", e.Fields["release_id"], keys, want)
		}
	}

	check := func(l *Ledger) {
		t.Helper()
		for id, want := range map[string]string{"r1": waived.ConsentWaiver, "r2": ""} {
			rec, err := l.Lookup(ctx, id)
			if err != nil || rec == nil || rec.ConsentWaiver != want {
				t.Errorf("Lookup(%s) = %+v, %v; want waiver %q", id, rec, err, want)
			}
		}
		hist, err := l.History(ctx, "d")
		if err != nil || len(hist) != 2 {
			t.Fatalf("History: %v, %v", hist, err)
		}
		for _, r := range hist {
			if (r.ReleaseID == "r1") != (r.ConsentWaiver != "") {
				t.Errorf("History %s: waiver %q", r.ReleaseID, r.ConsentWaiver)
			}
		}
	}
	check(l)
	again, err := OpenLedger(l.Path(), WithLockTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	check(again)

	// Editing the recorded reason breaks the journal's hash chain.
	rewriteJournal(t, l, func(lines []string) []string {
		for i, line := range lines {
			lines[i] = strings.Replace(line, "legal ref. 2026-17", "legal ref. 2026-18", 1)
		}
		return lines
	})
	_, err = again.Lookup(ctx, "r1")
	wantLedgerError(t, err, "journal")
}

func TestConsentWaiverValidated(t *testing.T) {
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 0, "none")
	for _, w := range []string{"two\nlines", "   "} {
		req := reserveReq("r1", "d", 0.1, 0)
		req.ConsentWaiver = w
		if _, err := l.Reserve(context.Background(), req); err == nil || !strings.Contains(err.Error(), "consent waiver") {
			t.Errorf("waiver %q: %v, want an error", w, err)
		}
	}
}
