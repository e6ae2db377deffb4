package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// runSummary is what run --format json prints: one object per run, with
// what a scheduler branches on. Every key is always present; a value that
// is not known (a path not written, the budget of a ledger that could not be
// read) is null.
type runSummary struct {
	ReleaseID string `json:"release_id,omitempty"`
	// Status is published, re-published (no new noise, no new charge),
	// refused (exit 2, 3 or 4: nothing charged or released) or failed
	// (exit 1 or an interruption).
	Status string `json:"status"`
	// Charge is what this run charged the dataset's budget: the release's
	// epsilon and delta when published, 0 otherwise.
	Charge    runCharge   `json:"charge"`
	OutputDir string      `json:"output_dir,omitempty"`
	Outputs   []runOutput `json:"outputs"`
	// DurationSeconds is the wall time of the command.
	DurationSeconds float64 `json:"duration_seconds"`
	// RowsRead and RowsRejected count the input rows read and rejected as
	// malformed (0 when the run stopped before reading).
	RowsRead     int64 `json:"rows_read"`
	RowsRejected int64 `json:"rows_rejected"`
	// EpsilonRemaining and DeltaRemaining are the dataset's budget left in
	// the current period after the run; null without a ledger or budget.
	EpsilonRemaining *float64 `json:"epsilon_remaining"`
	DeltaRemaining   *float64 `json:"delta_remaining"`
	// Report is the release report (REPORT.html) in the release store;
	// RunReport the internal run report beside the ledger (exact counts,
	// not for marketing).
	Report    *string `json:"report"`
	RunReport *string `json:"run_report"`
	Error     string  `json:"error,omitempty"`
	// ErrorClass is null on success, else errorClass of the exit code.
	ErrorClass *string `json:"error_class"`
	ExitCode   int     `json:"exit_code"`
}

// Error classes of run --format json, one per documented exit code.
const (
	classConfig      = "config_error"
	classBudget      = "budget_refused"
	classInput       = "input_rejected"
	classRuntime     = "runtime_error"
	classInterrupted = "interrupted"
)

// errorClass names the class of a failed run's exit code: a scheduler
// branches on it without parsing the error text. 130 (SIGINT) and 143
// (SIGTERM) are interruptions.
func errorClass(code int) string {
	switch code {
	case pipeline.ExitConfig:
		return classConfig
	case pipeline.ExitBudget:
		return classBudget
	case pipeline.ExitInput:
		return classInput
	case 128 + int(syscall.SIGINT), 128 + int(syscall.SIGTERM):
		return classInterrupted
	}
	return classRuntime
}

type runCharge struct {
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
}

// runOutput is one published output: its data file (and table, in a DuckDB
// file) in output_dir and the number of rows released.
type runOutput struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Table string `json:"table,omitempty"`
	Rows  int64  `json:"rows"`
}

// newRunSummary describes the run of j (nil if it did not load) with
// result res (nil if the run did not start) and error err. Outputs come from
// the published manifests; the budget left, from the ledger st.
func newRunSummary(j *job.Job, opts pipeline.RunOptions, res *pipeline.RunResult, err error, st *privacy.BudgetStatus) runSummary {
	s := runSummary{Outputs: []runOutput{}, ExitCode: exitCode(err)}
	if st != nil {
		eps, delta := st.EpsilonRemaining.Float64(), st.DeltaRemaining.Float64()
		s.EpsilonRemaining, s.DeltaRemaining = &eps, &delta
	}
	if res != nil {
		s.RowsRead, s.RowsRejected = res.Report.RowsRead, res.Report.RowsRejected
		s.Report, s.RunReport = nonEmpty(res.ReportPath), nonEmpty(res.RunReportPath)
	}
	if err != nil {
		class := errorClass(s.ExitCode)
		s.Status, s.Error, s.ErrorClass = "refused", err.Error(), &class
		if class == classRuntime || class == classInterrupted {
			s.Status = "failed"
		}
		s.ReleaseID = opts.ReleaseID
		if s.ReleaseID == "" && j != nil {
			s.ReleaseID, _ = job.Fingerprint(j)
		}
		return s
	}
	s.ReleaseID, s.OutputDir, s.Status = res.ReleaseID, res.OutputDir, "published"
	if res.Republished {
		s.Status = "re-published"
	}
	for _, f := range res.Files {
		if !strings.HasSuffix(f, release.ManifestSuffix) {
			continue
		}
		m, rerr := readManifest(filepath.Join(res.OutputDir, f))
		if rerr != nil {
			continue // the published files were checked; a summary does not fail the run
		}
		s.Outputs = append(s.Outputs, runOutput{Name: m.Output, File: m.File, Table: m.Table, Rows: m.Rows})
		if !res.Republished {
			s.Charge = runCharge{Epsilon: m.Epsilon, Delta: m.Delta}
		}
	}
	return s
}

// nonEmpty is a pointer to s, or nil (JSON null) for "".
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// budgetAfter is the budget status of j's dataset in the ledger the run
// used, read-only; nil when there is no job, no ledger or no budget.
func budgetAfter(ctx context.Context, j *job.Job, ledger string) *privacy.BudgetStatus {
	if j == nil {
		return nil
	}
	if ledger == "" {
		ledger = j.Ledger
	}
	if _, err := os.Stat(ledger); err != nil {
		return nil // a read-only open must not create it
	}
	led, err := privacy.OpenLedger(ledger, privacy.WithReadOnly())
	if err != nil {
		return nil
	}
	st, err := led.Status(ctx, j.Dataset)
	if err != nil {
		return nil
	}
	return &st
}

func readManifest(path string) (*release.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return release.ReadManifest(f)
}
