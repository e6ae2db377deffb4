package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/privagg/privagg/explain"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"

	"github.com/spf13/cobra"
)

func init() { register(newPlanCmd) }

func newPlanCmd(g *globals) *cobra.Command {
	var (
		format, whatIf  string
		allowWeak, wide bool
	)
	cmd := &cobra.Command{
		Use: "plan JOB.yaml",
		Example: `  privagg plan configs/example.yaml
  privagg plan job.yaml --what-if epsilon=0.25,0.5,1,2
  privagg plan job.yaml --format json`,
		Short: "Show the budget split, noise and expected error of a job without reading data",
		Long: `Show, per output and metric, the epsilon/delta share, mechanism, noise
standard deviation and 95% confidence half-width; for outputs whose keys come
from the data, how many people a row needs for a 50% and a 95% chance of
release; and the ledger before and after. Exits 3 when the job would not fit
the dataset's budget. --what-if epsilon=0.25,0.5,1,2 compares budgets: a
row per figure, a column per epsilon, in at most 100 columns (long labels are
cut with …; --wide prints them in full).`,
		Args: exactArgs("JOB.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := checkTableFormat(format, "")
			if err != nil {
				return err
			}
			job, err := loadJob(args[0], allowWeak)
			if err != nil {
				return err
			}
			printWarnings(g, job)
			ledger, err := checkJobLedger(g, job)
			if err != nil {
				return err
			}
			if ledger == "" {
				ledger = job.Ledger
			}
			if whatIf != "" {
				eps, err := parseWhatIf(whatIf)
				if err != nil {
					return usageError{err}
				}
				var reports []*explain.PlanReport
				for _, e := range eps {
					r, err := explain.Explain(cmd.Context(), job, e, ledger, true)
					if err != nil {
						return err
					}
					reports = append(reports, r)
				}
				if format == "json" {
					return writeJSON(g.stdout, reports)
				}
				return printWhatIf(g.stdout, reports, wide)
			}
			return showPlan(cmd.Context(), g, job, ledger, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table | json")
	cmd.Flags().StringVar(&whatIf, "what-if", "", "compare budgets, e.g. epsilon=0.25,0.5,1,2")
	wideFlag(cmd, &wide)
	allowWeakFlag(cmd, &allowWeak)
	return cmd
}

func parseWhatIf(s string) ([]float64, error) {
	name, list, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) != "epsilon" {
		return nil, fmt.Errorf("--what-if: %q must look like epsilon=0.25,0.5,1", s)
	}
	var out []float64
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v > 0) {
			return nil, fmt.Errorf("--what-if: epsilon %q must be a number > 0", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// showPlan prints j's plan against ledger (plan, run --dry-run) and
// returns the ledger's refusal, if any (exit 3).
func showPlan(ctx context.Context, g *globals, j *job.Job, ledger, format string) error {
	r, err := explain.Explain(ctx, j, 0, ledger, true)
	if err != nil {
		return err
	}
	if format == "json" {
		err = writeJSON(g.stdout, r)
	} else {
		err = printPlan(g.stdout, r)
	}
	if err != nil {
		return err
	}
	if r.Ledger != nil && r.Ledger.Err != nil {
		return r.Ledger.Err
	}
	return nil
}

// num prints a budget figure and est an expected error, the same way in
// every command (see privacy.FormatNumber and privacy.FormatEstimate).
var num, est = privacy.FormatNumber, privacy.FormatEstimate

// percent formats a fraction as a percentage with up to 3 significant digits.
func percent(f float64) string { return strconv.FormatFloat(100*f, 'g', 3, 64) + "%" }

// peopleNeeded says how many people a row needs to be released.
func peopleNeeded(o explain.PlanOutput, s *explain.PlanSelection) string {
	if o.AutoL0 {
		return "the people a row needs depend on the L0 the run estimates (auto)"
	}
	return fmt.Sprintf("a row needs %d people for a 50%% and %d for a 95%% chance of release", s.People50, s.People95)
}

func printPlan(w io.Writer, r *explain.PlanReport) error {
	fmt.Fprintf(w, "job %s  dataset %s  purpose %s\n", r.Job, r.Dataset, r.Purpose)
	fmt.Fprintf(w, "budget of the job: epsilon %s, delta %s; a run spends epsilon %s, delta %s (%s noise, k = %d)\n",
		num(r.Epsilon), num(r.Delta), num(r.Spend.Epsilon), num(r.Spend.Delta), r.Noise, r.K)
	fmt.Fprintf(w, "budget split: %s\n", r.Split.Rule)
	fmt.Fprintf(w, "default selection share %s: %s\n", num(r.Split.DefaultSelectionShare), r.Split.DefaultObjective)
	if g := r.Gaussian; g != nil {
		fmt.Fprintf(w, "gaussian composition: the %d noised statistics spend epsilon %s, delta %s together: zCDP rho %s (one Gaussian mechanism of mu %s)\n",
			g.Components, num(g.Share.Epsilon), num(g.Share.Delta), num(g.Rho), num(g.Mu))
	}
	if b := r.Bounds; b != nil {
		fmt.Fprintf(w, "bound estimates: epsilon %s (privacy.bounds_share of the job's), spent in the run on private estimates of the auto bounds and of what bounding removes (docs/bounds.md)\n",
			num(b.Share.Epsilon))
	}
	fmt.Fprintln(w)
	for _, o := range r.Outputs {
		keys := "partitions from data (DP selection)"
		if o.Public {
			keys = "public partitions (every listed key is released)"
		}
		l0 := strconv.FormatInt(o.L0, 10)
		if o.AutoL0 {
			l0 = "auto"
		}
		fmt.Fprintf(w, "output %s  group by %s  L0 %s  %s  weight %s (%s of the job)  spends epsilon %s, delta %s\n",
			o.Name, strings.Join(o.GroupBy, ", "), l0, keys, num(o.Weight), percent(o.Fraction), num(o.Spend.Epsilon), num(o.Spend.Delta))
		if s := o.Selection; s != nil && s.Method == privacy.SelectCountThreshold {
			fmt.Fprintf(w, "  selection: count_threshold: a row is released when its noised people count passes the library's threshold (no epsilon, delta %s, k %d): %s\n",
				num(s.Delta), s.K, peopleNeeded(o, s))
		} else if s != nil {
			origin := "set in the job"
			if s.Default {
				origin = "the default"
			}
			fmt.Fprintf(w, "  selection: share %s of the output's epsilon (%s): epsilon %s, delta %s, k %d: %s\n",
				num(s.Share), origin, num(s.Epsilon), num(s.Delta), s.K, peopleNeeded(o, s))
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		head := "  metric\ttype\tweight\tepsilon\tdelta\tmechanism\tstd dev\t95% CI ±"
		if r.Gaussian != nil {
			head += "\trho"
		}
		fmt.Fprintln(tw, head)
		for _, m := range o.Metrics {
			sd, ci := est(m.StdDev), est(m.CI95)
			switch {
			case m.CI95ByPeople != nil:
				var parts []string
				for _, n := range explain.PeopleScale {
					key := strconv.FormatInt(n, 10)
					parts = append(parts, fmt.Sprintf("%s@%d people", est(m.CI95ByPeople[key]), n))
				}
				sd, ci = "-", strings.Join(parts, ", ")
			case m.Note != "":
				sd, ci = "-", m.Note
			}
			line := fmt.Sprintf("  %s\t%s\t%s (%s)\t%s\t%s\t%s\t%s\t%s", m.Name, m.Type, num(m.Weight), percent(m.Fraction),
				num(m.Epsilon), num(m.Delta), m.Mechanism, sd, ci)
			if r.Gaussian != nil {
				rho := "-" // a quantile tree: its own (epsilon, delta)
				if m.Rho > 0 {
					rho = num(m.Rho)
				}
				line += "\t" + rho
			}
			fmt.Fprintln(tw, line)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	if l := r.Ledger; l != nil {
		fmt.Fprintf(w, "ledger %s\n", l.Path)
		if l.Before != nil {
			fmt.Fprintf(w, "  before: epsilon %s of %s remaining, delta %s of %s remaining\n",
				l.Before.EpsilonRemaining.Format(), l.Before.EpsilonTotal.Format(), l.Before.DeltaRemaining.Format(), l.Before.DeltaTotal.Format())
		}
		if l.Fits && l.After != nil {
			fmt.Fprintf(w, "  after:  epsilon %s remaining, delta %s remaining\n", num(l.After.EpsilonRemaining), num(l.After.DeltaRemaining))
		} else if !l.Fits {
			fmt.Fprintf(w, "  the job does NOT fit: %s\n", l.Problem)
		}
	}
	return nil
}

// printWhatIf prints plan --what-if: a row per figure (whether the job fits,
// per output the people a row needs, per metric its 95% half-width) and a
// column per epsilon, cut to tableWidth unless wide.
func printWhatIf(w io.Writer, reports []*explain.PlanReport, wide bool) error {
	t := &textTable{header: []string{"AT EPSILON"}, right: []bool{false}}
	for _, r := range reports {
		t.header = append(t.header, num(r.Epsilon))
		t.right = append(t.right, true)
	}
	row := func(label string, cell func(r *explain.PlanReport) string) {
		cells := []string{label}
		for _, r := range reports {
			cells = append(cells, cell(r))
		}
		t.add(cells...)
	}
	row("fits the budget", func(r *explain.PlanReport) string {
		if r.Ledger == nil {
			return "-"
		}
		return strconv.FormatBool(r.Ledger.Fits)
	})
	for i, o := range reports[0].Outputs {
		if o.Selection != nil {
			row(o.Name+": people for 50%/95% release", func(r *explain.PlanReport) string {
				s := r.Outputs[i].Selection
				return fmt.Sprintf("%d/%d", s.People50, s.People95)
			})
		}
		for k, m := range o.Metrics {
			switch {
			case m.CI95ByPeople != nil:
				row(fmt.Sprintf("%s.%s ±95%% @1000 people", o.Name, m.Name), func(r *explain.PlanReport) string {
					return est(r.Outputs[i].Metrics[k].CI95ByPeople["1000"])
				})
			case m.Note == "":
				row(fmt.Sprintf("%s.%s ±95%%", o.Name, m.Name), func(r *explain.PlanReport) string {
					return est(r.Outputs[i].Metrics[k].CI95)
				})
			}
		}
	}
	return t.write(w, tableWidthOr(wide))
}
