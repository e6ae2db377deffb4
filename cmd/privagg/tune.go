package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/tune"
)

func init() { register(newTuneCmd) }

func newTuneCmd(g *globals) *cobra.Command {
	var (
		format, apply, focus string
		dp                   bool
		epsilon              float64
		fraction             float64
	)
	cmd := &cobra.Command{
		Use: "tune JOB.yaml",
		Example: `  privagg tune job.yaml                               # non-private: reads the raw input (a sample or public data)
  privagg tune job.yaml --apply job.tuned.yaml        # write the recommended values into a copy
  privagg tune job.yaml --dp --epsilon 0.1            # DP clamp bounds, charging 0.1 to the dataset's budget
  privagg tune job.yaml --format json`,
		Short: "Recommend contribution bounds and the budget split of a job",
		Long: `Recommend per output the L0 (max_partitions_per_unit), the selection share
and the weight, and per metric the Linf (max_per_unit), the clamp bounds
(min, max) and the weight, showing for each candidate the plan's noise, the
share of the data the bound drops and the expected released partitions.

By default tune reads the RAW input (non-private, for a sample or public
data): its output is internal, never written to output.dir, and charges
nothing. --dp chooses the clamp bounds of measured metrics with a DP
histogram instead, charging --epsilon to the dataset's budget in the ledger
first (exit 3 if it does not fit). --apply OUT.yaml writes the recommended
values into a copy of the job file. See docs/tune.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usageError{fmt.Errorf("--format: %q must be table or json", format)}
			}
			if dp && !(epsilon > 0) {
				return usageError{fmt.Errorf("--epsilon: %v must be > 0 with --dp", epsilon)}
			}
			if dp && focus != "" {
				return usageError{fmt.Errorf("--focus: only in raw mode (--dp keeps the job's weights)")}
			}
			if !dp && cmd.Flags().Changed("epsilon") {
				return usageError{fmt.Errorf("--epsilon: only with --dp (raw mode spends nothing)")}
			}
			if !(fraction > 0 && fraction < 1) {
				return usageError{fmt.Errorf("--fraction: %v must be in (0, 1)", fraction)}
			}
			j, err := job.LoadJob(args[0])
			if err != nil {
				return err
			}
			if focus != "" {
				if err := tune.CheckFocus(j, focus); err != nil {
					return usageError{err}
				}
			}
			if apply != "" {
				if err := tune.CheckApplyPath(args[0], apply); err != nil {
					return usageError{err}
				}
			}
			var r *tune.Report
			if dp {
				ledger, err := jobLedger(g, j)
				if err != nil {
					return err
				}
				if ledger == "" {
					ledger = j.Ledger
				}
				fmt.Fprintf(g.stderr, "privagg tune --dp: charging epsilon %g (delta 0) to dataset %q in ledger %s before anything is read\n", epsilon, j.Dataset, ledger)
				r, err = tune.DP(cmd.Context(), j, tune.DPOptions{Epsilon: epsilon, Fraction: fraction, Ledger: ledger})
				if err != nil {
					return err
				}
			} else {
				fmt.Fprintln(g.stderr, "privagg tune: "+tune.RawNotice)
				if r, err = tune.Raw(cmd.Context(), j, tune.RawOptions{Focus: focus}); err != nil {
					return err
				}
			}
			if apply != "" {
				notes, err := tune.Apply(args[0], apply, r)
				if err != nil {
					return err
				}
				r.Apply = notes
			}
			if format == "json" {
				return writeJSON(g.stdout, r)
			}
			return tune.WriteTable(g.stdout, r)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table | json")
	cmd.Flags().StringVar(&focus, "focus", "", "raw mode: the metric (by name) the budget split serves first: weight 1, every other metric 0.1")
	cmd.Flags().StringVar(&apply, "apply", "", "write the recommended values into this copy of the job file (never the job file itself)")
	cmd.Flags().BoolVar(&dp, "dp", false, "choose clamp bounds with DP, charging --epsilon to the dataset's budget")
	cmd.Flags().Float64Var(&epsilon, "epsilon", 0, "with --dp: the budget the tuning spends (e.g. 0.1)")
	cmd.Flags().Float64Var(&fraction, "fraction", 0.95, "with --dp: the bound is where the noisy cumulative count of people's partition totals reaches this fraction")
	return cmd
}
