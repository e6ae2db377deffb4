// Package pipeline is the release protocol: Run takes a loaded job through
// the ledger, an engine, the release store and publication to output.dir
// (run.go, with its steps in run_steps.go), and ExitCode maps its errors to
// the documented exit codes.
package pipeline

import (
	"context"
	"fmt"

	"github.com/privagg/privagg/internal/progress"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

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
	StepWriting   = "writing"   // ledger says noised values may reach disk; nothing written yet
	StepWritten   = "written"   // tables in the release store, ledger not yet told
	StepStored    = "stored"    // tables in the release store, ledger says stored with their hashes
	StepPublished = "published" // tables copied to output.dir, ledger not yet marked
	StepMarked    = "marked"    // ledger says published
)

// Run executes a job as a release: resolve the release id, open the ledger
// (an existing release must be the same job's), re-publish the release if
// it is already stored, plan the budget, check it, prepare the input (read
// and check it; nothing is charged yet), reserve the budget, release (draw
// the noise), record that noised values may now reach disk, store, record
// the stored files' hashes, publish, mark published. A release interrupted
// after noised values may have reached disk but before it was stored is
// refused, never recomputed (privacy.ErrNoiseWritten). A failed run
// publishes nothing and leaves no file in output.dir. Each run writes an
// internal run report beside the ledger, whatever its outcome: from then on
// Run returns a RunResult even with an error, holding the release id, the
// report and its path (RunReport, RunReportPath) and nothing else.
func Run(ctx context.Context, j *job.Job, opts RunOptions) (res *RunResult, err error) {
	// Before anything is read or written, the run report included.
	if err := opts.Check(j); err != nil {
		return nil, err
	}
	id, err := releaseID(j, opts.ReleaseID)
	if err != nil {
		return nil, err
	}
	r := newRun(j, id, opts)
	defer func() {
		if err != nil {
			res = &RunResult{ReleaseID: id}
		}
		r.finish(res, err)
	}()
	// Runs before finish: the report records the interruption.
	defer func() { err = interrupted(ctx, err, id, r.reserved) }()

	plan, planErr := privacy.NewPlan(j.PrivacySpec())
	led, fit, err := r.openLedger(ctx, plan)
	if err != nil {
		return nil, err
	}
	if r.rec != nil && r.rec.State != privacy.StateReserved {
		return r.republish(ctx, led)
	}
	r.reserved = r.rec != nil
	if err := r.checkResumable(led); err != nil {
		return nil, err
	}
	if planErr != nil {
		return nil, j.PlanError(planErr)
	}
	// A new release must fit the budget before any data is read; Reserve
	// checks again atomically. A release reserved by an earlier,
	// interrupted run is charged already.
	if r.rec == nil && fit != nil {
		return nil, fit
	}
	computer, err := selectEngine(j, id, opts, r.log)
	if err != nil {
		return nil, err
	}
	defer computer.Close()
	if err := r.prepareInput(ctx, computer, plan); err != nil {
		return nil, err
	}
	step(StepScanned)

	reservation, err := led.Reserve(ctx, reserveRequest(j, id, plan, r.identity))
	if err != nil {
		return r.lostRace(ctx, led, err)
	}
	r.reserved = true
	r.log.Info("budget reserved", "release", id, "epsilon", plan.Total.Epsilon, "delta", plan.Total.Delta)
	step(StepReserved)
	writesNoise := engineWritesNoise(computer)
	if writesNoise {
		if err := led.MarkWriting(ctx, id); err != nil {
			return r.lostRace(ctx, led, err)
		}
	}
	r.prog.Phase(progress.PhaseReleasing) // the engine may tell its own phases
	rel, stats, err := computer.Release(ctx, plan, reservation)
	if err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged): %w", id, err)
	}
	defer rel.Free()
	for _, w := range biasWarnings(rel) {
		r.log.Warn(w)
	}
	step(StepReleased)
	if !writesNoise {
		if err := led.MarkWriting(ctx, id); err != nil {
			// Another run of this release id marked it first: this draw is
			// never used, so its counts stay out of the run report.
			return r.lostRace(ctx, led, err)
		}
	}
	r.report.Outputs = stats
	r.reserved = false // from here the release is stored, or never completed
	step(StepWriting)
	// Noised values reach disk from here: a signal no longer stops the run
	// (the release could never be completed, and its charge would be lost).
	ctx = context.WithoutCancel(ctx)
	r.prog.Phase(progress.PhaseStoring)
	stored, err := release.Store(ctx, led, id, j, plan, rel, release.RunCounts{RowCounts: r.report.RowCounts, Outputs: r.report.Outputs})
	if err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged; noised values may be on disk, so it is never recomputed): %w", id, err)
	}
	step(StepWritten)
	if err := led.MarkStored(ctx, id, stored); err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged; stored but not recorded, so it is never recomputed): %w", id, err)
	}
	step(StepStored)
	files := stored.Published
	r.prog.Phase(progress.PhasePublishing)
	shrunk, err := release.Publish(ctx, led.StoreDir(id), j.Output.Dir, files, stored.SHA256)
	if err != nil {
		return nil, fmt.Errorf("publish release %s (stored; re-run to publish): %w", id, err)
	}
	r.warnShrinks(shrunk)
	step(StepPublished)
	if err := led.MarkPublished(ctx, id); err != nil {
		return nil, fmt.Errorf("mark release %s published: %w", id, err)
	}
	step(StepMarked)
	if err := computer.Published(); err != nil {
		return nil, err
	}
	return r.published(led, files), nil
}
