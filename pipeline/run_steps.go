package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/progress"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// releaseID is the release's id: the given one, or the job's fingerprint.
// It is checked against the ledger's rule before the ledger is opened.
func releaseID(j *job.Job, given string) (string, error) {
	if given != "" {
		return given, nil // RunOptions.Check has checked it
	}
	id, err := job.Fingerprint(j)
	if err != nil {
		return "", err
	}
	if err := privacy.ValidateReleaseID(id); err != nil {
		return "", &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "name", Value: j.Name, Rule: "makes a default release id that " + err.Error(), Err: err}}}
	}
	return id, nil
}

// run is one run of Run: the job, the release id, where the ledger is, the
// logger and the internal run report, which finish writes beside the ledger
// whatever the outcome.
type run struct {
	j          *job.Job
	id         string
	ledgerPath string
	rec        *privacy.ReleaseRecord // the ledger's record of the release; nil for a new release
	identity   privacy.JobIdentity    // the job, as the ledger records it
	log        *slog.Logger
	prog       progress.Reporter
	start      time.Time
	report     RunReport
	// reserved: the ledger holds this release's reservation, and this run
	// has not marked it writing (an interruption leaves it resumable).
	reserved bool
}

func newRun(j *job.Job, id string, opts RunOptions) *run {
	r := &run{j: j, id: id, ledgerPath: j.Ledger, log: opts.Logger, prog: progress.OrNop(opts.Progress), start: time.Now()}
	if opts.Ledger != "" {
		r.ledgerPath = opts.Ledger
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.report = RunReport{Note: RunReportNote, Job: j.Name, Dataset: j.Dataset, Purpose: j.Purpose,
		ReleaseID: id, Started: r.start.UTC()}
	return r
}

// finish completes the run report with the outcome, writes it beside the
// ledger and hands it and its path to res. A report that cannot be written
// is logged.
func (r *run) finish(res *RunResult, err error) {
	r.report.Finished = time.Now().UTC()
	r.report.Seconds = time.Since(r.start).Seconds()
	if err != nil {
		r.report.Status = "failed"
		r.report.Error = err.Error()
	}
	path, werr := writeRunReport(r.ledgerPath, r.report)
	if werr != nil {
		r.log.Warn("could not write the internal run report", "err", werr)
		path = ""
	}
	res.Report, res.RunReportPath = r.report, path
}

// releaseReport is the path of the release report (REPORT.html) in the
// release store of r's release, or "" if it has none.
func (r *run) releaseReport(led *privacy.Ledger) string {
	path := filepath.Join(led.StoreDir(r.id), release.ReportHTMLFile)
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// openLedger opens the ledger and looks the release up into r.rec, and,
// with a plan, asks in the same ledger session whether the plan's total
// would fit the dataset's budget (fit: nil, or the *BudgetError to report
// for a new release; privacy.Ledger.Preflight). A release id of another
// dataset or another job is refused: only the job that reserved a release
// may resume or re-publish it.
func (r *run) openLedger(ctx context.Context, plan *privacy.Plan) (led *privacy.Ledger, fit error, err error) {
	if led, err = privacy.OpenLedger(r.ledgerPath, privacy.VerifyOnFirstUse()); err != nil {
		return nil, nil, err
	}
	var rec *privacy.ReleaseRecord
	if plan != nil {
		rec, fit, err = led.Preflight(ctx, r.id, r.j.Dataset, plan.Total.Epsilon, plan.Total.Delta)
	} else {
		rec, err = led.Lookup(ctx, r.id)
	}
	if err != nil {
		return nil, nil, err
	}
	r.rec = rec
	if r.identity, err = jobIdentity(r.j); err != nil {
		return nil, nil, err
	}
	if rec == nil {
		return led, fit, nil
	}
	if err := r.checkRecord(rec); err != nil {
		return nil, nil, err
	}
	return led, fit, nil
}

// checkRecord refuses the ledger's record of the release if it is of
// another dataset or another job: only the job that reserved a release may
// resume or re-publish it.
func (r *run) checkRecord(rec *privacy.ReleaseRecord) error {
	if rec.Dataset != r.j.Dataset {
		return &job.ConfigError{File: r.j.File, Problems: []job.Problem{{Key: "--release-id", Value: r.id,
			Rule: fmt.Sprintf("belongs to dataset %q, not %q", rec.Dataset, r.j.Dataset)}}}
	}
	if err := rec.CheckJob(r.identity); err != nil {
		return &job.ConfigError{File: r.j.File, Problems: []job.Problem{{Key: "--release-id", Value: r.id,
			Rule: "belongs to a release of a different job (the job file, or a PRIVAGG_* override that changes the release, differs); use a new release id",
			Err:  err}}}
	}
	return nil
}

// jobIdentity is what the ledger records of the job behind a release.
func jobIdentity(j *job.Job) (privacy.JobIdentity, error) {
	digest, err := job.Digest(j)
	if err != nil {
		return privacy.JobIdentity{}, err
	}
	return privacy.JobIdentity{Job: j.Name, Purpose: j.Purpose, JobSHA256: j.FileSHA256(), JobDigest: digest}, nil
}

// checkResumable refuses a reserved release whose noised values may have
// reached disk: the ledger says so, or (for a release reserved before the
// ledger recorded it) its release store folder exists. Such a release is
// re-published once stored, never recomputed.
func (r *run) checkResumable(led *privacy.Ledger) error {
	if r.rec == nil {
		return nil
	}
	if err := r.rec.CheckResumable(); err != nil {
		return fmt.Errorf("%w (the new release id goes in --release-id)", err)
	}
	store := led.StoreDir(r.id)
	for _, dir := range []string{store, filepath.Join(filepath.Dir(store), "."+r.id+".privagg-tmp")} {
		if _, err := os.Lstat(dir); err == nil {
			return fmt.Errorf("release %q was interrupted after its noised values began to be written (%s exists) and before it "+
				"was stored: privagg never draws a release's noise twice, so it cannot be completed; its budget stays charged; "+
				"run the job with a new --release-id (a new charge): %w", r.id, dir, privacy.ErrNoiseWritten)
		}
	}
	return nil
}

// republish copies a stored release to output.dir again (no noise, no
// charge), then marks it published or, if it was, records the
// re-publication: it is then the latest release of its outputs.
func (r *run) republish(ctx context.Context, led *privacy.Ledger) (*RunResult, error) {
	r.prog.Phase(progress.PhasePublishing)
	files, shrunk, err := release.Republish(ctx, led, r.rec, r.j.Output.Dir)
	if err != nil {
		return nil, err
	}
	r.warnShrinks(shrunk)
	mark := led.MarkPublished
	if r.rec.State == privacy.StatePublished {
		mark = led.MarkRepublished
	}
	if err := mark(ctx, r.id); err != nil {
		return nil, fmt.Errorf("mark release %s published: %w", r.id, err)
	}
	r.report.Status = "republished"
	r.log.Info("release already stored: re-published without new noise or charge", "release", r.id, "files", len(files))
	return &RunResult{ReleaseID: r.id, Republished: true, OutputDir: r.j.Output.Dir, Files: files, ReportPath: r.releaseReport(led)}, nil
}

// warnShrinks warns about each table a publication made much smaller than
// the one it replaced in output.dir: a dashboard reading the folder's
// latest tables would silently lose most of its rows.
func (r *run) warnShrinks(shrunk []release.Shrink) {
	for _, s := range shrunk {
		r.log.Warn("publish: " + s.String())
	}
}

// engineWritesNoise reports whether the engine's Release writes noised
// values to files (engine.NoiseWriter), so that Run must record
// Ledger.MarkWriting before it rather than after.
func engineWritesNoise(e engine.Engine) bool {
	w, ok := e.(engine.NoiseWriter)
	return ok && w.WritesNoise()
}

// selectEngine returns the engine of opts: opts.Engine, or the one
// opts.NewEngine makes. Only the embedded engine (made by NewEngine) writes
// staging files; a job with a bounds share needs an engine that makes the
// estimates (engine.BoundsEstimator).
func selectEngine(j *job.Job, id string, opts RunOptions, log *slog.Logger) (engine.Engine, error) {
	if opts.Engine == nil {
		if opts.NewEngine == nil {
			return nil, errNoEngine
		}
		return opts.NewEngine(j, engine.RunParams{ReleaseID: id, Logger: log, Progress: opts.Progress})
	}
	if j.Staging != nil {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "staging", Rule: "is written by the duckdb engine only; run the staging job with --engine duckdb"}}}
	}
	if b, ok := opts.Engine.(engine.BoundsEstimator); j.Privacy.BoundsShare > 0 && !(ok && b.EstimatesBounds()) {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "privacy.bounds_share", Value: j.Privacy.BoundsShare,
			Rule: "auto bounds and the estimates of what bounding removed need an engine that makes them (duckdb, beam); run with --engine duckdb, or set every bound by hand and bounds_share: 0"}}}
	}
	return opts.Engine, nil
}

// prepareInput has the engine read and check the input, records the row
// counts in the run report and refuses more malformed rows than
// input.max_reject_fraction allows, then warns about outputs likely to
// release nothing (LikelyEmpty of plan). Nothing is charged yet.
func (r *run) prepareInput(ctx context.Context, computer engine.Engine, plan *privacy.Plan) error {
	for _, w := range r.j.Warnings() {
		r.log.Warn(w)
	}
	r.log.Info("reading input", "format", r.j.Input.Format)
	r.prog.Phase(progress.PhaseReading)
	scanStart := time.Now()
	counts, err := computer.Prepare(ctx)
	if err != nil {
		return err
	}
	r.report.RowsRead, r.report.RowsRejected, r.report.RowsExcludedByConsent = counts.Read, counts.Rejected, counts.Excluded
	r.report.ConsentRecordsRead, r.report.ConsentRecordsRejected = counts.ConsentRead, counts.ConsentRejected
	r.report.Rejects = counts.Rejects
	secs := time.Since(scanStart).Seconds()
	r.log.Info("input scanned", "rows", counts.Read, "rejected", counts.Rejected, "seconds", math.Round(secs*1000)/1000, "rows_per_second", int64(float64(counts.Read)/max(secs, 1e-9)))
	if err := engine.RejectCheck(r.j.Input.MaxRejectFraction, counts); err != nil {
		return err
	}
	warnLikelyEmpty(ctx, r.log, plan, counts, computer)
	return nil
}

// reserveRequest asks the ledger to charge the plan's total for release id.
func reserveRequest(j *job.Job, id string, plan *privacy.Plan, identity privacy.JobIdentity) privacy.ReserveRequest {
	return privacy.ReserveRequest{
		ReleaseID: id,
		Dataset:   j.Dataset,
		Job:       j.Name,
		Purpose:   j.Purpose,
		// A waived consent filter is on the ledger's record of the release.
		ConsentWaiver: j.Consent.Waived,
		Epsilon:       plan.Total.Epsilon,
		Delta:         plan.Total.Delta,
		Outputs:       j.OutputNames(),
		OutputDir:     j.Output.Dir,
		JobSHA256:     identity.JobSHA256,
		JobDigest:     identity.JobDigest,
	}
}

// published completes a published run.
func (r *run) published(led *privacy.Ledger, files []string) *RunResult {
	r.report.Status = "published"
	r.log.Info("release published", "release", r.id, "dir", r.j.Output.Dir, "files", len(files))
	return &RunResult{ReleaseID: r.id, OutputDir: r.j.Output.Dir, Files: files, ReportPath: r.releaseReport(led)}
}
