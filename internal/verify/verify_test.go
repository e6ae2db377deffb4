package verify

import (
	"math"
	"testing"
)

// TestClopperPearsonClosedForms checks the interval against the cases with a
// closed form (k = 0 and k = n) and against published values.
func TestClopperPearsonClosedForms(t *testing.T) {
	for _, tc := range []struct {
		name           string
		k, n           int
		alpha          float64
		wantLo, wantHi float64
	}{
		{"k=0", 0, 100, 0.05, 0, 1 - math.Pow(0.025, 1.0/100)},
		{"k=n", 50, 50, 0.05, math.Pow(0.025, 1.0/50), 1},
		{"k=0 large n", 0, 100000, 1e-6, 0, 1 - math.Pow(5e-7, 1.0/100000)},
		// Published: 7 of 20, 95%: [0.1539, 0.5922] (e.g. R binom.test).
		{"7 of 20", 7, 20, 0.05, 0.15390920, 0.59218853},
		// 50 of 100, 95%: [0.3983, 0.6017].
		{"50 of 100", 50, 100, 0.05, 0.39832113, 0.60167887},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi, err := ClopperPearson(tc.k, tc.n, tc.alpha)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(lo-tc.wantLo) > 1e-6 || math.Abs(hi-tc.wantHi) > 1e-6 {
				t.Errorf("ClopperPearson(%d, %d, %v) = [%.8f, %.8f], want [%.8f, %.8f]", tc.k, tc.n, tc.alpha, lo, hi, tc.wantLo, tc.wantHi)
			}
		})
	}
}

func TestClopperPearsonRejectsBadArguments(t *testing.T) {
	for _, tc := range []struct {
		k, n  int
		alpha float64
	}{{-1, 10, 0.05}, {11, 10, 0.05}, {0, 0, 0.05}, {1, 10, 0}, {1, 10, 1}} {
		if _, _, err := ClopperPearson(tc.k, tc.n, tc.alpha); err == nil {
			t.Errorf("ClopperPearson(%d, %d, %v): no error", tc.k, tc.n, tc.alpha)
		}
	}
}

// TestEpsilonLowerBound: equal frequencies give no evidence; a ratio of e^2
// measured on 10^5 runs gives a bound a little below 2; the symmetric
// direction is used too; delta lowers the bound.
func TestEpsilonLowerBound(t *testing.T) {
	const n = 100000
	if got, _ := EpsilonLowerBound(5000, 5000, n, 0, 1e-6); got != 0 {
		t.Errorf("equal counts: eps_lb = %v, want 0", got)
	}
	kD, kD2 := int(0.5*math.Exp(-2)*n), n/2
	got, err := EpsilonLowerBound(kD, kD2, n, 0, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if !(got > 1.8 && got < 2) {
		t.Errorf("ratio e^2: eps_lb = %v, want in (1.8, 2)", got)
	}
	if sym, _ := EpsilonLowerBound(kD2, kD, n, 0, 1e-6); sym != got {
		t.Errorf("symmetric direction: eps_lb = %v, want %v", sym, got)
	}
	if withDelta, _ := EpsilonLowerBound(kD, kD2, n, 0.1, 1e-6); !(withDelta < got) {
		t.Errorf("delta 0.1: eps_lb = %v, want < %v", withDelta, got)
	}
	if _, err := EpsilonLowerBound(1, 1, n, 1, 1e-6); err == nil {
		t.Error("delta 1: no error")
	}
}
