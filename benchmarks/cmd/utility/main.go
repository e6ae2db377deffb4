// Command utility measures how close privagg's released values are to the
// truth on skewed synthetic activity (issue "Utility"; `make bench-utility`,
// results in benchmarks/UTILITY.md), for one or more privagg binaries and
// job plans:
//
//	utility --privagg after=bin/privagg [--privagg before=/tmp/old/privagg]
//	        [--plan issue=benchmarks/utility/issue.yaml ...] [--seeds 1,2,3,4,5]
//	utility --oracle [--seeds 1]
//
// Per seed it generates events with internal/gen (--skew 1.2 by default;
// cached in --data) and runs every plan (a job file with {{input}}, {{out}}
// and {{ledger}} placeholders; one output campaign_weekly with metrics
// events, people and revenue) with every binary, each in a fresh folder
// with its own ledger and release id, so every run draws its own selection
// and noise. For every metric it compares the released values with the
// true (unbounded, consented) values of each partition and splits the error
// into the bias of bounding alone (the expectation of the released value
// without noise: each person keeps a uniformly random L0 of their
// partitions among the released ones, Linf rows and clamped totals) and
// the rest (noise, and the spread of the random bounding). It prints the
// per-seed figures and a markdown table of medians over seeds with their
// range.
//
// The true values never leave this tool: it reads the synthetic input
// directly, which a real analyst could not.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/privagg/privagg/internal/gen"
	"github.com/privagg/privagg/internal/sqlq"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

type config struct {
	binaries  []binary
	plans     []plan
	seeds     []uint64
	events    int64
	users     int64
	zipf      float64
	skew      float64
	campaigns int
	weeks     int
	dataDir   string
	oracle    bool
}

type binary struct{ label, path string }

// plan is a job template: a job file with {{input}}, {{out}} and
// {{ledger}} placeholders.
type plan struct{ label, path string }

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "utility: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dataDir, 0o755); err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // the temp table pp lives in one connection

	type runKey struct{ bin, plan string }
	results := map[runKey][]result{}
	for _, seed := range c.seeds {
		data, err := c.dataFile(ctx, seed, stderr)
		if err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf(perPersonSQL, sqlq.String(data))); err != nil {
			return fmt.Errorf("true values: %w", err)
		}
		if c.oracle {
			fmt.Fprintf(stdout, "%s\n\nBounding oracle, seed %d:\n\n", c.describe(), seed)
			return writeOracle(ctx, db, stdout)
		}
		for _, b := range c.binaries {
			for _, p := range c.plans {
				out, bd, err := c.runJob(ctx, b, p, seed, data)
				if err != nil {
					return err
				}
				parts, err := readPartitions(ctx, db, out, bd)
				if err != nil {
					return err
				}
				r := score(parts)
				k := runKey{b.label, p.label}
				results[k] = append(results[k], r)
				fmt.Fprintf(stdout, "seed %d %s/%s: released %d of %d", seed, b.label, p.label, r.Released, r.Partitions)
				for m, name := range metricNames {
					s := r.Metrics[m]
					fmt.Fprintf(stdout, "; %s err %.3f cover %.2f bias %+.3f noise %.3f MAE20 %.1f", name, s.RelErr, s.Coverage, s.Bias, s.Noise, s.MAETop20)
				}
				fmt.Fprintln(stdout)
			}
		}
	}
	fmt.Fprintf(stdout, "\n%s\n\n", c.describe())
	fmt.Fprintln(stdout, "| binary/plan | partitions released | metric | median relative error | intervals containing the truth | bounding bias (expected) | noise (relative) | values with CI95 < value | values within 10% of truth | MAE, 20 largest partitions | bounding alone: MAE, 20 largest |")
	fmt.Fprintln(stdout, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, b := range c.binaries {
		for _, p := range c.plans {
			rs := results[runKey{b.label, p.label}]
			col := func(f func(result) float64, format string) string {
				vals := make([]float64, len(rs))
				for i, r := range rs {
					vals[i] = f(r)
				}
				return fmt.Sprintf(format+" ("+format+" to "+format+")", median(vals), slices.Min(vals), slices.Max(vals))
			}
			for m, name := range metricNames {
				label, released := "", ""
				if m == 0 {
					label = b.label + "/" + p.label
					released = col(func(r result) float64 { return float64(r.Released) }, "%.0f")
				}
				pick := func(f func(metricScore) float64) func(result) float64 {
					return func(r result) float64 { return f(r.Metrics[m]) }
				}
				fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, released, name,
					col(pick(func(s metricScore) float64 { return 100 * s.RelErr }), "%.1f%%"),
					col(pick(func(s metricScore) float64 { return 100 * s.Coverage }), "%.0f%%"),
					col(pick(func(s metricScore) float64 { return 100 * s.Bias }), "%+.1f%%"),
					col(pick(func(s metricScore) float64 { return 100 * s.Noise }), "%.1f%%"),
					col(pick(func(s metricScore) float64 { return 100 * s.CINarrow }), "%.0f%%"),
					col(pick(func(s metricScore) float64 { return float64(s.Within10) }), "%.0f"),
					col(pick(func(s metricScore) float64 { return s.MAETop20 }), "%.1f"),
					col(pick(func(s metricScore) float64 { return s.BiasTop20 }), "%.1f"))
			}
		}
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("utility", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	var seeds string
	labelled := func(s string) (string, string) {
		label, path, ok := strings.Cut(s, "=")
		if !ok {
			label, path = strings.TrimSuffix(filepath.Base(s), filepath.Ext(s)), s
		}
		return label, path
	}
	fs.Func("privagg", "LABEL=BINARY to measure (repeatable)", func(s string) error {
		l, p := labelled(s)
		c.binaries = append(c.binaries, binary{l, p})
		return nil
	})
	fs.Func("plan", "LABEL=JOB-TEMPLATE to measure (repeatable; default benchmarks/utility/issue.yaml)", func(s string) error {
		l, p := labelled(s)
		c.plans = append(c.plans, plan{l, p})
		return nil
	})
	fs.StringVar(&seeds, "seeds", "1,2,3,4,5", "data seeds (each also a fresh run)")
	fs.Int64Var(&c.events, "events", 1_000_000, "events per data set")
	fs.Int64Var(&c.users, "users", 100_000, "user id space")
	fs.Float64Var(&c.zipf, "zipf", 0, "privagg gen --zipf: Zipf exponent of activity (0: use --skew)")
	fs.Float64Var(&c.skew, "skew", 1.2, "privagg gen --skew when --zipf is 0")
	fs.IntVar(&c.campaigns, "campaigns", 100, "campaigns (partitions = campaigns x 5 channels x weeks)")
	fs.IntVar(&c.weeks, "weeks", 10, "weeks")
	fs.BoolVar(&c.oracle, "oracle", false, "print, for the first seed's data, the bias L0 bounding alone leaves when the N largest partitions are selected (no runs)")
	fs.StringVar(&c.dataDir, "data", "benchmarks/data/utility", "cache of generated files and run folders")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if len(c.binaries) == 0 && !c.oracle {
		return nil, errors.New("--privagg LABEL=BINARY is required")
	}
	if len(c.plans) == 0 {
		c.plans = []plan{{"issue", "benchmarks/utility/issue.yaml"}}
	}
	for _, s := range strings.Split(seeds, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds: %w", err)
		}
		c.seeds = append(c.seeds, v)
	}
	return c, nil
}

func (c *config) describe() string {
	activity := fmt.Sprintf("--zipf %g", c.zipf)
	if c.zipf == 0 {
		activity = fmt.Sprintf("--skew %g", c.skew)
	}
	var seeds []string
	for _, s := range c.seeds {
		seeds = append(seeds, fmt.Sprint(s))
	}
	return fmt.Sprintf("Data: privagg gen --events %d --users %d %s --campaigns %d --weeks %d, seeds %s; medians over the seeds (range in brackets).",
		c.events, c.users, activity, c.campaigns, c.weeks, strings.Join(seeds, ", "))
}

// dataFile generates (or reuses) the events of one seed.
func (c *config) dataFile(ctx context.Context, seed uint64, stderr io.Writer) (string, error) {
	activity := fmt.Sprintf("z%g", c.zipf)
	if c.zipf == 0 {
		activity = fmt.Sprintf("k%g", c.skew)
	}
	path := filepath.Join(c.dataDir, fmt.Sprintf("events_%d_u%d_%s_c%d_w%d_s%d.parquet", c.events, c.users, activity, c.campaigns, c.weeks, seed))
	if _, err := os.Stat(path); err == nil {
		return filepath.Abs(path)
	}
	fmt.Fprintf(stderr, "generating %s ...\n", path)
	if _, err := gen.Generate(ctx, gen.Options{
		Events: c.events, Users: c.users, Seed: seed, Out: path,
		Zipf: c.zipf, Skew: c.skew, Campaigns: c.campaigns, Weeks: c.weeks,
	}); err != nil {
		return "", err
	}
	return filepath.Abs(path)
}

// runJob runs plan p with binary b on data in a fresh folder and returns
// the released CSV and the output's bounds.
func (c *config) runJob(ctx context.Context, b binary, p plan, seed uint64, data string) (string, bounds, error) {
	dir, err := filepath.Abs(filepath.Join(c.dataDir, "runs", fmt.Sprintf("%s-%s-s%d", b.label, p.label, seed)))
	if err != nil {
		return "", bounds{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", bounds{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", bounds{}, err
	}
	tmpl, err := os.ReadFile(p.path)
	if err != nil {
		return "", bounds{}, fmt.Errorf("plan %s: %w", p.label, err)
	}
	ledger, out := filepath.Join(dir, "ledger.duckdb"), filepath.Join(dir, "out")
	jobFile := filepath.Join(dir, "job.yaml")
	text := strings.NewReplacer("{{input}}", data, "{{out}}", out, "{{ledger}}", ledger).Replace(string(tmpl))
	if err := os.WriteFile(jobFile, []byte(text), 0o644); err != nil {
		return "", bounds{}, err
	}
	bd, err := readBounds(jobFile)
	if err != nil {
		return "", bounds{}, fmt.Errorf("plan %s: %w", p.label, err)
	}

	for _, args := range [][]string{
		{"budget", "set", "utility", "--epsilon", "10", "--delta", "5e-6", "--period", "none", "--reason", "utility benchmark", "--ledger", ledger},
		{"run", "-q", jobFile, "--ledger", ledger, "--release-id", fmt.Sprintf("utility-%s-%s-%d", b.label, p.label, seed)},
	} {
		cmd := exec.CommandContext(ctx, b.path, args...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", bounds{}, fmt.Errorf("%s %s: %w\n%s", b.path, strings.Join(args, " "), err, msg)
		}
	}
	// Auto bounds: the ones the run estimated, from the manifest.
	if bd, err = manifestBounds(filepath.Join(out, "campaign_weekly.manifest.json"), bd); err != nil {
		return "", bounds{}, err
	}
	return filepath.Join(out, "campaign_weekly.csv"), bd, nil
}

// manifestBounds replaces the bounds read from the job file by those the
// manifest says the release used, when the job estimated them.
func manifestBounds(path string, bd bounds) (bounds, error) {
	f, err := os.Open(path)
	if err != nil {
		return bd, err
	}
	defer f.Close()
	m, err := release.ReadManifest(f)
	if err != nil || m.Bounds == nil {
		return bd, err
	}
	bd.L0 = int64(m.Bounds.L0.Value)
	for _, mb := range m.Bounds.Metrics {
		switch mb.Metric {
		case "events":
			if mb.MaxPerUnit != nil {
				bd.Linf = int64(mb.MaxPerUnit.Value)
			}
		case "revenue":
			if mb.Min != nil && mb.Max != nil {
				bd.Min, bd.Max = mb.Min.Value, mb.Max.Value
			}
		}
	}
	return bd, nil
}

// readBounds reads the contribution bounds of the job's campaign_weekly
// output.
func readBounds(path string) (bounds, error) {
	j, err := job.LoadJob(path)
	if err != nil {
		return bounds{}, err
	}
	for _, o := range j.Outputs {
		if o.Name != "campaign_weekly" {
			continue
		}
		bd := bounds{L0: o.MaxPartitionsPerUnit, OnePhase: o.Selection == privacy.SelectCountThreshold}
		for _, m := range o.Metrics {
			switch m.Name {
			case "events":
				bd.Linf = m.MaxPerUnit
			case "revenue":
				if m.Min == nil || m.Max == nil {
					return bounds{}, errors.New("revenue needs min and max")
				}
				bd.Min, bd.Max = *m.Min, *m.Max
			}
		}
		return bd, nil
	}
	return bounds{}, errors.New("no output campaign_weekly")
}
