package main

import (
	"fmt"
	"io"

	"github.com/privagg/privagg/tune"
)

// warnRawTuned warns on w when the job file at path, whose bytes are data,
// carries the stamp of raw-mode `tune --apply` (tune.RawStamp): its bounds
// were read from the raw data, so the release's manifests publish values
// chosen without DP.
func warnRawTuned(w io.Writer, path string, data []byte) {
	if !tune.RawTuned(data) {
		return
	}
	fmt.Fprintf(w, "privagg run: warning: %s was written by `privagg tune --apply` in raw (NON-PRIVATE) mode: its bounds "+
		"were chosen from the raw data and are published in the manifests; choose them with `privagg tune --dp` or `auto`, "+
		"then remove the %q line\n", path, tune.RawStamp)
}
