//go:build privagg_testnoise

package testfixture

import (
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/privagg/privagg/privacy"
)

// WithNoise makes every Releaser created until restore is called use n (for
// example testnoise.None) instead of the library's noise. A build without
// the privagg_testnoise tag has no way to do that: there WithNoise skips the
// test with a message that names Tags.
func WithNoise(_ testing.TB, n noise.Noise) (restore func()) {
	return privacy.SetNoiseForTests(n)
}
