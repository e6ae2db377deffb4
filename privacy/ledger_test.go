package privacy

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newTestLedger(t *testing.T, opts ...LedgerOption) *Ledger {
	t.Helper()
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.duckdb"), opts...)
	if err != nil {
		t.Fatalf("OpenLedger: %v", err)
	}
	return l
}

func reserveReq(id, dataset string, eps, delta float64) ReserveRequest {
	return ReserveRequest{ReleaseID: id, Dataset: dataset, Job: "campaign_weekly", Purpose: "marketing",
		Epsilon: eps, Delta: delta, Outputs: []string{"campaign_weekly"}, OutputDir: "out"}
}

func mustSetBudget(t *testing.T, l *Ledger, dataset string, eps, delta float64, period string) {
	t.Helper()
	if err := l.SetBudget(context.Background(), dataset, eps, delta, period); err != nil {
		t.Fatalf("SetBudget(%s, %v, %v, %s): %v", dataset, eps, delta, period, err)
	}
}

func mustReserve(t *testing.T, l *Ledger, req ReserveRequest) *Reservation {
	t.Helper()
	r, err := l.Reserve(context.Background(), req)
	if err != nil {
		t.Fatalf("Reserve(%s): %v", req.ReleaseID, err)
	}
	return r
}

func wantBudgetError(t *testing.T, err error, substr string) {
	t.Helper()
	var be *BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("error = %v (%T), want *BudgetError", err, err)
	}
	if !strings.Contains(be.Error(), substr) {
		t.Errorf("error = %q, want it to contain %q", be.Error(), substr)
	}
}

func wantLedgerError(t *testing.T, err error, substr string) *LedgerError {
	t.Helper()
	var le *LedgerError
	if !errors.As(err, &le) {
		t.Fatalf("error = %v (%T), want *LedgerError", err, err)
	}
	if !strings.Contains(le.Error(), substr) {
		t.Errorf("error = %q, want it to contain %q", le.Error(), substr)
	}
	if !strings.Contains(le.Hint, "backup") || !strings.Contains(le.Hint, "privagg budget verify") {
		t.Errorf("hint = %q, want restore instructions", le.Hint)
	}
	return le
}

func TestReserveExactArithmetic(t *testing.T) {
	ctx := context.Background()
	t.Run("ten spends of 0.1 exhaust 1 exactly", func(t *testing.T) {
		l := newTestLedger(t)
		mustSetBudget(t, l, "web_events", 1.0, 1e-5, "none")
		for i := range 10 {
			mustReserve(t, l, reserveReq(fmt.Sprintf("r%d", i), "web_events", 0.1, 1e-6))
		}
		st, err := l.Status(ctx, "web_events")
		if err != nil {
			t.Fatal(err)
		}
		if st.EpsilonSpent.String() != "1" || st.EpsilonRemaining.String() != "0" {
			t.Errorf("epsilon spent %s remaining %s, want 1 and 0", st.EpsilonSpent, st.EpsilonRemaining)
		}
		if st.DeltaSpent.String() != "0.00001" || !st.DeltaRemaining.IsZero() {
			t.Errorf("delta spent %s remaining %s, want 0.00001 and 0", st.DeltaSpent, st.DeltaRemaining)
		}
		_, err = l.Reserve(ctx, reserveReq("r10", "web_events", 0.1, 0))
		wantBudgetError(t, err, "requested epsilon 0.1, delta 0; spent epsilon 1 of 1, delta 0.00001 of 0.00001 in total; remaining epsilon 0, delta 0")
		// Even the smallest positive float does not fit.
		_, err = l.Reserve(ctx, reserveReq("r11", "web_events", 5e-324, 0))
		wantBudgetError(t, err, "not enough epsilon: ")
		if recs, _ := l.Releases(ctx); len(recs) != 10 {
			t.Errorf("%d releases recorded, want 10 (refusals charge nothing)", len(recs))
		}
	})
	t.Run("0.1 + 0.2 fits 0.3", func(t *testing.T) {
		// In float64, 0.1 + 0.2 > 0.3: a float ledger would refuse this.
		l := newTestLedger(t)
		mustSetBudget(t, l, "d", 0.3, 0, "none")
		mustReserve(t, l, reserveReq("a", "d", 0.1, 0))
		mustReserve(t, l, reserveReq("b", "d", 0.2, 0))
		if _, err := l.Check(ctx, "d", 1e-300, 0); err == nil {
			t.Error("Check of 1e-300 after spending 0.3 of 0.3: want *BudgetError")
		}
	})
	t.Run("delta is checked too", func(t *testing.T) {
		l := newTestLedger(t)
		mustSetBudget(t, l, "d", 10, 1e-6, "none")
		mustReserve(t, l, reserveReq("a", "d", 1, 6e-7))
		_, err := l.Reserve(ctx, reserveReq("b", "d", 1, 5e-7))
		wantBudgetError(t, err, "remaining epsilon 9, delta 4e-7")
	})
}

func TestNoBudgetRefusesEverything(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "other", 1, 0, "none")
	want := `budget refused for dataset "web_events": dataset "web_events" has no budget; set one with ` +
		"`privagg budget set web_events --ledger " + l.Path() + " --epsilon EPSILON --delta DELTA --reason REASON`"
	_, err := l.Reserve(ctx, reserveReq("r1", "web_events", 0.1, 0))
	if err == nil || err.Error() != want {
		t.Errorf("Reserve: error %v, want %q", err, want)
	}
	wantBudgetError(t, err, "has no budget")
	_, err = l.Check(ctx, "web_events", 0.1, 0)
	wantBudgetError(t, err, "has no budget")
	_, err = l.Status(ctx, "web_events")
	wantBudgetError(t, err, "has no budget")
	if rec, err := l.Lookup(ctx, "r1"); rec != nil || err != nil {
		t.Errorf("Lookup after refusal = %v, %v; want nil, nil", rec, err)
	}
}

func TestPeriods(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	jan10 := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		period    string
		later     time.Time // when to look again after spending 1 of 1 at jan10
		wantSpent string
		wantStart time.Time
		wantEnd   time.Time
	}{
		{"none counts forever", "none", jan10.Add(400 * day), "1", time.Time{}, time.Time{}},
		{"month: same month counts", "month", time.Date(2025, 1, 31, 23, 59, 59, 0, time.UTC), "1",
			time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"month: next month is fresh", "month", time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), "0",
			time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"30d: day 30 still counts", "30d", jan10.Add(30 * day), "1", jan10, jan10.Add(30 * day)},
		{"30d: after 30 days it expires", "30d", jan10.Add(30*day + time.Microsecond), "0",
			jan10.Add(time.Microsecond), jan10.Add(30*day + time.Microsecond)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: jan10}
			l := newTestLedger(t, WithClock(clock.now))
			mustSetBudget(t, l, "d", 1, 0, tc.period)
			mustReserve(t, l, reserveReq("r1", "d", 1, 0))
			_, err := l.Reserve(ctx, reserveReq("r2", "d", 1, 0))
			wantBudgetError(t, err, "not enough epsilon: ")

			clock.set(tc.later)
			st, err := l.Status(ctx, "d")
			if err != nil {
				t.Fatal(err)
			}
			if st.EpsilonSpent.String() != tc.wantSpent {
				t.Errorf("spent %s, want %s", st.EpsilonSpent, tc.wantSpent)
			}
			if tc.wantStart.IsZero() {
				if st.PeriodStart != nil || st.PeriodEnd != nil {
					t.Errorf("period %v - %v, want none", st.PeriodStart, st.PeriodEnd)
				}
			} else if st.PeriodStart == nil || !st.PeriodStart.Equal(tc.wantStart) || !st.PeriodEnd.Equal(tc.wantEnd) {
				t.Errorf("period %v - %v, want %v - %v", st.PeriodStart, st.PeriodEnd, tc.wantStart, tc.wantEnd)
			}
			_, err = l.Reserve(ctx, reserveReq("r3", "d", 1, 0))
			if (err == nil) != (tc.wantSpent == "0") {
				t.Errorf("Reserve in the later period: %v", err)
			}
			rec, err := l.Lookup(ctx, "r1")
			if err != nil || rec == nil {
				t.Fatalf("Lookup: %v, %v", rec, err)
			}
			if tc.period == "none" && rec.PeriodStart != nil {
				t.Errorf("period_start %v, want nil without periods", rec.PeriodStart)
			}
			if tc.period == "month" && (rec.PeriodStart == nil || !rec.PeriodStart.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))) {
				t.Errorf("period_start %v, want 2025-01-01", rec.PeriodStart)
			}
		})
	}
}

func TestParsePeriod(t *testing.T) {
	for _, s := range []string{"none", "month", "1d", "30d", "3660d"} {
		p, err := ParsePeriod(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePeriod(%q) = %v, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "0d", "-1d", "030d", "3661d", "30", "week", "1.5d", "Month"} {
		if _, err := ParsePeriod(s); err == nil {
			t.Errorf("ParsePeriod(%q): want error", s)
		}
	}
}

func TestSetBudgetValidates(t *testing.T) {
	l := newTestLedger(t)
	for _, tc := range []struct {
		name, dataset string
		eps, delta    float64
		period, want  string
	}{
		{"zero epsilon", "d", 0, 0, "none", "epsilon: 0: must be > 0"},
		{"negative epsilon", "d", -1, 0, "none", "must be >= 0"},
		{"delta 1", "d", 1, 1, "none", "delta: 1: must be < 1"},
		{"bad period", "d", 1, 0, "weekly", `period "weekly"`},
		{"empty dataset", "", 1, 0, "none", `dataset ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := l.SetBudget(context.Background(), tc.dataset, tc.eps, tc.delta, tc.period)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(l.Path()); !os.IsNotExist(err) {
		t.Errorf("invalid budgets created the ledger file: %v", err)
	}
}

func TestReleaseStates(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 1e-6, "none")
	spent := func() string {
		t.Helper()
		st, err := l.Status(ctx, "d")
		if err != nil {
			t.Fatal(err)
		}
		return st.EpsilonSpent.String()
	}
	state := func(id string) ReleaseState {
		t.Helper()
		rec, err := l.Lookup(ctx, id)
		if err != nil || rec == nil {
			t.Fatalf("Lookup(%s) = %v, %v", id, rec, err)
		}
		return rec.State
	}

	res := mustReserve(t, l, reserveReq("r1", "d", 0.5, 1e-7))
	if res.ReleaseID() != "r1" || res.Dataset() != "d" || res.Epsilon() != 0.5 || res.Delta() != 1e-7 {
		t.Errorf("reservation = %s %s %v %v", res.ReleaseID(), res.Dataset(), res.Epsilon(), res.Delta())
	}
	if got := state("r1"); got != StateReserved {
		t.Errorf("state %s, want reserved", got)
	}
	// Reserved again (a crashed run re-run): same reservation, no new charge.
	again := mustReserve(t, l, reserveReq("r1", "d", 0.5, 1e-7))
	if again.Epsilon() != 0.5 || spent() != "0.5" {
		t.Errorf("re-reserve charged again: spent %s", spent())
	}
	if _, err := l.Reserve(ctx, reserveReq("r1", "d", 0.25, 1e-7)); !errors.Is(err, ErrReleaseConflict) {
		t.Errorf("re-reserve with another epsilon: %v, want ErrReleaseConflict", err)
	}
	if err := l.MarkPublished(ctx, "r1"); !errors.Is(err, ErrReleaseConflict) {
		t.Errorf("publish a reserved release: %v, want ErrReleaseConflict", err)
	}
	if err := l.MarkStored(ctx, "r1", testStoredFiles); err != nil {
		t.Fatal(err)
	}
	if got := state("r1"); got != StateStored {
		t.Errorf("state %s, want stored", got)
	}
	if _, err := l.Reserve(ctx, reserveReq("r1", "d", 0.5, 1e-7)); !errors.Is(err, ErrAlreadyStored) {
		t.Errorf("reserve a stored release: %v, want ErrAlreadyStored", err)
	}
	if err := l.MarkPublished(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkPublished(ctx, "r1"); err != nil {
		t.Errorf("publish twice: %v, want nil (re-publish)", err)
	}
	if err := l.MarkStored(ctx, "r1", testStoredFiles); err != nil {
		t.Errorf("mark a published release stored: %v, want nil (no-op)", err)
	}
	rec, err := l.Lookup(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != StatePublished || rec.StoredAt == nil || rec.PublishedAt == nil || rec.PublishedAt.Before(*rec.StoredAt) ||
		rec.Job != "campaign_weekly" || rec.Purpose != "marketing" || rec.OutputDir != "out" || len(rec.Outputs) != 1 {
		t.Errorf("record = %+v", rec)
	}
	if _, err := l.Reserve(ctx, reserveReq("r1", "d", 0.5, 1e-7)); !errors.Is(err, ErrAlreadyStored) {
		t.Errorf("reserve a published release: %v, want ErrAlreadyStored", err)
	}
	if spent() != "0.5" {
		t.Errorf("spent %s after re-runs, want 0.5 (charged once)", spent())
	}
	if err := l.MarkStored(ctx, "nope", testStoredFiles); !errors.Is(err, ErrUnknownRelease) {
		t.Errorf("MarkStored(unknown): %v, want ErrUnknownRelease", err)
	}
	if rec, err := l.Lookup(ctx, "nope"); rec != nil || err != nil {
		t.Errorf("Lookup(unknown) = %v, %v; want nil, nil", rec, err)
	}
	// A stored release still counts: no refunds.
	mustReserve(t, l, reserveReq("r2", "d", 0.5, 0))
	_, err = l.Reserve(ctx, reserveReq("r3", "d", 0.01, 0))
	wantBudgetError(t, err, "spent epsilon 1 of 1")
	hist, err := l.History(ctx, "d")
	if err != nil || len(hist) != 2 || hist[0].ReleaseID != "r1" || hist[1].State != StateReserved {
		t.Errorf("History = %+v, %v", hist, err)
	}
	if got := l.StoreDir("r1"); got != filepath.Join(filepath.Dir(l.Path()), "privagg-releases", "r1") {
		t.Errorf("StoreDir = %s", got)
	}
}

func TestReserveValidates(t *testing.T) {
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 0, "none")
	for _, tc := range []struct {
		name string
		req  ReserveRequest
		want string
	}{
		{"path in release id", reserveReq("../x", "d", 0.1, 0), "release id"},
		{"empty release id", reserveReq("", "d", 0.1, 0), "release id"},
		{"zero epsilon", reserveReq("a", "d", 0, 0), "epsilon"},
		{"NaN delta", reserveReq("a", "d", 0.1, nanValue()), "delta"},
		{"bad sha", func() ReserveRequest { r := reserveReq("a", "d", 0.1, 0); r.JobSHA256 = "xyz"; return r }(), "sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Reserve(context.Background(), tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func nanValue() float64 { var z float64; return z / z }

func TestNewLedgerIsCreatedOnFirstWrite(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	if _, err := l.Statuses(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Releases(ctx); err != nil {
		t.Fatal(err)
	}
	sum, err := l.Inspect(ctx)
	if err != nil || sum.Exists || sum.Entries != 0 {
		t.Errorf("Inspect of a new ledger = %+v, %v", sum, err)
	}
	for _, p := range []string{l.Path(), l.JournalPath()} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("reads created %s", p)
		}
	}
	mustSetBudget(t, l, "d", 1, 0, "none")
	sum, err = l.Inspect(ctx)
	if err != nil || !sum.Exists || sum.Entries != 2 || sum.Budgets != 1 {
		t.Errorf("Inspect after first write = %+v, %v", sum, err)
	}
}

// TestJournalFormat checks the journal's lines: seq, time, op, fields, prev
// (SHA-256 of the previous line) and hash.
func TestJournalFormat(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 1e-6, "month")
	mustReserve(t, l, reserveReq("r1", "d", 0.1, 0))
	if err := l.MarkStored(ctx, "r1", testStoredFiles); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkPublished(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	prev := strings.Repeat("0", 64)
	var ops []string
	for i := 1; sc.Scan(); i++ {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		for _, k := range []string{"seq", "time", "op", "fields", "prev", "hash"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d has no %q", i, k)
			}
		}
		if m["seq"] != float64(i) || m["prev"] != prev {
			t.Errorf("line %d: seq %v prev %v, want %d %s", i, m["seq"], m["prev"], i, prev)
		}
		prev = sha256Hex(sc.Bytes())
		ops = append(ops, m["op"].(string))
	}
	want := []string{opLedgerCreated, opBudgetSet, opReserved, opStored, opPublished}
	if strings.Join(ops, ",") != strings.Join(want, ",") {
		t.Errorf("ops %v, want %v", ops, want)
	}
	if !strings.Contains(string(data), `"epsilon":"0.000001"`) && !strings.Contains(string(data), `"delta":"0.000001"`) {
		t.Errorf("journal does not store delta as exact decimal text:\n%s", data)
	}
}

// damagedLedger builds a ledger with a few entries and returns it, closed.
func damagedLedger(t *testing.T) *Ledger {
	t.Helper()
	l := newTestLedger(t, WithLockTimeout(2*time.Second))
	mustSetBudget(t, l, "d", 1, 1e-6, "none")
	mustReserve(t, l, reserveReq("r1", "d", 0.1, 0))
	if err := l.MarkStored(context.Background(), "r1", testStoredFiles); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, l, reserveReq("r2", "d", 0.2, 0))
	return l
}

func rewriteJournal(t *testing.T, l *Ledger, edit func(lines []string) []string) {
	t.Helper()
	data, err := os.ReadFile(l.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if err := os.WriteFile(l.JournalPath(), []byte(strings.Join(edit(lines), "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedLedgerFailsClosed(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, l *Ledger)
		want   string
	}{
		{"truncated ledger file", func(t *testing.T, l *Ledger) {
			fi, err := os.Stat(l.Path())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(l.Path(), fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, "ledger file"},
		{"ledger file overwritten with garbage", func(t *testing.T, l *Ledger) {
			if err := os.WriteFile(l.Path(), bytes.Repeat([]byte("x"), 8192), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "cannot open the ledger file"},
		{"deleted journal", func(t *testing.T, l *Ledger) {
			if err := os.Remove(l.JournalPath()); err != nil {
				t.Fatal(err)
			}
		}, "journal " + "" + "", // path varies; checked below
		},
		{"deleted ledger file", func(t *testing.T, l *Ledger) {
			if err := os.Remove(l.Path()); err != nil {
				t.Fatal(err)
			}
		}, "the ledger file is missing but its journal has 5 entries"},
		{"journal line edited", func(t *testing.T, l *Ledger) {
			rewriteJournal(t, l, func(lines []string) []string {
				lines[2] = strings.Replace(lines[2], `"epsilon":"0.1"`, `"epsilon":"0.01"`, 1)
				return lines
			})
		}, "journal line 3: hash does not match"},
		{"journal line removed", func(t *testing.T, l *Ledger) {
			rewriteJournal(t, l, func(lines []string) []string { return append(lines[:2], lines[3:]...) })
		}, "journal line 3: seq 4, want 3"},
		{"journal missing its last entry", func(t *testing.T, l *Ledger) {
			rewriteJournal(t, l, func(lines []string) []string { return lines[:len(lines)-1] })
		}, "the journal has 4 entries but the ledger has applied 5: the journal is missing entries"},
		{"journal truncated mid-line", func(t *testing.T, l *Ledger) {
			rewriteJournal(t, l, func(lines []string) []string {
				last := lines[len(lines)-1]
				lines[len(lines)-1] = last[:len(last)/2]
				return lines
			})
		}, "the journal ends in an incomplete line"},
		{"journal empty", func(t *testing.T, l *Ledger) {
			rewriteJournal(t, l, func([]string) []string { return nil })
		}, "the journal has 0 entries but the ledger has applied 5"},
		{"journal not JSON", func(t *testing.T, l *Ledger) {
			rewriteJournal(t, l, func(lines []string) []string { lines[1] = "{oops\n"; return lines })
		}, "journal line 2: not a journal entry"},
		{"journal from another ledger", func(t *testing.T, l *Ledger) {
			other := damagedLedger(t)
			data, err := os.ReadFile(other.JournalPath())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(l.JournalPath(), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "hash differs"},
		{"journal ahead by two entries", func(t *testing.T, l *Ledger) {
			snap := snapshotDB(t, l)
			mustReserve(t, l, reserveReq("r3", "d", 0.1, 0))
			mustReserve(t, l, reserveReq("r4", "d", 0.1, 0))
			restoreDB(t, l, snap)
		}, "the journal has 7 entries but the ledger has applied only 5: the ledger is missing entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l := damagedLedger(t)
			tc.damage(t, l)
			journalBefore, _ := os.ReadFile(l.JournalPath())

			_, err := OpenLedger(l.Path())
			le := wantLedgerError(t, err, tc.want)
			if tc.name == "deleted journal" && !strings.Contains(le.Reason, "is missing; the ledger has 5 entries") {
				t.Errorf("reason %q", le.Reason)
			}
			// Every operation on a handle opened before the damage fails closed.
			_, err = l.Reserve(ctx, reserveReq("new", "d", 0.01, 0))
			wantLedgerError(t, err, tc.want)
			_, err = l.Status(ctx, "d")
			wantLedgerError(t, err, tc.want)
			// A handle that verifies on first use opens, and its first
			// operation (a run's Preflight) refuses the same way.
			lazy, err := OpenLedger(l.Path(), VerifyOnFirstUse())
			if err != nil {
				t.Fatalf("OpenLedger with VerifyOnFirstUse: %v", err)
			}
			_, _, err = lazy.Preflight(ctx, "new", "d", 0.01, 0)
			wantLedgerError(t, err, tc.want)
			if err := l.MarkPublished(ctx, "r1"); err == nil {
				t.Error("MarkPublished on a damaged ledger succeeded")
			}
			if journalAfter, _ := os.ReadFile(l.JournalPath()); !bytes.Equal(journalBefore, journalAfter) {
				t.Error("an operation on a damaged ledger changed the journal")
			}
		})
	}
}

func snapshotDB(t *testing.T, l *Ledger) []byte {
	t.Helper()
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func restoreDB(t *testing.T, l *Ledger, data []byte) {
	t.Helper()
	os.Remove(l.Path() + ".wal")
	if err := os.WriteFile(l.Path(), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestInterruptedWritesRecover checks the states a crash can leave: they are
// completed or removed on the next open, never silently lost.
func TestInterruptedWritesRecover(t *testing.T) {
	ctx := context.Background()
	t.Run("journal entry written, ledger not committed", func(t *testing.T) {
		l := damagedLedger(t)
		snap := snapshotDB(t, l)
		mustReserve(t, l, reserveReq("r3", "d", 0.3, 0))
		restoreDB(t, l, snap) // the ledger as it was before the commit
		sum, err := l.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(sum.Recovered, "applied journal entry 6 (reserved)") {
			t.Errorf("Recovered = %q", sum.Recovered)
		}
		st, err := l.Status(ctx, "d")
		if err != nil || st.EpsilonSpent.String() != "0.6" {
			t.Errorf("spent %s, %v; want 0.6 (the journaled charge counts)", st.EpsilonSpent, err)
		}
		if sum, _ := l.Inspect(ctx); sum.Recovered != "" || sum.Entries != 6 {
			t.Errorf("second Inspect = %+v", sum)
		}
	})
	t.Run("journal append interrupted mid-line", func(t *testing.T) {
		l := damagedLedger(t)
		before, _ := os.ReadFile(l.JournalPath())
		f, err := os.OpenFile(l.JournalPath(), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(`{"seq":6,"time":"2025-`)
		f.Close()
		sum, err := l.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(sum.Recovered, "incomplete last journal line") {
			t.Errorf("Recovered = %q", sum.Recovered)
		}
		if after, _ := os.ReadFile(l.JournalPath()); !bytes.Equal(before, after) {
			t.Error("the incomplete line was not removed")
		}
		mustReserve(t, l, reserveReq("r3", "d", 0.1, 0))
	})
	t.Run("first write interrupted after the journal, before the ledger file", func(t *testing.T) {
		l := newTestLedger(t)
		mustSetBudget(t, l, "d", 1, 0, "none")
		rewriteJournal(t, l, func(lines []string) []string { return lines[:1] })
		os.Remove(l.Path())
		if _, err := OpenLedger(l.Path()); err != nil {
			t.Fatalf("OpenLedger: %v", err)
		}
		mustSetBudget(t, l, "d", 1, 0, "none")
		if sum, err := l.Inspect(ctx); err != nil || sum.Entries != 2 {
			t.Errorf("Inspect = %+v, %v", sum, err)
		}
	})
	t.Run("ledger file created, nothing written yet", func(t *testing.T) {
		l := newTestLedger(t)
		db, err := sql.Open("duckdb", l.Path()) // an empty DuckDB file, no tables, no journal
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if st, err := l.Statuses(ctx); err != nil || len(st) != 0 {
			t.Fatalf("Statuses = %v, %v", st, err)
		}
		mustSetBudget(t, l, "d", 1, 0, "none")
	})
}

func TestLockTimeout(t *testing.T) {
	l := newTestLedger(t, WithLockTimeout(50*time.Millisecond))
	unlock, err := lockProcess(context.Background(), l.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	start := time.Now()
	err = l.SetBudget(context.Background(), "d", 1, 0, "none")
	wantLedgerErrorReason(t, err, "held by another process")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v, want about 50ms", d)
	}
}

func wantLedgerErrorReason(t *testing.T, err error, substr string) {
	t.Helper()
	var le *LedgerError
	if !errors.As(err, &le) || !strings.Contains(le.Reason, substr) {
		t.Fatalf("error = %v, want *LedgerError with reason containing %q", err, substr)
	}
}

// TestConcurrentReservesInProcess: many goroutines race for a budget that
// fits exactly five of them.
func TestConcurrentReservesInProcess(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 0, "none")
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = l.Reserve(ctx, reserveReq(fmt.Sprintf("r%d", i), "d", 0.2, 0))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var be *BudgetError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &be):
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 5 {
		t.Errorf("%d reservations succeeded, want 5", ok)
	}
	if err := l.Verify(ctx); err != nil {
		t.Error(err)
	}
}

// TestSessionsOnSeveralLedgersInProcess: sessions on different ledgers of
// one process run at the same time (each ledger path has a DuckDB host of
// its own: a host shared across ledgers kept a detached file attached while
// other sessions' transactions ran, and the next session on that file
// failed) and each ledger gets exactly its own reservations. Five ledgers,
// one more than the hosts kept idle, so that hosts are also closed and
// started again.
func TestSessionsOnSeveralLedgersInProcess(t *testing.T) {
	ctx := context.Background()
	ledgers := make([]*Ledger, maxHosts+1)
	for i := range ledgers {
		ledgers[i] = newTestLedger(t)
		mustSetBudget(t, ledgers[i], "d", 1, 0, "none")
	}
	var wg sync.WaitGroup
	errs := make([]error, 4*len(ledgers))
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = ledgers[i%len(ledgers)].Reserve(ctx, reserveReq(fmt.Sprintf("r%d", i), "d", 0.25, 0))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("reservation %d: %v", i, err)
		}
	}
	for i, l := range ledgers {
		if err := l.Verify(ctx); err != nil {
			t.Errorf("ledger %d: %v", i, err)
		}
		if _, err := l.Reserve(ctx, reserveReq("one-more", "d", 0.25, 0)); err == nil {
			t.Errorf("ledger %d: a fifth reservation of 0.25 fitted a budget of 1", i)
		}
	}
}
