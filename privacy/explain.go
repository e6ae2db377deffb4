package privacy

import (
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
)

// ReleaseChance returns the smallest numbers of distinct people a partition
// needs to be released with probability at least 50% and at least 95% under
// sel. It reads no data, spends no budget and draws nothing: the same plan
// gives the same figures every time.
//
// For L0 > 3 the library's PreAggSelectPartition keeps a partition when a
// Gaussian-noised count of its people beyond the pre-threshold reaches the
// library's threshold (noise.Gaussian().Threshold with σ from
// noise.SigmaForGaussian, each with half of δ), so the chance has a closed
// form. For L0 <= 3 it keeps a partition with the probability of its
// partition selection paper's Theorem 1 (keepProbability), also a closed
// form.
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
		if units < sel.K {
			return 0, nil // the pre-threshold
		}
		return keepProbability(units-(sel.K-1), sel.L0, sel.Share.Epsilon, sel.Share.Delta)
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

// keepProbability is the probability that the library's
// PreAggSelectPartition (L0 <= 3) keeps a partition of n people beyond its
// pre-threshold: the closed form of Theorem 1 of "Differentially private
// partition selection" (Desfontaines et al. 2022), computed as the library's
// keepPartitionProbability does, with the per-partition ε/L0 and δ/L0.
func keepProbability(n, l0 int64, epsilon, delta float64) (float64, error) {
	if n <= 0 {
		return 0, nil
	}
	if !(epsilon > 0) || !(delta > 0) || l0 < 1 {
		return 0, fmt.Errorf("keep probability: epsilon %v and delta %v must be > 0, L0 %d >= 1", epsilon, delta, l0)
	}
	pe, pd := epsilon/float64(l0), delta/float64(l0)
	// Below nCr the probability grows geometrically; above it, towards 1.
	nCr := int64(1 + math.Floor((1/pe)*math.Log((1+math.Exp(-pe)*(2*pd-1))/(pd*(1+math.Exp(-pe))))))
	if n <= nCr {
		return pd * sumExpPowers(pe, 0, n), nil
	}
	atCr := pd * sumExpPowers(pe, 0, nCr)
	m := n - nCr
	return math.Min(1+math.Exp(-float64(m)*pe)*(atCr-1)+sumExpPowers(pe, -m, m)*pd, 1), nil
}

// sumExpPowers is exp(min·ε) + exp((min+1)·ε) + ... + exp((min+count-1)·ε)
// for ε > 0 and count > 0, in the library's forms that give +Inf rather
// than NaN.
func sumExpPowers(epsilon float64, minPower, count int64) float64 {
	pow := func(a int64) float64 { return math.Exp(float64(a) * epsilon) }
	if math.IsInf(pow(minPower), 1) {
		return math.Inf(1)
	}
	if minPower >= 1 {
		return pow(minPower-1) * (pow(count) - 1) / (1 - pow(-1))
	}
	return (pow(count+minPower-1) - pow(minPower-1)) / (1 - pow(-1))
}
