package release

import (
	"testing"

	"github.com/privagg/privagg/privacy"
)

func TestBudgetBar(t *testing.T) {
	amt := func(s string) privacy.Amount {
		a, err := privacy.ParseAmount(s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		name                    string
		own, total, spent, left string
		before, this, remaining float64 // widths in pixels
		over                    bool
	}{
		{"first release", "1", "4", "1", "3", 0, 140, 420, false},
		{"after others", "0.5", "2", "1.5", "0.5", 280, 140, 140, false},
		{"budget used up", "1", "2", "2", "0", 280, 280, 0, false},
		{"budget lowered below spend", "1", "1", "2", "0", 280, 280, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := budgetBar("epsilon", amt(tc.own), amt(tc.total), amt(tc.spent), amt(tc.left))
			if b.Before.W != tc.before || b.This.W != tc.this || b.Left.W != tc.remaining || b.Over != tc.over {
				t.Errorf("widths before %v this %v remaining %v over %v, want %v %v %v %v",
					b.Before.W, b.This.W, b.Left.W, b.Over, tc.before, tc.this, tc.remaining, tc.over)
			}
			if end := b.Left.X + b.Left.W; !tc.over && end != budgetBarWidth {
				t.Errorf("bar ends at %v, want %v", end, budgetBarWidth)
			}
		})
	}
}

func TestFmtNum(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {1, "1"}, {0.25, "0.25"}, {1e-6, "1e-06"}, {12345.678, "12350"}, {2.99573227, "2.996"}, {1.5e12, "1.5e+12"},
	} {
		if got := fmtNum(tc.in); got != tc.want {
			t.Errorf("fmtNum(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
