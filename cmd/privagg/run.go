package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

func init() { register(newRunCmd) }

func newRunCmd(g *globals) *cobra.Command {
	var opts pipeline.RunOptions
	var (
		ef                *engineFlags
		allowWeak, dryRun bool
		format            string
	)
	cmd := &cobra.Command{
		Use: "run JOB.yaml",
		Example: `  privagg run configs/example.yaml
  privagg run job.yaml --dry-run              # read and check the input, print the plan; charge and write nothing
  privagg run job.yaml --memory-limit 4GB --temp-dir /scratch
  privagg run job.yaml --engine beam --runner dataflow --beam-arg=--project=my-project`,
		Short: "Run a job: read, bound, aggregate, add noise, publish aggregate-only tables",
		Long: `Run a job end to end. The budget is reserved in the ledger before any noise
is drawn; a release that is already published is re-published byte for byte
at no cost. Exit codes: 0 ok, 1 runtime failure, 2 config or usage,
3 budget refused, 4 input rejected, 130/143 interrupted by SIGINT/SIGTERM
before noised values could reach disk (nothing written; a reserved release
is completed by the next run at no new charge).

--dry-run reads and checks the input as a run does before it charges
anything (files, columns, consent, malformed rows against
input.max_reject_fraction), then prints the plan (as privagg plan) and
stops: no budget is charged, no noise drawn, nothing written (no release,
output file, staging copy or run report). It exits as the run would up to
that point: 2, 3 (the job does not fit the budget) or 4. For a release that
is already stored or published it says that the run will re-publish it at
no cost, as the run then does.

Both warn on stderr, before anything is charged, about an output whose keys
come from the data and that is likely to release nothing: too few usable
rows, or no partition with the people a row needs (see docs/cli.md).`,
		Args: exactArgs("JOB.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := checkTableFormat(format, "text") // text: the older name of table, still taken
			if err != nil {
				return err
			}
			start := time.Now()
			var view *progressView
			opts.Progress, view = g.startProgress()
			j, res, err := executeRun(cmd, g, args[0], &opts, ef, allowWeak, dryRun, format)
			view.stop()
			if format == "json" && !dryRun {
				s := newRunSummary(j, opts, res, err, budgetAfter(cmd.Context(), j, opts.Ledger))
				s.DurationSeconds = time.Since(start).Seconds()
				if werr := writeJSON(g.stdout, s); werr != nil && err == nil {
					err = werr
				}
				return err
			}
			if err != nil || res == nil {
				return err
			}
			verb := "published"
			if res.Republished {
				verb = "re-published (no new noise, no new charge)"
			}
			_, err = fmt.Fprintf(g.stdout, "release %s %s: %d files in %s\n", res.ReleaseID, verb, len(res.Files), res.OutputDir)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.ReleaseID, "release-id", "", "release id (default: fingerprint of the job file and input files)")
	f.StringVar(&opts.MemoryLimit, "memory-limit", "", "DuckDB memory limit, e.g. 4GB or 4G (overrides privacy.memory_limit)")
	f.StringVar(&opts.TempDir, "temp-dir", "", "DuckDB spill folder (overrides privacy.temp_dir)")
	ef = addEngineFlags(cmd)
	allowWeakFlag(cmd, &allowWeak)
	f.StringVar(&format, "format", formatTable, "what to print: table | json (one object: release_id, status, charge, outputs, rows, budget left, report paths, error_class)")
	f.BoolVar(&dryRun, "dry-run", false, "read and check the input (files, columns, consent, malformed rows) and print the plan; charge nothing, write nothing")
	return cmd
}

// executeRun is run's work: the flags' checks, the job, then a dry run, the
// external engine or pipeline.Run. res is nil for a dry run and the
// external engine (which prints its own result); j is nil when the job
// could not be loaded.
func executeRun(cmd *cobra.Command, g *globals, path string, opts *pipeline.RunOptions, ef *engineFlags, allowWeak, dryRun bool, format string) (*job.Job, *pipeline.RunResult, error) {
	opts.Logger = g.logger
	// The flags' own rules first; Run checks the paths against the job.
	if err := opts.Check(nil); err != nil {
		return nil, nil, err
	}
	// The job file's one read: everything below derives from j.Source.
	j, err := loadJob(path, allowWeak)
	if err != nil {
		return nil, nil, err
	}
	if opts.Ledger, err = jobLedger(g, j); err != nil {
		return nil, nil, err
	}
	warnRawTuned(g.stderr, path, j.Source)
	// The command chooses the engine: the embedded one, unless --engine
	// names another (which then runs the job itself, ef.run).
	opts.NewEngine = duckdb.Factory(duckdb.Options{MemoryLimit: opts.MemoryLimit, TempDir: opts.TempDir})
	if dryRun {
		if ef.external() {
			return j, nil, usageError{errors.New("--dry-run: reads the input with the embedded engine; it cannot be combined with --engine " + ef.engine)}
		}
		return j, nil, runDry(cmd.Context(), g, j, *opts, format)
	}
	if ef.external() {
		if format == "json" {
			return j, nil, usageError{errors.New("--format json: the beam engine prints its own result; use --format table")}
		}
		return j, nil, ef.run(cmd.Context(), g, path, *opts)
	}
	ctx, stop := interruptContext(cmd.Context())
	defer stop()
	res, err := pipeline.Run(ctx, j, *opts)
	return j, res, err
}

// runDry is run --dry-run: for a release already stored, that the run will
// re-publish it at no cost; otherwise the input checks of a run
// (pipeline.DryRun), then the plan against the ledger.
func runDry(ctx context.Context, g *globals, j *job.Job, opts pipeline.RunOptions, format string) error {
	ledger := opts.Ledger
	if ledger == "" {
		ledger = j.Ledger
	}
	if rec := storedRelease(ctx, j, opts.ReleaseID, ledger); rec != nil {
		return printDryRepublish(g, rec, format)
	}
	if err := pipeline.DryRun(ctx, j, opts); err != nil {
		return err
	}
	if format == "json" {
		return showPlan(ctx, g, j, ledger, "json")
	}
	fmt.Fprintf(g.stdout, "dry run: input checked (files, columns, consent; malformed rows within input.max_reject_fraction %s); nothing charged, nothing written\n\n",
		privacy.FormatNumber(j.Input.MaxRejectFraction))
	return showPlan(ctx, g, j, ledger, "table")
}
