package privacy

import (
	"testing"

	"github.com/google/differential-privacy/go/v3/dpagg"
)

// The people a row needs are a closed form for every L0: the same plan
// gives the same figures every time (a plan pasted into a sign-off stays
// true), here 20 times over.
func TestReleaseChanceDeterministic(t *testing.T) {
	t.Parallel()
	for _, l0 := range []int64{1, 2, 3, 5} {
		sel := &SelectionPlan{Share: Share{Epsilon: 0.075, Delta: 2.5e-7}, L0: l0, K: 10}
		p50, p95, err := sel.ReleaseChance()
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if a, b, _ := sel.ReleaseChance(); a != p50 || b != p95 {
				t.Fatalf("L0 %d: %d/%d, then %d/%d", l0, p50, p95, a, b)
			}
		}
	}
}

// keepProbability reaches 1 exactly where the library says a partition is
// always kept (GetHardThreshold, which uses the library's own formula), and
// not one person before.
func TestKeepProbabilityMatchesLibraryHardThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		l0         int64
		eps, delta float64
	}{{1, 1, 1e-6}, {2, 0.075, 2.5e-7}, {3, 0.5, 1e-5}, {1, 0.01, 1e-9}} {
		s, err := dpagg.NewPreAggSelectPartition(&dpagg.PreAggSelectPartitionOptions{Epsilon: tc.eps, Delta: tc.delta, MaxPartitionsContributed: tc.l0})
		if err != nil {
			t.Fatal(err)
		}
		hard, err := s.GetHardThreshold()
		if err != nil {
			t.Fatal(err)
		}
		at, _ := keepProbability(int64(hard), tc.l0, tc.eps, tc.delta)
		before, _ := keepProbability(int64(hard)-1, tc.l0, tc.eps, tc.delta)
		if at < 1 || before >= 1 {
			t.Errorf("%+v: library hard threshold %d; keepProbability there %v, one before %v", tc, hard, at, before)
		}
	}
}

// At the stated counts the library's own selection (L0 <= 3) keeps a
// partition in at least 93% of 4,000 draws (stated 95%) and in 45% to 60%
// (stated 50%): bands more than 5 binomial standard errors wide (false
// failure rate below 1e-6).
func TestReleaseChanceSmallL0MatchesLibrary(t *testing.T) {
	t.Parallel()
	sel := &SelectionPlan{Share: Share{Epsilon: 0.25, Delta: 5e-7}, L0: 2, K: 10}
	p50, p95, err := sel.ReleaseChance()
	if err != nil {
		t.Fatal(err)
	}
	rate := func(units int64) float64 {
		const n = 4000
		kept := 0
		for range n {
			s, err := dpagg.NewPreAggSelectPartition(&dpagg.PreAggSelectPartitionOptions{
				Epsilon: sel.Share.Epsilon, Delta: sel.Share.Delta, PreThreshold: sel.K, MaxPartitionsContributed: sel.L0})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.IncrementBy(units); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.ShouldKeepPartition(); ok {
				kept++
			}
		}
		return float64(kept) / n
	}
	if r := rate(p95); r < 0.93 {
		t.Errorf("at %d people (stated 95%%) the library keeps %.3f", p95, r)
	}
	if r := rate(p50); r < 0.45 || r > 0.60 {
		t.Errorf("at %d people (stated 50%%) the library keeps %.3f", p50, r)
	}
}
