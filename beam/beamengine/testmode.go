//go:build !privagg_testnoise

package beamengine

import "github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

// testMode is pbeam's normal mode: noise on. Only a test build
// (-tags privagg_testnoise, see testmode_hook.go) can switch it.
func testMode() pbeam.TestMode { return pbeam.TestModeDisabled }
