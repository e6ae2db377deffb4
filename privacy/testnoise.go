//go:build !privagg_testnoise

package privacy

import "github.com/google/differential-privacy/go/v3/noise"

// testNoise returns n: a normal build always draws the library's noise. Only
// a test build (-tags privagg_testnoise) can replace it; see
// testnoise_hook.go.
func testNoise(n noise.Noise) noise.Noise { return n }
