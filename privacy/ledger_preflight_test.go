package privacy

import (
	"context"
	"errors"
	"testing"
)

// TestPreflight: one session gives the release (nil if new) and whether a
// new charge would fit, as Check decides it, keeping a refusal apart from
// the ledger's own errors.
func TestPreflight(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 0, "none")
	if _, err := l.Reserve(ctx, reserveReq("r1", "d", 0.6, 0)); err != nil {
		t.Fatal(err)
	}
	rec, fit, err := l.Preflight(ctx, "r1", "d", 0.3, 0)
	if err != nil || fit != nil || rec == nil || rec.ReleaseID != "r1" || rec.State != StateReserved {
		t.Fatalf("Preflight(r1, 0.3) = %+v, %v, %v; want the reserved release, fits", rec, fit, err)
	}
	rec, fit, err = l.Preflight(ctx, "r2", "d", 0.5, 0)
	var be *BudgetError
	if err != nil || rec != nil || !errors.As(fit, &be) {
		t.Fatalf("Preflight(r2, 0.5) = %+v, %v, %v; want no release and a *BudgetError", rec, fit, err)
	}
	if _, want := l.Check(ctx, "d", 0.5, 0); want == nil || fit.Error() != want.Error() {
		t.Errorf("Preflight's refusal %q differs from Check's %v", fit, want)
	}
	if _, fit, err = l.Preflight(ctx, "r2", "nobudget", 0.1, 0); err != nil || !errors.As(fit, &be) {
		t.Errorf("Preflight on a dataset without budget: fit %v, err %v; want a *BudgetError refusal", fit, err)
	}
	if _, _, err = l.Preflight(ctx, "r2", "d", -1, 0); err == nil {
		t.Error("Preflight accepted epsilon -1")
	}
}

// TestLookupStatus: the release and its dataset's status, with the release
// charged, in one session; an unknown release is ErrUnknownRelease.
func TestLookupStatus(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 0, "none")
	if _, err := l.Reserve(ctx, reserveReq("r1", "d", 0.25, 0)); err != nil {
		t.Fatal(err)
	}
	rec, st, err := l.LookupStatus(ctx, "r1")
	if err != nil || rec == nil || rec.ReleaseID != "r1" || st.Dataset != "d" || st.EpsilonSpent.String() != "0.25" {
		t.Fatalf("LookupStatus(r1) = %+v, %+v, %v", rec, st, err)
	}
	if _, _, err := l.LookupStatus(ctx, "nope"); !errors.Is(err, ErrUnknownRelease) {
		t.Errorf("LookupStatus(nope) error = %v, want ErrUnknownRelease", err)
	}
}
