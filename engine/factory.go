package engine

import (
	"log/slog"

	"github.com/privagg/privagg/internal/progress"
	"github.com/privagg/privagg/job"
)

// Factory makes the engine that computes one release of j. The command
// chooses it (the embedded engine's is duckdb.Factory); the release
// protocol calls it once it knows the release id.
type Factory func(j *job.Job, run RunParams) (Engine, error)

// RunParams are what the release protocol gives the engine of one
// release.
type RunParams struct {
	// ReleaseID names the release (the embedded engine names its staging
	// files with it); "" for a dry run, which stages nothing.
	ReleaseID string
	// Logger receives the engine's progress messages; never nil.
	Logger *slog.Logger
	// Progress is told the engine's phases; nil discards.
	Progress progress.Reporter
}
