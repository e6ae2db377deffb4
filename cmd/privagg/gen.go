package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/internal/gen"
)

func init() { register(newGenCmd) }

func newGenCmd(g *globals) *cobra.Command {
	var (
		opt         gen.Options
		consentRate float64
		consentOut  string
		records     int
	)
	cmd := &cobra.Command{
		Use: "gen --out FILE [--events N] [--users U] [--seed S]",
		Example: `  privagg gen --out events.parquet
  privagg gen --events 1000000 --users 100000 --seed 1 --out demo/events.parquet`,
		Short: "Write synthetic marketing events (for demos, tests and benchmarks)",
		Long: `Write synthetic marketing events with personal-looking columns (email, phone,
ip, user_id) and ts, event_type, campaign, channel, country, zip, age, revenue,
consent_marketing, consent_analytics. Activity is heavy-tailed: a few users
have very many events. The same flags always give the same rows.

The format comes from the extension of --out (.parquet, .csv, .json/.jsonl
for newline-delimited JSON) unless --format is given. --consent-table also
writes consent records (user_id, purpose, granted, updated_at) whose latest
record per user and purpose agrees with the consent columns.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("consent-rate") {
				opt.ConsentRate = &consentRate
			}
			if !cmd.Flags().Changed("users") {
				opt.Users = max(1, opt.Events/10)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var view *progressView
			opt.Progress, view = g.startProgress()
			st, err := gen.Generate(ctx, opt)
			view.stop()
			if err != nil {
				return genError(err)
			}
			if _, err := fmt.Fprintf(g.stdout, "%s\n", st); err != nil {
				return err
			}
			if consentOut == "" {
				return nil
			}
			prog, view := g.startProgress()
			cst, err := gen.GenerateConsentTable(ctx, gen.ConsentOptions{
				Users: opt.Users, Seed: opt.Seed, Out: consentOut, ConsentRate: opt.ConsentRate,
				RecordsPerUser: records, Start: opt.Start, Weeks: opt.Weeks,
				Threads: opt.Threads, MemoryLimit: opt.MemoryLimit, TempDir: opt.TempDir, Progress: prog,
			})
			view.stop()
			if err != nil {
				return genError(err)
			}
			_, err = fmt.Fprintf(g.stdout, "%s\n", cst)
			return err
		},
	}
	f := cmd.Flags()
	f.Int64Var(&opt.Events, "events", 1_000_000, "number of events")
	f.Int64Var(&opt.Users, "users", 0, "size of the user id space (default events/10)")
	f.Uint64Var(&opt.Seed, "seed", 1, "seed; the same flags give the same rows")
	f.StringVar(&opt.Out, "out", "", "output file (required); written atomically")
	f.StringVar(&opt.Format, "format", "", "parquet | csv | json (default from the extension of --out)")
	f.Float64Var(&consentRate, "consent-rate", gen.DefaultConsentRate, "share of users with consent_marketing = true")
	f.Float64Var(&opt.Skew, "skew", gen.DefaultSkew, "activity skew: the top 1% of users hold about 0.01^(1/skew) of events (1 = uniform)")
	f.Float64Var(&opt.Zipf, "zipf", 0, "Zipf activity instead of --skew: the user of activity rank r has a share of events proportional to r^-zipf (e.g. 1.2)")
	f.IntVar(&opt.Campaigns, "campaigns", gen.DefaultCampaigns, "number of campaigns")
	f.IntVar(&opt.Weeks, "weeks", gen.DefaultWeeks, "time span in weeks from Monday 2026-01-05")
	f.StringVar(&consentOut, "consent-table", "", "also write consent records to this file (csv, parquet or json)")
	f.IntVar(&records, "consent-records", gen.DefaultRecordsPerUser, "maximum consent records per user and purpose")
	f.IntVar(&opt.Threads, "threads", 0, "DuckDB threads (default all cores)")
	f.StringVar(&opt.MemoryLimit, "memory-limit", "", "DuckDB memory limit, e.g. 4GB")
	f.StringVar(&opt.TempDir, "temp-dir", "", "DuckDB spill folder")
	return cmd
}

// genError makes invalid options a usage error (exit 2); other failures stay
// runtime errors (exit 1).
func genError(err error) error {
	if errors.Is(err, gen.ErrInvalidOptions) {
		return usageError{err}
	}
	return err
}
