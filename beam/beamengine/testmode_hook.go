//go:build privagg_testnoise

package beamengine

import (
	"sync"

	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"
)

// This file is compiled only into test builds (`make test-beam` sets
// -tags privagg_testnoise); bin/privagg-beam is built without it and so has
// no way to switch pbeam's noise off.

var (
	testModeMu  sync.Mutex
	testModeVal = pbeam.TestModeDisabled
)

// setTestModeForTests makes engines created until restore is called run
// pbeam in mode (e.g. TestModeWithContributionBounding: no noise). Test
// builds only.
func setTestModeForTests(mode pbeam.TestMode) (restore func()) {
	testModeMu.Lock()
	prev := testModeVal
	testModeVal = mode
	testModeMu.Unlock()
	return func() {
		testModeMu.Lock()
		testModeVal = prev
		testModeMu.Unlock()
	}
}

func testMode() pbeam.TestMode {
	testModeMu.Lock()
	defer testModeMu.Unlock()
	return testModeVal
}
