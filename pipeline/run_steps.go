package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/engine/duckdb"
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
	log        *slog.Logger
	start      time.Time
	report     release.RunReport
}

func newRun(j *job.Job, id string, opts RunOptions) *run {
	r := &run{j: j, id: id, ledgerPath: j.Ledger, log: opts.Logger, start: time.Now()}
	if opts.Ledger != "" {
		r.ledgerPath = opts.Ledger
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.report = release.RunReport{Note: release.RunReportNote, Job: j.Name, Dataset: j.Dataset, Purpose: j.Purpose,
		ReleaseID: id, Started: r.start.UTC()}
	return r
}

// finish completes the run report with the outcome, writes it beside the
// ledger and hands it to res. A report that cannot be written is logged.
func (r *run) finish(res *RunResult, err error) {
	r.report.Finished = time.Now().UTC()
	r.report.Seconds = time.Since(r.start).Seconds()
	if err != nil {
		r.report.Status = "failed"
		r.report.Error = err.Error()
	}
	if werr := release.WriteRunReport(r.ledgerPath, r.report); werr != nil {
		r.log.Warn("could not write the internal run report", "err", werr)
	}
	if res != nil {
		res.Report = r.report
	}
}

// openLedger opens the ledger and looks the release up: stored reports
// whether it is already stored (or published) and so is only re-published.
// A release id of another dataset is refused.
func (r *run) openLedger(ctx context.Context) (led *privacy.Ledger, stored bool, err error) {
	led, err = privacy.OpenLedger(r.ledgerPath)
	if err != nil {
		return nil, false, err
	}
	rec, err := led.Lookup(ctx, r.id)
	if err != nil {
		return nil, false, err
	}
	r.rec = rec
	if rec == nil {
		return led, false, nil
	}
	if rec.Dataset != r.j.Dataset {
		return nil, false, &job.ConfigError{File: r.j.File, Problems: []job.Problem{{Key: "--release-id", Value: r.id,
			Rule: fmt.Sprintf("belongs to dataset %q, not %q", rec.Dataset, r.j.Dataset)}}}
	}
	return led, rec.State == privacy.StateStored || rec.State == privacy.StatePublished, nil
}

// republish copies a stored release to output.dir again: no noise, no charge.
func (r *run) republish(ctx context.Context, led *privacy.Ledger) (*RunResult, error) {
	files, err := release.Republish(ctx, led, r.id, r.j.Output.Dir)
	if err != nil {
		return nil, err
	}
	r.report.Status = "republished"
	r.log.Info("release already stored: re-published without new noise or charge", "release", r.id, "files", len(files))
	return &RunResult{ReleaseID: r.id, Republished: true, OutputDir: r.j.Output.Dir, Files: files}, nil
}

// checkBudget refuses a new release early, before any data is read, if the
// dataset's budget cannot pay for the plan; Reserve checks again atomically.
// A release reserved by an earlier, interrupted run is charged already.
func (r *run) checkBudget(ctx context.Context, led *privacy.Ledger, plan *privacy.Plan) error {
	if r.rec != nil {
		return nil
	}
	_, err := led.Check(ctx, r.j.Dataset, plan.Total.Epsilon, plan.Total.Delta)
	return err
}

// selectEngine returns the engine of opts, or the embedded DuckDB engine.
// Only the DuckDB engine writes staging files.
func selectEngine(j *job.Job, id string, opts RunOptions, log *slog.Logger) (engine.Engine, error) {
	if opts.Engine == nil {
		return duckdb.New(j, duckdb.Options{ReleaseID: id, MemoryLimit: opts.MemoryLimit, TempDir: opts.TempDir, Logger: log})
	}
	if j.Staging != nil {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "staging", Rule: "is written by the duckdb engine only; run the staging job with --engine duckdb"}}}
	}
	return opts.Engine, nil
}

// prepareInput has the engine read and check the input, records the row
// counts in the run report and refuses more malformed rows than
// input.max_reject_fraction allows. Nothing is charged yet.
func (r *run) prepareInput(ctx context.Context, computer engine.Engine) error {
	for _, w := range r.j.Warnings() {
		r.log.Warn(w)
	}
	r.log.Info("reading input", "format", r.j.Input.Format)
	scanStart := time.Now()
	counts, err := computer.Prepare(ctx)
	if err != nil {
		return err
	}
	r.report.RowsRead, r.report.RowsRejected, r.report.RowsExcludedByConsent = counts.Read, counts.Rejected, counts.Excluded
	r.report.ConsentRecordsRead, r.report.ConsentRecordsRejected = counts.ConsentRead, counts.ConsentRejected
	secs := time.Since(scanStart).Seconds()
	r.log.Info("input scanned", "rows", counts.Read, "rejected", counts.Rejected, "seconds", math.Round(secs*1000)/1000, "rows_per_second", int64(float64(counts.Read)/max(secs, 1e-9)))
	return engine.RejectCheck(r.j.Input.MaxRejectFraction, counts)
}

// reserveRequest asks the ledger to charge the plan's total for release id.
func reserveRequest(j *job.Job, id string, plan *privacy.Plan) privacy.ReserveRequest {
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
		JobSHA256:     j.FileSHA256(),
	}
}

// published completes a published run.
func (r *run) published(files []string) *RunResult {
	r.report.Status = "published"
	r.log.Info("release published", "release", r.id, "dir", r.j.Output.Dir, "files", len(files))
	return &RunResult{ReleaseID: r.id, OutputDir: r.j.Output.Dir, Files: files}
}
