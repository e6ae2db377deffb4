// Package pipeline runs a job through the release protocol: engine prepare,
// reject check, budget reservation, release, release store and report,
// atomic publish and the ledger's published mark.
package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// RunOptions configures Run. The zero value is what `privagg run` uses
// without flags.
type RunOptions struct {
	// ReleaseID names the release. Optional; defaults to Fingerprint(job):
	// the same job file on the same input files is the same release, which is
	// re-published, never re-noised.
	ReleaseID string
	// Ledger overrides the job's ledger path. Optional.
	Ledger string
	// MemoryLimit and TempDir override privacy.memory_limit and
	// privacy.temp_dir. Optional.
	MemoryLimit string
	TempDir     string
	// Logger receives progress and stage messages. Optional; nil discards.
	// Nothing identifying is ever logged.
	Logger *slog.Logger
	// Engine computes the release. Optional; nil means the embedded DuckDB
	// engine. Another engine (e.g. Apache Beam) plugs in here and keeps the
	// whole release protocol: ledger, store, publish, report.
	Engine engine.Engine
}

// RunResult describes a finished run.
type RunResult struct {
	ReleaseID   string
	Republished bool     // the release was already stored; nothing was charged or noised
	OutputDir   string   // where the tables were published
	Files       []string // published file names in OutputDir
	Report      release.RunReport
}

// stepHook, when set (only by tests), is called after each step of the
// release protocol so crash tests can kill the process there.
var stepHook func(step string)

func step(name string) {
	if stepHook != nil {
		stepHook(name)
	}
}

// Protocol steps, in order, passed to stepHook.
const (
	StepScanned   = "scanned"   // input read and checked; nothing charged
	StepReserved  = "reserved"  // budget charged in the ledger; no noise drawn yet
	StepReleased  = "released"  // noise drawn, tables in memory only
	StepStored    = "stored"    // tables in the release store, ledger says stored
	StepPublished = "published" // tables copied to output.dir, ledger not yet marked
	StepMarked    = "marked"    // ledger says published
)

// Run executes a job end to end: read, consent, derive, bound, aggregate,
// reserve budget, release with noise, store, publish, mark published. A
// failed run publishes nothing and leaves no file in output.dir.
func Run(ctx context.Context, j *job.Job, opts RunOptions) (res *RunResult, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := time.Now()
	report := release.RunReport{Note: release.RunReportNote, Job: j.Name, Dataset: j.Dataset, Purpose: j.Purpose, Started: start.UTC()}
	ledgerPath := j.Ledger
	if opts.Ledger != "" {
		ledgerPath = opts.Ledger
	}
	id := opts.ReleaseID
	if id == "" {
		if id, err = job.Fingerprint(j); err != nil {
			return nil, err
		}
	}
	if err := job.CheckReleaseID(id); err != nil {
		return nil, err
	}
	report.ReleaseID = id
	defer func() {
		report.Finished = time.Now().UTC()
		report.Seconds = time.Since(start).Seconds()
		if err != nil {
			report.Status = "failed"
			report.Error = err.Error()
		}
		if werr := release.WriteRunReport(ledgerPath, report); werr != nil {
			log.Warn("could not write the internal run report", "err", werr)
		}
		if res != nil {
			res.Report = report
		}
	}()

	led, err := privacy.OpenLedger(ledgerPath)
	if err != nil {
		return nil, err
	}
	rec, err := led.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec != nil && rec.Dataset != j.Dataset {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "--release-id", Value: id, Rule: fmt.Sprintf("belongs to dataset %q, not %q", rec.Dataset, j.Dataset)}}}
	}
	if rec != nil && (rec.State == privacy.StateStored || rec.State == privacy.StatePublished) {
		files, err := release.Republish(ctx, led, id, j.Output.Dir)
		if err != nil {
			return nil, err
		}
		report.Status = "republished"
		log.Info("release already stored: re-published without new noise or charge", "release", id, "files", len(files))
		return &RunResult{ReleaseID: id, Republished: true, OutputDir: j.Output.Dir, Files: files}, nil
	}

	plan, err := privacy.NewPlan(j.PrivacySpec())
	if err != nil {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "privacy", Rule: err.Error()}}}
	}
	if rec == nil {
		// Refuse early, before reading any data. Reserve checks again atomically.
		if _, err := led.Check(ctx, j.Dataset, plan.Total.Epsilon, plan.Total.Delta); err != nil {
			return nil, err
		}
	}
	computer := opts.Engine
	if computer == nil {
		if computer, err = duckdb.New(j, duckdb.Options{ReleaseID: id, MemoryLimit: opts.MemoryLimit, TempDir: opts.TempDir, Logger: log}); err != nil {
			return nil, err
		}
	} else if j.Staging != nil {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "staging", Rule: "is written by the duckdb engine only; run the staging j with --engine duckdb"}}}
	}
	defer computer.Close()

	log.Info("reading input", "format", j.Input.Format)
	scanStart := time.Now()
	counts, err := computer.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	report.RowsRead, report.RowsRejected, report.RowsExcludedByConsent = counts.Read, counts.Rejected, counts.Excluded
	secs := time.Since(scanStart).Seconds()
	log.Info("input scanned", "rows", counts.Read, "seconds", math.Round(secs*1000)/1000, "rows_per_second", int64(float64(counts.Read)/max(secs, 1e-9)))
	if counts.Read > 0 && float64(counts.Rejected) > j.Input.MaxRejectFraction*float64(counts.Read) {
		return nil, &engine.InputError{
			Reason:   fmt.Sprintf("malformed rows exceed input.max_reject_fraction %v", j.Input.MaxRejectFraction),
			Read:     counts.Read,
			Rejected: counts.Rejected,
		}
	}
	step(StepScanned)

	reservation, err := led.Reserve(ctx, privacy.ReserveRequest{
		ReleaseID: id,
		Dataset:   j.Dataset,
		Job:       j.Name,
		Purpose:   j.Purpose,
		Epsilon:   plan.Total.Epsilon,
		Delta:     plan.Total.Delta,
		Outputs:   j.OutputNames(),
		OutputDir: j.Output.Dir,
		JobSHA256: j.FileSHA256(),
	})
	if err != nil {
		return nil, err
	}
	log.Info("budget reserved", "release", id, "epsilon", plan.Total.Epsilon, "delta", plan.Total.Delta)
	step(StepReserved)

	rel, stats, err := computer.Release(ctx, plan, reservation)
	if err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged): %w", id, err)
	}
	defer rel.Free()
	report.Outputs = stats
	step(StepReleased)

	files, err := release.Store(ctx, led, id, j, rel, report)
	if err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged): %w", id, err)
	}
	step(StepStored)
	if err := release.Publish(ctx, led.StoreDir(id), j.Output.Dir, files); err != nil {
		return nil, fmt.Errorf("publish release %s (stored; re-run to publish): %w", id, err)
	}
	step(StepPublished)
	if err := led.MarkPublished(ctx, id); err != nil {
		return nil, fmt.Errorf("mark release %s published: %w", id, err)
	}
	step(StepMarked)
	if err := computer.Published(); err != nil {
		return nil, err
	}
	report.Status = "published"
	log.Info("release published", "release", id, "dir", j.Output.Dir, "files", len(files))
	return &RunResult{ReleaseID: id, OutputDir: j.Output.Dir, Files: files}, nil
}
