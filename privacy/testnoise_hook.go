//go:build privagg_testnoise

package privacy

import (
	"sync"

	"github.com/google/differential-privacy/go/v3/noise"
)

// This file is compiled only into test builds (`make test` sets
// -tags privagg_testnoise); the privagg binaries are built without it and so
// have no way to change or remove the noise.

var (
	testNoiseMu sync.Mutex
	testNoiseN  noise.Noise
)

// SetNoiseForTests makes every Releaser created until restore is called use
// n instead of the library's noise: a test double that adds none, or a
// deliberately broken mechanism for the verification suite. Test builds only.
func SetNoiseForTests(n noise.Noise) (restore func()) {
	testNoiseMu.Lock()
	prev := testNoiseN
	testNoiseN = n
	testNoiseMu.Unlock()
	return func() {
		testNoiseMu.Lock()
		testNoiseN = prev
		testNoiseMu.Unlock()
	}
}

func testNoise(n noise.Noise) noise.Noise {
	testNoiseMu.Lock()
	defer testNoiseMu.Unlock()
	if testNoiseN != nil {
		return testNoiseN
	}
	return n
}
