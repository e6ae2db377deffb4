// Package version holds the privagg version that binaries and released files
// carry.
package version

import "runtime/debug"

// Version is the privagg version, set at build time with
// -ldflags "-X github.com/privagg/privagg/internal/version.Version=...".
// When the linker did not set it, it is the module version from the build
// information (what `go install ...@v1.2.3` records), or "dev".
var Version = "dev"

func init() {
	if Version != "dev" {
		return
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		Version = bi.Main.Version
	}
}
