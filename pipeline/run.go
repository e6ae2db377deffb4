// Package pipeline is the release protocol: Run takes a loaded job through
// the ledger, an engine, the release store and publication to output.dir
// (run.go, with its steps in run_steps.go), and ExitCode maps its errors to
// the documented exit codes.
package pipeline

import (
	"context"
	"fmt"

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
	StepStored    = "stored"    // tables in the release store, ledger says stored
	StepPublished = "published" // tables copied to output.dir, ledger not yet marked
	StepMarked    = "marked"    // ledger says published
)

// Run executes a job as a release: resolve the release id, open the ledger,
// re-publish the release if it is already stored, plan the budget, check it,
// prepare the input (read and check it; nothing is charged yet), reserve the
// budget, release (draw the noise), store, publish, mark published. A failed
// run publishes nothing and leaves no file in output.dir. Each run writes an
// internal run report beside the ledger, whatever its outcome.
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
	defer func() { r.finish(res, err) }()

	led, stored, err := r.openLedger(ctx)
	if err != nil {
		return nil, err
	}
	if stored {
		return r.republish(ctx, led)
	}
	plan, err := privacy.NewPlan(j.PrivacySpec())
	if err != nil {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "privacy", Rule: err.Error(), Err: err}}}
	}
	if err := r.checkBudget(ctx, led, plan); err != nil {
		return nil, err
	}
	computer, err := selectEngine(j, id, opts, r.log)
	if err != nil {
		return nil, err
	}
	defer computer.Close()
	if err := r.prepareInput(ctx, computer); err != nil {
		return nil, err
	}
	step(StepScanned)

	reservation, err := led.Reserve(ctx, reserveRequest(j, id, plan))
	if err != nil {
		return nil, err
	}
	r.log.Info("budget reserved", "release", id, "epsilon", plan.Total.Epsilon, "delta", plan.Total.Delta)
	step(StepReserved)
	rel, stats, err := computer.Release(ctx, plan, reservation)
	if err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged): %w", id, err)
	}
	defer rel.Free()
	r.report.Outputs = stats
	step(StepReleased)
	files, err := release.Store(ctx, led, id, j, rel, r.report)
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
	return r.published(files), nil
}
