package duckdb

import "github.com/privagg/privagg/internal/progress"

// progress is the engine's progress reporter (Options.Progress), or one
// that discards.
func (d *Engine) progress() progress.Reporter { return progress.OrNop(d.opts.Progress) }

// outputPhase tells p that output o of n outputs entered phase.
func outputPhase(p progress.Reporter, phase string, o, n int) {
	p.Phase(phase)
	p.Items(progress.UnitOutputs, o, n)
}
