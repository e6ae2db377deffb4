package main

import (
	"fmt"

	"github.com/privagg/privagg/job"

	"github.com/spf13/cobra"
)

func init() { register(newValidateCmd) }

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate JOB.yaml",
		Short: "Check a job file without reading data, secrets or the ledger",
		Long: "Loads the job file with its PRIVAGG_* environment overrides, applies the defaults and checks\n" +
			"every rule. Prints every problem at once and exits 2 if there is any. Warnings (a consent\n" +
			"waiver) go to stderr and do not change the exit code.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			job, err := job.LoadJob(args[0])
			if err != nil {
				return err
			}
			if _, err := checkJobLedger(g, job, args[0]); err != nil {
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
}

// printWarnings writes the job's warnings (job.Warnings) to stderr.
func printWarnings(g *globals, j *job.Job) {
	for _, w := range j.Warnings() {
		fmt.Fprintf(g.stderr, "privagg: warning: %s\n", w)
	}
}
