package privacy

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// testStoredFiles is a valid StoredFiles for ledger tests.
var testStoredFiles = StoredFiles{
	SHA256: map[string]string{
		"campaign_weekly.csv":           strings.Repeat("a", 64),
		"campaign_weekly.manifest.json": strings.Repeat("b", 64),
		"internal/run-report.json":      strings.Repeat("c", 64),
	},
	Published: []string{"campaign_weekly.csv", "campaign_weekly.manifest.json"},
}

// TestWritingIsNeverResumed: once MarkWriting says noised values may reach
// disk, the release is stored or never completed: Reserve refuses it,
// MarkWriting cannot be recorded twice, and the charge stays.
func TestWritingIsNeverResumed(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 1e-6, "none")
	mustReserve(t, l, reserveReq("r1", "d", 0.5, 0))
	if err := l.MarkWriting(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkWriting(ctx, "r1"); !errors.Is(err, ErrNoiseWritten) {
		t.Errorf("MarkWriting twice: %v, want ErrNoiseWritten", err)
	}
	if _, err := l.Reserve(ctx, reserveReq("r1", "d", 0.5, 0)); !errors.Is(err, ErrNoiseWritten) ||
		!strings.Contains(err.Error(), "new release id") {
		t.Errorf("resume after MarkWriting: %v, want ErrNoiseWritten saying to use a new release id", err)
	}
	rec, err := l.Lookup(ctx, "r1")
	if err != nil || rec.WritingAt == nil || !errors.Is(rec.CheckResumable(), ErrNoiseWritten) {
		t.Errorf("Lookup: %+v, %v; want WritingAt set and not resumable", rec, err)
	}
	if st, _ := l.Status(ctx, "d"); st.EpsilonSpent.String() != "0.5" {
		t.Errorf("spent %s, want 0.5", st.EpsilonSpent)
	}
	if err := l.MarkWriting(ctx, "nope"); !errors.Is(err, ErrUnknownRelease) {
		t.Errorf("MarkWriting(unknown): %v", err)
	}
	if err := l.MarkStored(ctx, "r1", testStoredFiles); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkWriting(ctx, "r1"); !errors.Is(err, ErrAlreadyStored) {
		t.Errorf("MarkWriting of a stored release: %v, want ErrAlreadyStored", err)
	}
	rec, err = l.Lookup(ctx, "r1")
	if err != nil || rec.Files == nil || !reflect.DeepEqual(*rec.Files, testStoredFiles) {
		t.Errorf("Lookup files = %+v, %v; want %+v", rec.Files, err, testStoredFiles)
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStoredFilesValidated: MarkStored refuses files it could not verify
// later, and records nothing.
func TestStoredFilesValidated(t *testing.T) {
	hash := strings.Repeat("a", 64)
	for name, f := range map[string]StoredFiles{
		"none":                {},
		"nothing published":   {SHA256: map[string]string{"a.csv": hash}},
		"short hash":          {SHA256: map[string]string{"a.csv": "abc"}, Published: []string{"a.csv"}},
		"upper-case hash":     {SHA256: map[string]string{"a.csv": strings.Repeat("A", 64)}, Published: []string{"a.csv"}},
		"parent folder":       {SHA256: map[string]string{"../a.csv": hash}, Published: []string{"../a.csv"}},
		"absolute":            {SHA256: map[string]string{"/a.csv": hash}, Published: []string{"/a.csv"}},
		"hidden":              {SHA256: map[string]string{".a.csv": hash}, Published: []string{".a.csv"}},
		"published not in it": {SHA256: map[string]string{"a.csv": hash}, Published: []string{"b.csv"}},
		"published twice":     {SHA256: map[string]string{"a.csv": hash}, Published: []string{"a.csv", "a.csv"}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			l := newTestLedger(t)
			mustSetBudget(t, l, "d", 1, 1e-6, "none")
			mustReserve(t, l, reserveReq("r1", "d", 0.5, 0))
			if err := l.MarkStored(ctx, "r1", f); err == nil {
				t.Fatal("MarkStored accepted it")
			}
			if rec, _ := l.Lookup(ctx, "r1"); rec.State != StateReserved {
				t.Errorf("state %s, want reserved", rec.State)
			}
		})
	}
}

// TestResumeChecksTheJob: a reserved release is resumed only by the job that
// reserved it: the same digest when one was recorded, else (releases
// reserved before digests) the same name, purpose and job file.
func TestResumeChecksTheJob(t *testing.T) {
	ctx := context.Background()
	digest, file := strings.Repeat("d", 64), strings.Repeat("f", 64)
	withDigest := func(d string) ReserveRequest {
		r := reserveReq("r1", "d", 0.5, 0)
		r.JobDigest, r.JobSHA256 = d, file
		return r
	}
	for _, tc := range []struct {
		name        string
		first, then ReserveRequest
		ok          bool
	}{
		{"same digest", withDigest(digest), withDigest(digest), true},
		{"other digest", withDigest(digest), withDigest(strings.Repeat("e", 64)), false},
		{"no digest given", withDigest(digest), withDigest(""), false},
		{"legacy same job", withDigest(""), withDigest(digest), true},
		{"legacy other purpose", withDigest(""), func() ReserveRequest { r := withDigest(digest); r.Purpose = "analytics"; return r }(), false},
		{"legacy other name", withDigest(""), func() ReserveRequest { r := withDigest(digest); r.Job = "other"; return r }(), false},
		{"legacy other file", withDigest(""), func() ReserveRequest { r := withDigest(digest); r.JobSHA256 = strings.Repeat("0", 64); return r }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLedger(t)
			mustSetBudget(t, l, "d", 1, 1e-6, "none")
			mustReserve(t, l, tc.first)
			_, err := l.Reserve(ctx, tc.then)
			if tc.ok != (err == nil) {
				t.Fatalf("resume: %v, want ok %v", err, tc.ok)
			}
			if !tc.ok && (!errors.Is(err, ErrReleaseConflict) || !strings.Contains(err.Error(), "different job")) {
				t.Errorf("resume by another job: %v, want ErrReleaseConflict naming a different job", err)
			}
		})
	}
}

// TestJournalWithoutIntegrityFields: a journal written before privagg
// recorded job digests, writing entries and stored files (a reserved and a
// stored entry without the new fields) still verifies and reads, and its
// stored release has no recorded files.
func TestJournalWithoutIntegrityFields(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 1e-6, "none")
	mustReserve(t, l, reserveReq("r1", "d", 0.5, 0)) // no digest: the old form of the entry
	err := l.withSession(ctx, true, func(s *session) error {
		return s.apply(ctx, opStored, map[string]string{"release_id": "r1", "stored_at": formatTime(s.now)})
	})
	if err != nil {
		t.Fatal(err)
	}
	journal, err := os.ReadFile(l.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{fieldJobDigest, fieldFiles, fieldPublished, opWriting} {
		if strings.Contains(string(journal), `"`+f+`"`) {
			t.Fatalf("the old-form journal has %q", f)
		}
	}
	l2, err := OpenLedger(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := l2.Lookup(ctx, "r1")
	if err != nil || rec.State != StateStored || rec.Files != nil || rec.JobDigest != "" || rec.WritingAt != nil {
		t.Errorf("Lookup = %+v, %v", rec, err)
	}
	if err := l2.MarkPublished(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := l2.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
