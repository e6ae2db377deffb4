//go:build !privagg_testnoise

package testfixture

import (
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"
)

// WithNoise skips the test: only a build with the privagg_testnoise tag can
// replace the library's noise (see the tagged WithNoise).
func WithNoise(t testing.TB, _ noise.Noise) (restore func()) {
	t.Helper()
	t.Skip("this test replaces the library's noise with a test double, which needs -tags=" + Tags +
		" (make test sets them)")
	return func() {}
}
