package main

import (
	"fmt"

	"github.com/privagg/privagg/job"

	"github.com/spf13/cobra"
)

func init() { register(newValidateCmd) }

func newValidateCmd(g *globals) *cobra.Command {
	var allowWeak bool
	cmd := &cobra.Command{
		Use: "validate JOB.yaml",
		Example: `  privagg validate configs/example.yaml
  privagg validate job.yaml --allow-weak-privacy    # accept epsilon above 10 or delta at or above 1e-5`,
		Short: "Check a job file without reading data, secrets or the ledger",
		Long: "Loads the job file with its PRIVAGG_* environment overrides, applies the defaults and checks\n" +
			"every rule. Prints every problem at once and exits 2 if there is any. Warnings (a consent\n" +
			"waiver) go to stderr and do not change the exit code.",
		Args: exactArgs("JOB.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			job, err := loadJob(args[0], allowWeak)
			if err != nil {
				return err
			}
			printWarnings(g, job)
			metrics := 0
			for _, o := range job.Outputs {
				metrics += len(o.Metrics)
			}
			_, err = fmt.Fprintf(g.stdout, "ok: %s: %d outputs, %d metrics\n", job.Name, len(job.Outputs), metrics)
			return err
		},
	}
	allowWeakFlag(cmd, &allowWeak)
	return cmd
}

// printWarnings writes the job's warnings (job.Warnings) to stderr.
func printWarnings(g *globals, j *job.Job) {
	for _, w := range j.Warnings() {
		fmt.Fprintf(g.stderr, "privagg: warning: %s\n", w)
	}
}
