package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/internal/hint"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

func init() { register(newBudgetCmd) }

func newBudgetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use: "budget",
		Example: `  privagg budget set web_events --epsilon 3 --delta 5e-6 --period month --reason "2026 plan"
  privagg budget show
  privagg budget history web_events
  privagg budget verify`,
		Short: "Set and inspect the privacy budgets in the ledger",
		Long: `Privacy budgets per dataset, kept in the ledger (--ledger, else PRIVAGG_LEDGER,
else the project file's ledger:, else ./privagg-ledger.duckdb) and its
hash-chained journal beside it. show, history and verify only read: they
open the ledger read-only. A dataset without a budget refuses every job
(exit 3).`,
	}
	cmd.AddCommand(newBudgetSetCmd(g), newBudgetShowCmd(g), newBudgetHistoryCmd(g), newBudgetVerifyCmd(g))
	return cmd
}

func newBudgetSetCmd(g *globals) *cobra.Command {
	var (
		epsilon, delta   float64
		period, reason   string
		allowWeak, force bool
	)
	cmd := &cobra.Command{
		Use: "set DATASET --epsilon E [--delta D] [--period none|month|Nd] --reason TEXT",
		Example: `  privagg budget set web_events --epsilon 3 --delta 5e-6 --period month --reason "2026 plan, approved by the DPO"
  privagg budget set crm --epsilon 1 --period 30d --reason "pilot"   # delta 0: laplace with public keys only`,
		Short: "Set (or replace) a dataset's budget",
		Long: `Set how much privacy loss jobs on DATASET may spend per period:
  none   the budget is for all time
  month  per calendar month (UTC)
  Nd     per rolling window of N days, e.g. 30d
Spends already made keep counting against the new budget: a total below
what the current period has spent is refused (exit 2) unless --force. The
journal records
who set it (the operating-system account running privagg; with sudo, also the
account that ran sudo) and --reason; budget history shows both.`,
		Args: exactArgs("DATASET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("epsilon") {
				return usageError{fmt.Errorf("--epsilon: required")}
			}
			if math.IsNaN(epsilon) || math.IsInf(epsilon, 0) || epsilon <= 0 {
				return usageError{fmt.Errorf("--epsilon: %v must be a finite number > 0", epsilon)}
			}
			if math.IsNaN(delta) || delta < 0 || delta >= 1 {
				return usageError{fmt.Errorf("--delta: %v must be >= 0 and < 1", delta)}
			}
			if weak := privacy.WeakParams(epsilon, delta); len(weak) > 0 && !allowWeak {
				msgs := make([]string, len(weak))
				for i, w := range weak {
					msgs[i] = fmt.Sprintf("--%s: %s %s%s", w.Name, privacy.FormatNumber(w.Value), w.Rule, job.AllowWeakAdvice)
				}
				return usageError{errors.New(strings.Join(msgs, "; "))}
			}
			if _, err := privacy.ParsePeriod(period); err != nil {
				return usageError{fmt.Errorf("--period: %w", err)}
			}
			if strings.TrimSpace(reason) == "" {
				return usageError{fmt.Errorf("--reason: required: say why the budget changes (recorded in the journal with who changed it)")}
			}
			path, implicit, err := ledgerPath(g)
			if err != nil {
				return err
			}
			if implicit {
				if err := newLedgerRefused(path); err != nil {
					return err
				}
			}
			if err := ledgerFolderExists(path); err != nil {
				return err
			}
			l, err := privacy.OpenLedger(path)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			req := privacy.BudgetRequest{Dataset: args[0], Epsilon: epsilon, Delta: delta, Period: period,
				Reason: strings.TrimSpace(reason), BelowSpent: force}
			if err := l.ChangeBudget(ctx, req); err != nil {
				if errors.Is(err, privacy.ErrBelowSpent) {
					return usageError{fmt.Errorf("%w; give --force to set it anyway", err)}
				}
				return err
			}
			st, err := l.Status(ctx, args[0])
			if err != nil {
				return err
			}
			deltaFrom := "from --delta"
			if !cmd.Flags().Changed("delta") {
				deltaFrom = "the default: --delta not given; jobs with delta > 0 (gaussian noise, keys from the data) are refused"
			}
			if _, err := fmt.Fprintf(g.stdout, "budget of dataset %s: epsilon %s, delta %s (%s), period %s; spent in the current period: epsilon %s, delta %s\n",
				st.Dataset, st.EpsilonTotal, st.DeltaTotal, deltaFrom, st.Period, st.EpsilonSpent, st.DeltaSpent); err != nil {
				return err
			}
			sum, err := l.Inspect(ctx)
			if err != nil {
				return err
			}
			return printHeadHint(g.stdout, sum)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&epsilon, "epsilon", 0, "epsilon per period (required, > 0)")
	f.Float64Var(&delta, "delta", 0, "delta per period (>= 0, < 1)")
	f.StringVar(&period, "period", "none", "budget period: none | month | Nd (rolling N days, e.g. 30d)")
	f.StringVar(&reason, "reason", "", "why the budget changes (required; recorded in the journal)")
	f.BoolVar(&force, "force", false, "set a total below what the current period has already spent (no job can then run)")
	allowWeakFlag(cmd, &allowWeak)
	return cmd
}

// ledgerFolderExists refuses a new ledger in a folder that does not exist
// (a usage error naming the folder), rather than letting the ledger's open
// fail as if it were damaged.
func ledgerFolderExists(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return usageError{fmt.Errorf("--ledger %s: %w", path, err)}
	}
	dir := filepath.Dir(abs)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usageError{fmt.Errorf("ledger %s: its folder %s does not exist: create it first (mkdir -p %s) or choose another ledger path",
			abs, dir, hint.Quote(dir))}
	}
	return nil
}

// setBudgetHint is the command that sets a budget in the ledger at path.
func setBudgetHint(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return hint.SetBudget(abs, hint.Dataset)
}

// openReadOnly opens the command's ledger for reading only.
func openReadOnly(g *globals) (*privacy.Ledger, error) {
	path, _, err := ledgerPath(g)
	if err != nil {
		return nil, err
	}
	return privacy.OpenLedger(path, privacy.WithReadOnly())
}

func budgetFormatFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVar(format, "format", "table", "output format: table | json")
}

func checkBudgetFormat(format string) error {
	if format != "table" && format != "json" {
		return usageError{fmt.Errorf("--format: %q must be table or json", format)}
	}
	return nil
}

func newBudgetShowCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "show [DATASET]",
		Example: `  privagg budget show
  privagg budget show web_events --format json`,
		Short: "Show budgets: total, spent and remaining in the current period",
		Long: `Show the budget of DATASET, or of every dataset. Spent counts every release
charged in the current period (reserved, stored or published: there are no
refunds). With --format json, one object for DATASET, else an array, with the
fields dataset, epsilon_total, delta_total, epsilon_spent, delta_spent,
epsilon_remaining, delta_remaining, period, period_start, period_end.`,
		Args: optionalArgs("DATASET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkBudgetFormat(format); err != nil {
				return err
			}
			l, err := openReadOnly(g)
			if err != nil {
				return err
			}
			var sts []privacy.BudgetStatus
			if len(args) == 1 {
				st, err := l.Status(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if format == "json" {
					return writeJSON(g.stdout, st)
				}
				sts = []privacy.BudgetStatus{st}
			} else if sts, err = l.Statuses(cmd.Context()); err != nil {
				return err
			}
			if format == "json" {
				if sts == nil {
					sts = []privacy.BudgetStatus{}
				}
				return writeJSON(g.stdout, sts)
			}
			if len(sts) == 0 {
				_, err := fmt.Fprintf(g.stdout, "no budgets; set one with %s\n", setBudgetHint(l.Path()))
				return err
			}
			return budgetTable(g.stdout, sts)
		},
	}
	budgetFormatFlag(cmd, &format)
	return cmd
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func budgetTable(w io.Writer, sts []privacy.BudgetStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tPERIOD\tEPSILON SPENT\tEPSILON REMAINING\tEPSILON TOTAL\tDELTA SPENT\tDELTA REMAINING\tDELTA TOTAL\tPERIOD START\tPERIOD END")
	for _, s := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Dataset, s.Period,
			s.EpsilonSpent.Format(), s.EpsilonRemaining.Format(), s.EpsilonTotal.Format(), s.DeltaSpent.Format(), s.DeltaRemaining.Format(), s.DeltaTotal.Format(),
			timeOrDash(s.PeriodStart), timeOrDash(s.PeriodEnd))
	}
	return tw.Flush()
}

// budgetHistory is `budget history --format json`.
type budgetHistory struct {
	Dataset       string                  `json:"dataset"`
	BudgetChanges []privacy.BudgetChange  `json:"budget_changes"`
	Releases      []privacy.ReleaseRecord `json:"releases"`
}

func newBudgetHistoryCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "history DATASET",
		Example: `  privagg budget history web_events
  privagg budget history web_events --format json`,
		Short: "List the changes of a dataset's budget and the releases charged to it, oldest first",
		Long: `List every change of DATASET's budget (when, epsilon, delta, period, who set it
and why; who and why are empty for changes made before privagg recorded them),
then every release charged to it: release id, state (reserved: charged, not
complete; stored: in the release store; published: copied to its output
folder), job, purpose, epsilon, delta and when each state was reached.
--format json prints one object with the fields dataset, budget_changes and
releases. A dataset that never had a budget exits 3, like budget show.`,
		Args: exactArgs("DATASET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkBudgetFormat(format); err != nil {
				return err
			}
			l, err := openReadOnly(g)
			if err != nil {
				return err
			}
			h := budgetHistory{Dataset: args[0]}
			if h.BudgetChanges, err = l.BudgetChanges(cmd.Context(), args[0]); err != nil {
				return err
			}
			if h.Releases, err = l.History(cmd.Context(), args[0]); err != nil {
				return err
			}
			if len(h.BudgetChanges) == 0 && len(h.Releases) == 0 {
				// An unknown dataset: the same refusal (exit 3) as budget show.
				if _, err := l.Status(cmd.Context(), args[0]); err != nil {
					return err
				}
			}
			if format == "json" {
				if h.BudgetChanges == nil {
					h.BudgetChanges = []privacy.BudgetChange{}
				}
				if h.Releases == nil {
					h.Releases = []privacy.ReleaseRecord{}
				}
				return writeJSON(g.stdout, h)
			}
			return historyTable(g.stdout, h)
		},
	}
	budgetFormatFlag(cmd, &format)
	return cmd
}

func historyTable(w io.Writer, h budgetHistory) error {
	if len(h.BudgetChanges) == 0 {
		fmt.Fprintf(w, "no budget changes of dataset %s\n", h.Dataset)
	} else {
		fmt.Fprintf(w, "budget changes of dataset %s:\n", h.Dataset)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tEPSILON\tDELTA\tPERIOD\tSET BY\tREASON")
		for _, c := range h.BudgetChanges {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", timeOrDash(&c.Time), c.Epsilon.Format(), c.Delta.Format(), c.Period, orDash(c.SetBy), orDash(c.Reason))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(h.Releases) == 0 {
		_, err := fmt.Fprintf(w, "\nno releases charged to dataset %s\n", h.Dataset)
		return err
	}
	fmt.Fprintf(w, "\nreleases charged to dataset %s:\n", h.Dataset)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE ID\tSTATE\tJOB\tPURPOSE\tEPSILON\tDELTA\tRESERVED AT\tSTORED AT\tPUBLISHED AT")
	for _, r := range h.Releases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ReleaseID, r.State, r.Job, r.Purpose,
			r.Epsilon.Format(), r.Delta.Format(), timeOrDash(&r.ReservedAt), timeOrDash(r.StoredAt), timeOrDash(r.PublishedAt))
	}
	return tw.Flush()
}

func newBudgetVerifyCmd(g *globals) *cobra.Command {
	var head string
	cmd := &cobra.Command{
		Use: "verify [--head H]",
		Example: `  privagg budget verify
  privagg --ledger /srv/privagg/ledger.duckdb budget verify
  privagg budget verify --head 3f9a...   # the head an earlier verify or budget set printed`,
		Short: "Check the ledger against its journal and say what state they are in",
		Long: `Check the journal's hash chain and that the ledger holds exactly the entries
of the journal. Exits 0 if they agree, 1 with the reason and how to restore if
not (nothing is released until they agree). It only reads: an interrupted
write (a crash between the journal and the ledger) is reported, and the next
command that writes the ledger completes or removes it.

The chain has no key: the account that writes the ledger could rewrite both
files consistently. verify and budget set print the journal's head; keep a
copy where that account cannot write, and check it later with --head H:
verify then also fails (exit 1) unless the journal still passes through H,
and lists the budget changes made since H.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if head != "" {
				if err := privacy.ValidateHead(head); err != nil {
					return usageError{fmt.Errorf("--head: %w", err)}
				}
			}
			l, err := openReadOnly(g)
			if err != nil {
				return err
			}
			sum, err := l.Inspect(cmd.Context())
			if err != nil {
				return err
			}
			w := g.stdout
			if !sum.Exists {
				if head != "" {
					return &privacy.LedgerError{Path: sum.Path, Reason: "the ledger does not exist, so its journal cannot contain the head " + head, Err: privacy.ErrHeadNotFound}
				}
				_, err := fmt.Fprintf(w, "ledger %s does not exist yet: no budgets, no releases; %s creates it\n", sum.Path, setBudgetHint(sum.Path))
				return err
			}
			var b strings.Builder
			if head != "" {
				hc, err := l.VerifyHead(cmd.Context(), head)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "head OK: the journal passes through %s (entry %d of %d): nothing up to it was changed\n", hc.Head, hc.Seq, hc.Entries)
				fmt.Fprintf(&b, "since that head: %d entries, %d budget changes\n", hc.Entries-hc.Seq, len(hc.BudgetChanges))
				for _, c := range hc.BudgetChanges {
					fmt.Fprintf(&b, "  entry %d %s: dataset %s epsilon %s delta %s period %s, set by %s: %s\n", c.Seq, timeOrDash(&c.Time),
						c.Dataset, c.Epsilon.Format(), c.Delta.Format(), c.Period, orDash(c.SetBy), orDash(c.Reason))
				}
			}
			fmt.Fprintf(&b, "ledger OK: %s\n", sum.Path)
			fmt.Fprintf(&b, "journal: %s, %d entries, all applied; last line sha256 %s\n", sum.JournalPath, sum.Entries, sum.Head)
			fmt.Fprintf(&b, "budgets: %d; releases: %d reserved, %d stored, %d published\n", sum.Budgets,
				sum.Releases[privacy.StateReserved], sum.Releases[privacy.StateStored], sum.Releases[privacy.StatePublished])
			if sum.Recovered != "" {
				fmt.Fprintf(&b, "interrupted write: %s\n", sum.Recovered)
			}
			if _, err := io.WriteString(w, b.String()); err != nil {
				return err
			}
			return printHeadHint(w, sum)
		},
	}
	cmd.Flags().StringVar(&head, "head", "", "a journal head recorded earlier (64 hex digits): fail unless the journal still passes through it")
	return cmd
}

// printHeadHint prints the journal's head and the command that checks it
// later, to be kept where the account that writes the ledger cannot write.
func printHeadHint(w io.Writer, sum privacy.LedgerSummary) error {
	_, err := fmt.Fprintf(w, "journal head %s: keep a copy where the pipeline account cannot write; to check later that "+
		"nothing up to here was rewritten, run %s\n", sum.Head, hint.Command("budget", "verify", "--ledger", sum.Path, "--head", sum.Head))
	return err
}
