package privacy

import (
	"context"
	"reflect"
	"testing"
)

func TestWeakParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		eps, delta float64
		want       []string
	}{
		{10, 9.999e-6, nil},
		{10, 0, nil},
		{10.000001, 0, []string{"epsilon"}},
		{1, 1e-5, []string{"delta"}},
		{1e308, 0.9, []string{"epsilon", "delta"}},
	} {
		var got []string
		for _, w := range WeakParams(tc.eps, tc.delta) {
			got = append(got, w.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("WeakParams(%v, %v) = %v, want %v", tc.eps, tc.delta, got, tc.want)
		}
	}
	w := WeakParams(1, 1e-5)[0]
	if want := "is at or above 0.00001: weak privacy"; w.Rule != want {
		t.Errorf("rule %q, want %q", w.Rule, want)
	}
}

// A refusal names the parameter that is short: epsilon, delta or both.
func TestBudgetRefusalNamesWhatIsShort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newTestLedger(t)
	mustSetBudget(t, l, "d", 1, 1e-6, "none")
	mustReserve(t, l, reserveReq("r1", "d", 0.5, 1e-6))
	for _, tc := range []struct {
		id         string
		eps, delta float64
		want       string
	}{
		{"r2", 0.25, 1e-7, "not enough delta: requested epsilon 0.25, delta 1e-7;"},
		{"r3", 0.75, 0, "not enough epsilon: requested epsilon 0.75, delta 0;"},
		{"r4", 0.75, 1e-7, "not enough epsilon and delta: "},
	} {
		_, err := l.Reserve(ctx, reserveReq(tc.id, "d", tc.eps, tc.delta))
		wantBudgetError(t, err, tc.want)
	}
}
