package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/pipeline"
)

func init() { register(newRunCmd) }

func newRunCmd(g *globals) *cobra.Command {
	var opts pipeline.RunOptions
	var (
		ef        *engineFlags
		allowWeak bool
	)
	cmd := &cobra.Command{
		Use: "run JOB.yaml",
		Example: `  privagg run configs/example.yaml
  privagg run job.yaml --memory-limit 4GB --temp-dir /scratch
  privagg run job.yaml --engine beam --runner dataflow --beam-arg=--project=my-project`,
		Short: "Run a job: read, bound, aggregate, add noise, publish aggregate-only tables",
		Long: `Run a job end to end. The budget is reserved in the ledger before any noise
is drawn; a release that is already published is re-published byte for byte
at no cost. Exit codes: 0 ok, 1 runtime failure, 2 config or usage,
3 budget refused, 4 input rejected.`,
		Args: exactArgs("JOB.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ledger, err := jobLedger(g, args[0])
			if err != nil {
				return err
			}
			opts.Ledger = ledger
			opts.Logger = g.logger
			// The flags' own rules first; Run checks the paths against the job.
			if err := opts.Check(nil); err != nil {
				return err
			}
			j, err := loadJob(args[0], allowWeak)
			if err != nil {
				return err
			}
			if ef.external() {
				return ef.run(cmd.Context(), g, args[0], opts)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := pipeline.Run(ctx, j, opts)
			if err != nil {
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
	return cmd
}
