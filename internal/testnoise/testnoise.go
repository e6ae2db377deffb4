// Package testnoise holds the noise test double the tests of every package
// share. It is imported only by _test.go files: the privagg binaries cannot
// install it (privacy.SetNoiseForTests exists only in test builds, and the
// privacy package's own tests set it on a Releaser directly).
//
// It imports nothing of privagg, so the privacy package's internal tests can
// use it too.
package testnoise

import "github.com/google/differential-privacy/go/v3/noise"

// None adds no noise, sets every threshold to 0 and reports zero-width
// confidence intervals, so a test can check a release's exact values.
type None struct{}

var _ noise.Noise = None{}

// AddNoiseInt64 returns x unchanged.
func (None) AddNoiseInt64(x, _, _ int64, _, _ float64) (int64, error) { return x, nil }

// AddNoiseFloat64 returns x unchanged.
func (None) AddNoiseFloat64(x float64, _ int64, _, _, _ float64) (float64, error) { return x, nil }

// Threshold returns 0: every partition passes a threshold.
func (None) Threshold(int64, float64, float64, float64, float64) (float64, error) { return 0, nil }

// DeltaForThreshold returns 0.
func (None) DeltaForThreshold(int64, float64, float64, float64, float64) (float64, error) {
	return 0, nil
}

// ComputeConfidenceIntervalInt64 returns the interval [x, x].
func (None) ComputeConfidenceIntervalInt64(x, _, _ int64, _, _, _ float64) (noise.ConfidenceInterval, error) {
	return noise.ConfidenceInterval{LowerBound: float64(x), UpperBound: float64(x)}, nil
}

// ComputeConfidenceIntervalFloat64 returns the interval [x, x].
func (None) ComputeConfidenceIntervalFloat64(x float64, _ int64, _, _, _, _ float64) (noise.ConfidenceInterval, error) {
	return noise.ConfidenceInterval{LowerBound: x, UpperBound: x}, nil
}
