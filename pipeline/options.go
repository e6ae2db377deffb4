package pipeline

import (
	"errors"
	"log/slog"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/progress"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// RunOptions configures Run. Engine or NewEngine is required; the rest
// is optional, and what `privagg run` uses without flags when left zero.
type RunOptions struct {
	// ReleaseID names the release. Optional; defaults to Fingerprint(job):
	// the same job file on the same input files is the same release, which is
	// re-published, never re-noised.
	ReleaseID string
	// Ledger overrides the job's ledger path. Optional.
	Ledger string
	// MemoryLimit and TempDir override privacy.memory_limit and
	// privacy.temp_dir. Optional. Check applies the flags' rules to them;
	// the engine (NewEngine) is given them by its caller.
	MemoryLimit string
	TempDir     string
	// Logger receives progress and stage messages. Optional; nil discards.
	// Nothing identifying is ever logged.
	Logger *slog.Logger
	// Engine computes the release: another engine than the embedded one
	// (e.g. Apache Beam) plugs in here and keeps the whole release
	// protocol: ledger, store, publish, report. When nil, NewEngine makes
	// the engine.
	Engine engine.Engine
	// NewEngine makes the engine of the release once Run knows its release
	// id: `privagg run` passes the embedded engine's, duckdb.Factory. The
	// command chooses the engine; the protocol knows only engine.Engine.
	NewEngine engine.Factory
	// Progress is told the run's phases (reading input ... publishing), for
	// a progress line or event. Optional; nil discards.
	Progress progress.Reporter
}

// errNoEngine is Run's and DryRun's error for options that name no engine.
var errNoEngine = errors.New("pipeline: RunOptions has neither an Engine nor a NewEngine")

// RunResult describes a finished run. A failed run has only ReleaseID,
// Report and RunReportPath.
type RunResult struct {
	ReleaseID   string
	Republished bool     // the release was already stored; nothing was charged or noised
	OutputDir   string   // where the tables were published
	Files       []string // published file names in OutputDir
	// ReportPath is the release report (REPORT.html) in the release store;
	// "" if the release has none.
	ReportPath string
	// Report is the internal run report, with exact counts: never for
	// marketing. RunReportPath is where it was written beside the ledger,
	// "" if it could not be written.
	Report        RunReport
	RunReportPath string
}

// Check applies the job file's rules to the options, which come from
// command-line flags, and names the flag in the *job.ConfigError: the
// release id rule of the ledger, the memory limit rule and, when j is not
// nil, the path rules against j's output.dir. Run calls it before anything
// else; a command calls it with a nil job as soon as its flags are parsed.
func (o RunOptions) Check(j *job.Job) error {
	if o.ReleaseID != "" {
		if err := privacy.ValidateReleaseID(o.ReleaseID); err != nil {
			return job.FlagError("--release-id", o.ReleaseID, err)
		}
	}
	if o.MemoryLimit != "" {
		if err := job.CheckMemoryLimit(o.MemoryLimit); err != nil {
			return job.FlagError("--memory-limit", o.MemoryLimit, err)
		}
	}
	if j == nil {
		return nil
	}
	if err := j.CheckFlagPath("--ledger", job.PathLedger, o.Ledger); err != nil {
		return err
	}
	return j.CheckFlagPath("--temp-dir", job.PathTempDir, o.TempDir)
}
