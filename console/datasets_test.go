package console

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/privagg/privagg/privacy"
)

func amount(t *testing.T, x float64) privacy.Amount {
	t.Helper()
	a, err := privacy.AmountFromFloat(x)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSpendPerPeriod: the epsilon spent in the period after each release,
// for a budget for all time, per calendar month and per rolling window.
func TestSpendPerPeriod(t *testing.T) {
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 12, 0, 0, 0, time.UTC) }
	month := func(m time.Month) *time.Time { s := time.Date(2026, m, 1, 0, 0, 0, 0, time.UTC); return &s }
	recs := []privacy.ReleaseRecord{
		{ReleaseID: "a", ReservedAt: day(1, 10), Epsilon: amount(t, 1), PeriodStart: month(1)},
		{ReleaseID: "b", ReservedAt: day(1, 25), Epsilon: amount(t, 0.5), PeriodStart: month(1)},
		{ReleaseID: "c", ReservedAt: day(2, 3), Epsilon: amount(t, 2), PeriodStart: month(2)},
		{ReleaseID: "d", ReservedAt: day(3, 20), Epsilon: amount(t, 0.25), PeriodStart: month(3)},
	}
	for period, want := range map[string][]float64{
		"none":  {1, 1.5, 3.5, 3.75},
		"month": {1, 1.5, 2, 0.25},
		"30d":   {1, 1.5, 3.5, 0.25}, // c on 3 Feb still sees a (10 Jan) and b
		"10d":   {1, 0.5, 2.5, 0.25}, // a left the window before b; b is still in it on 3 Feb
	} {
		rows := spendRows(recs, period)
		for i, r := range rows {
			if diff := r.InPeriod - want[i]; diff > 1e-12 || diff < -1e-12 {
				t.Errorf("period %s, release %s: spent %v in the period, want %v", period, r.Rec.ReleaseID, r.InPeriod, want[i])
			}
		}
		st := privacy.BudgetStatus{Dataset: "d", Period: period, EpsilonTotal: amount(t, 4), EpsilonSpent: amount(t, want[3])}
		c := newSpendChart("d", recs, rows, st, day(4, 1))
		if c == nil || len(c.Dots) != 4 || c.Limit == nil || !strings.Contains(c.Label, "4 releases") {
			t.Fatalf("period %s: chart %+v", period, c)
		}
		wantLines := 1
		if period == "month" {
			wantLines = 3
		}
		if len(c.Lines) != wantLines {
			t.Errorf("period %s: %d lines, want %d", period, len(c.Lines), wantLines)
		}
		// Every point is inside the plot, and time never runs backwards.
		for _, l := range c.Lines {
			prevX := 0.0
			for _, p := range strings.Fields(l) {
				var x, y float64
				if _, err := fmt.Sscanf(p, "%g,%g", &x, &y); err != nil {
					t.Fatal(err)
				}
				if x < c.Left-1e-9 || x > c.Right+1e-9 || y < c.Top-1e-9 || y > c.Bottom+1e-9 || x < prevX {
					t.Errorf("period %s: point %s outside the plot or going back", period, p)
				}
				prevX = x
			}
		}
	}
	if newSpendChart("d", nil, nil, privacy.BudgetStatus{}, day(4, 1)) != nil {
		t.Errorf("a chart without releases")
	}
}

func TestBudgetBar(t *testing.T) {
	b := newBudgetBar("epsilon", amount(t, 2.5), amount(t, 10), amount(t, 7.5))
	if b.SpentW != 90 || b.Percent != "25%" || b.Remaining != "7.5" || b.Over {
		t.Errorf("bar %+v", b)
	}
	b = newBudgetBar("epsilon", amount(t, 3), amount(t, 2), amount(t, 0))
	if b.SpentW != barWidth || !b.Over {
		t.Errorf("overspent bar %+v", b)
	}
}
