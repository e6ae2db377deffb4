package pipeline

import (
	"context"
	"log/slog"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// DryRun reads and checks j's input as Run would before it charges anything
// (files, columns, consent, malformed rows against
// input.max_reject_fraction), on the engine opts.NewEngine makes (the
// embedded one: it must write no file before the reservation), logs the warnings
// about outputs likely to release nothing (LikelyEmpty's rule 1 only, from
// the plan and the row counts: its partition-reach rule is a non-DP answer
// about the data, which a free and repeatable dry run must not give), and
// then stops: it opens no ledger, draws no noise,
// writes no staging copy, run report, release or output file. It returns Run's errors for the same input
// (*job.ConfigError, *engine.InputError). opts.Engine and opts.ReleaseID are
// not used; the ledger and temp-dir flags are checked against the job.
func DryRun(ctx context.Context, j *job.Job, opts RunOptions) error {
	if err := opts.Check(j); err != nil {
		return err
	}
	plan, err := privacy.NewPlan(j.PrivacySpec())
	if err != nil {
		return j.PlanError(err)
	}
	if opts.NewEngine == nil {
		return errNoEngine
	}
	// Making the job's engine checks the staging key; its Prepare would
	// write the staging copy, so the engine that reads the input is the
	// job's without staging.
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	params := engine.RunParams{Logger: log, Progress: opts.Progress}
	check, err := opts.NewEngine(j, params)
	if err != nil {
		return err
	}
	check.Close()
	dry := *j
	dry.Staging = nil
	computer, err := opts.NewEngine(&dry, params)
	if err != nil {
		return err
	}
	defer computer.Close()
	counts, err := computer.Prepare(ctx)
	if err != nil {
		return err
	}
	if err := engine.RejectCheck(j.Input.MaxRejectFraction, counts); err != nil {
		return err
	}
	logLikelyEmpty(ctx, log, plan, counts, nil)
	return nil
}
