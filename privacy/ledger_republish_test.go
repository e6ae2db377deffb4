package privacy

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestMarkRepublished records a re-publication in the journal: it survives
// a re-open (the journal is replayed and verified), moves LastPublished,
// and is refused for a release that is not published.
func TestMarkRepublished(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	l := newTestLedger(t, WithClock(clock.now))
	mustSetBudget(t, l, "d", 1, 1e-6, "month")
	mustReserve(t, l, reserveReq("r1", "d", 0.1, 0))
	if err := l.MarkRepublished(ctx, "r1"); !errors.Is(err, ErrReleaseConflict) {
		t.Errorf("republish a reserved release: %v, want ErrReleaseConflict", err)
	}
	if err := l.MarkRepublished(ctx, "nope"); !errors.Is(err, ErrUnknownRelease) {
		t.Errorf("republish an unknown release: %v, want ErrUnknownRelease", err)
	}
	if err := l.MarkStored(ctx, "r1", testStoredFiles); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkPublished(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	rec, err := l.Lookup(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.RepublishedAt != nil || rec.LastPublished() == nil || !rec.LastPublished().Equal(*rec.PublishedAt) {
		t.Errorf("before a re-publication: republished %v, last %v", rec.RepublishedAt, rec.LastPublished())
	}
	later := clock.now().Add(time.Hour)
	clock.set(later)
	if err := l.MarkRepublished(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	path := l.Path()
	l2, err := OpenLedger(path, WithReadOnly())
	if err != nil {
		t.Fatalf("re-open after a re-publication: %v", err)
	}
	if err := l2.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}
	rec, err = l2.Lookup(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.RepublishedAt == nil || !rec.RepublishedAt.Equal(later) || !rec.LastPublished().Equal(later) || rec.PublishedAt.Equal(later) {
		t.Errorf("after a re-publication: published %v, republished %v, last %v; want last %v", rec.PublishedAt, rec.RepublishedAt, rec.LastPublished(), later)
	}
}
