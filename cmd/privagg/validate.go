package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/engine"
	duckdbengine "github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
)

func init() { register(newValidateCmd) }

func newValidateCmd(g *globals) *cobra.Command {
	var allowWeak, noInput bool
	cmd := &cobra.Command{
		Use: "validate JOB.yaml",
		Example: `  privagg validate configs/example.yaml
  privagg validate job.yaml --no-input              # the job file only, without looking at the input
  privagg validate job.yaml --allow-weak-privacy    # accept epsilon above 10 or delta at or above 1e-5`,
		Short: "Check a job file and its input's columns, without reading the data, secrets or the ledger",
		Long: "Loads the job file with its PRIVAGG_* environment overrides, applies the defaults and checks\n" +
			"every rule. Then it looks at the input without reading its rows: the files exist, every column\n" +
			"the job uses is there with a usable type (a misspelt one comes with its key path and a \"did you\n" +
			"mean\"), and a consent table has its columns. Only the schema is read (Parquet metadata, a CSV or\n" +
			"JSON sample); --no-input skips these checks (e.g. for an input only the Beam engine can reach).\n" +
			"Prints every problem at once and exits 2 if there is any. Warnings (a consent waiver) go to\n" +
			"stderr and do not change the exit code.",
		Args: exactArgs("JOB.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := loadJob(args[0], allowWeak)
			if err != nil {
				return err
			}
			if _, err := checkJobLedger(g, j); err != nil {
				return err
			}
			printWarnings(g, j)
			input := "input not checked (--no-input)"
			if !noInput {
				if err := checkInput(cmd, j); err != nil {
					return err
				}
				input = "input columns checked"
			}
			metrics := 0
			for _, o := range j.Outputs {
				metrics += len(o.Metrics)
			}
			_, err = fmt.Fprintf(g.stdout, "ok: %s: %d outputs, %d metrics; %s\n", j.Name, len(j.Outputs), metrics, input)
			return err
		},
	}
	allowWeakFlag(cmd, &allowWeak)
	cmd.Flags().BoolVar(&noInput, "no-input", false, "check the job file only, not its input files and columns")
	return cmd
}

// checkInput is validate's look at the input (duckdbengine.CheckInput). A
// missing or unreadable file is a problem of the job as written here: exit
// 2, where a run exits 4.
func checkInput(cmd *cobra.Command, j *job.Job) error {
	_, err := duckdbengine.CheckInput(cmd.Context(), j)
	var ie *engine.InputError
	if errors.As(err, &ie) {
		return usageError{err}
	}
	return err
}

// printWarnings writes the job's warnings (job.Warnings) to stderr.
func printWarnings(g *globals, j *job.Job) {
	for _, w := range j.Warnings() {
		fmt.Fprintf(g.stderr, "privagg: warning: %s\n", w)
	}
}
