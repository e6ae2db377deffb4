package privacy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A budget below what the current period has spent is refused (issue 22
// item 10) unless BelowSpent is set; equal to the spend, or above, is fine.
func TestChangeBudgetBelowSpent(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "web_events", 2, 1e-6, "none")
	if _, err := l.Reserve(ctx, reserveReq("r1", "web_events", 1, 5e-7)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		eps, delta float64
		belowSpent bool
		want       string // "" if allowed
	}{
		{"epsilon below", 0.5, 1e-6, false, "epsilon 0.5 is below the epsilon 1 already spent"},
		{"delta below", 2, 1e-7, false, "delta 0.0000001 is below the delta 0.0000005 already spent"},
		{"both below", 0.5, 0, false, "epsilon 0.5 is below the epsilon 1 and delta 0 is below the delta 0.0000005"},
		{"forced", 0.5, 0, true, ""},
		{"equal to the spend", 1, 5e-7, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := l.ChangeBudget(ctx, BudgetRequest{Dataset: "web_events", Epsilon: tc.eps, Delta: tc.delta, Period: "none",
				Reason: "test", BelowSpent: tc.belowSpent})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ChangeBudget: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBelowSpent) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ChangeBudget: %v, want ErrBelowSpent with %q", err, tc.want)
			}
		})
	}
	// A new period counts only the spends inside it: a monthly budget
	// below this month's spend is refused too.
	err := l.ChangeBudget(ctx, BudgetRequest{Dataset: "web_events", Epsilon: 0.5, Delta: 1e-6, Period: "month", Reason: "test"})
	if !errors.Is(err, ErrBelowSpent) {
		t.Errorf("monthly budget below this month's spend: %v, want ErrBelowSpent", err)
	}
}
