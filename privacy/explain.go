package privacy

import (
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/dpagg"
	"github.com/google/differential-privacy/go/v3/noise"
)

// selectionTrials is the number of library selection draws per candidate
// count when estimating release chances by simulation. With 4,000 trials the
// estimate of a keep probability has a standard error below 0.008.
const selectionTrials = 4000

// ReleaseChance returns the smallest numbers of distinct people a partition
// needs to be released with probability at least 50% and at least 95% under
// sel. It reads no data and spends no budget.
//
// For L0 > 3 the library's PreAggSelectPartition keeps a partition when a
// Gaussian-noised count of its people beyond the pre-threshold reaches the
// library's threshold (noise.Gaussian().Threshold with σ from
// noise.SigmaForGaussian, each with half of δ), so the chance has a closed
// form. For L0 <= 3 it draws from the library's own selection.
func (sel *SelectionPlan) ReleaseChance() (p50, p95 int64, err error) {
	if sel.L0 > 3 {
		eps, half := sel.Share.Epsilon, sel.Share.Delta/2
		threshold, err := noise.Gaussian().Threshold(sel.L0, 1, eps, half, half)
		if err != nil {
			return 0, 0, fmt.Errorf("release chance: %w", err)
		}
		sigma := noise.SigmaForGaussian(sel.L0, 1, eps, half)
		// kept when (n - (k-1)) + N(0, σ) >= threshold
		base := sel.K - 1
		p50 = max(sel.K, base+int64(math.Ceil(threshold)))
		p95 = max(sel.K, base+int64(math.Ceil(threshold+1.6448536269514722*sigma)))
		return p50, p95, nil
	}
	keep := func(units int64) (float64, error) {
		kept := 0
		for range selectionTrials {
			s, err := dpagg.NewPreAggSelectPartition(&dpagg.PreAggSelectPartitionOptions{
				Epsilon: sel.Share.Epsilon, Delta: sel.Share.Delta,
				PreThreshold: sel.K, MaxPartitionsContributed: sel.L0,
			})
			if err != nil {
				return 0, err
			}
			if err := s.IncrementBy(units); err != nil {
				return 0, err
			}
			ok, err := s.ShouldKeepPartition()
			if err != nil {
				return 0, err
			}
			if ok {
				kept++
			}
		}
		return float64(kept) / selectionTrials, nil
	}
	// The keep probability grows with the count: find an upper bound, then
	// binary-search each target.
	hi := max(sel.K, 1)
	for {
		pr, err := keep(hi)
		if err != nil {
			return 0, 0, fmt.Errorf("release chance: %w", err)
		}
		if pr >= 0.95 {
			break
		}
		if hi > 1<<40 {
			return 0, 0, fmt.Errorf("release chance: no count up to %d reaches 95%%", hi)
		}
		hi *= 2
	}
	search := func(target float64) (int64, error) {
		lo, h := int64(0), hi // keep(lo) < target <= keep(h)
		for h-lo > 1 {
			mid := lo + (h-lo)/2
			pr, err := keep(mid)
			if err != nil {
				return 0, err
			}
			if pr >= target {
				h = mid
			} else {
				lo = mid
			}
		}
		return h, nil
	}
	if p50, err = search(0.5); err != nil {
		return 0, 0, fmt.Errorf("release chance: %w", err)
	}
	if p95, err = search(0.95); err != nil {
		return 0, 0, fmt.Errorf("release chance: %w", err)
	}
	return p50, p95, nil
}
