package privacy

import (
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
)

// clearsThreshold is the threshold rule of DP partition selection, for
// both count_threshold and two-phase selection at L0 > 3: a partition of x
// distinct bounded people is kept when x >= k and x + noise >= threshold +
// k - 1, the noise being nz's for (l0, linf, eps, noiseDelta) and the
// threshold nz.Threshold for the same parameters and thresholdDelta. It
// returns the noised value, unrounded (nothing is drawn when x < k).
//
// The library's own rule (dpagg.Count.ThresholdedResult, used by
// PreAggSelectPartition) rounds the noised count to an integer, then
// compares it to ceil(threshold): a partition of linf people is then kept
// when the noise is at least ceil(threshold) - linf - 1/2, up to half a unit
// below the threshold's computation, which under-counts δ by up to ~2.9x at
// δ 0.05 (selection_rounding_test.go). Comparing the unrounded value to the
// threshold is exactly the event the threshold's computation bounds. Both
// the noise and the threshold come from the library (nz).
func clearsThreshold(nz noise.Noise, x, k, l0 int64, linf, eps, noiseDelta, thresholdDelta float64) (noised float64, keep bool, err error) {
	k = max(k, 1)
	if x < k {
		return 0, false, nil
	}
	threshold, err := nz.Threshold(l0, linf, eps, noiseDelta, thresholdDelta)
	if err != nil {
		return 0, false, fmt.Errorf("threshold: %w", err)
	}
	noised, err = nz.AddNoiseFloat64(float64(x), l0, linf, eps, noiseDelta)
	if err != nil {
		return 0, false, fmt.Errorf("noise: %w", err)
	}
	return noised, noised >= threshold+float64(k-1), nil
}

// roundCount is the released value of a noised count: the nearest integer
// (post-processing of the unrounded DP value clearsThreshold drew).
func roundCount(v float64) int64 {
	return int64(math.Round(v))
}
