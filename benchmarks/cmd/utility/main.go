// Command utility measures how close privagg's released distinct-people
// counts are to the truth on skewed synthetic activity, for one or more
// privagg binaries (e.g. before and after a change):
//
//	utility --privagg before=/tmp/privagg-main --privagg after=bin/privagg [--seeds 1,2,3,4,5]
//
// Per seed it generates events with internal/gen (--skew 1.2 by default;
// cached in --data), runs the job of benchmarks/UTILITY.md with each binary
// (a fresh ledger and release id, so every run draws its own selection and
// noise), and compares the released people column with the true number of
// distinct consented people of each partition: the partitions released, the
// median relative error and the median signed relative error over released
// partitions, and the mean absolute error over the 20 partitions with the
// most people (a partition that is not released counts as 0); and, to tell
// bounding from noise, the bias bounding alone would give in expectation
// (each person keeping a uniformly random 5 of their partitions among all,
// or among the released ones). It prints the per-seed figures and a
// markdown table of medians over seeds with their range.
//
// The true counts never leave this tool: it reads the synthetic input
// directly, which a real analyst could not.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/privagg/privagg/internal/gen"
)

// jobYAML is the job of the utility measurement: keys from the data
// (campaign, channel, week), L0 5, k 10, Laplace, epsilon 1.
const jobYAML = `version: 1
name: utility
dataset: utility
purpose: marketing
input: {path: %s, format: parquet}
privacy_unit: user_id
identifiers: [email, phone, ip]
consent: {column: consent_marketing}
columns:
  week: {from: ts, truncate: week}
privacy: {epsilon: 1, delta: 1e-6, noise: laplace, k: 10, max_partitions_per_unit: 5}
outputs:
  - name: campaign_weekly
    group_by: [campaign, channel, week]
    metrics:
      - {name: events, type: count, max_per_unit: 3}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 500}
output: {dir: %s, format: csv}
ledger: %s
`

// truthSQL counts the true distinct consented people per partition, keys
// formatted as privagg releases them.
const truthSQL = `SELECT campaign, channel, strftime(date_trunc('week', ts), '%%Y-%%m-%%d') AS week, count(DISTINCT user_id) AS people
FROM read_parquet(%s) WHERE consent_marketing GROUP BY ALL`

// expectedSQL is, per released partition, the expected number of people it
// keeps when each person keeps a uniformly random L0 (5) of their
// partitions among all partitions (one) or among the released ones (two).
const expectedSQL = `WITH ev AS (
  SELECT DISTINCT user_id, campaign, channel, strftime(date_trunc('week', ts), '%%Y-%%m-%%d') AS week
  FROM read_parquet(%s) WHERE consent_marketing),
rel AS (SELECT campaign, channel, week FROM read_csv(%s, all_varchar=true)),
sel AS (SELECT * FROM ev SEMI JOIN rel USING (campaign, channel, week)),
n_all AS (SELECT user_id, count(*) AS n FROM ev GROUP BY 1),
n_sel AS (SELECT user_id, count(*) AS n FROM sel GROUP BY 1)
SELECT campaign, channel, week, sum(least(1, 5 / a.n)), sum(least(1, 5 / s.n))
FROM sel JOIN n_all a USING (user_id) JOIN n_sel s USING (user_id) GROUP BY ALL`

type config struct {
	binaries  []binary
	seeds     []uint64
	events    int64
	users     int64
	zipf      float64
	skew      float64
	campaigns int
	weeks     int
	dataDir   string
}

type binary struct{ label, path string }

// result is one run's utility.
type result struct {
	Partitions int     // partitions with data (true)
	Released   int     // rows released
	MedRelErr  float64 // median |released - true| / true over released rows
	MedRelBias float64 // median (released - true) / true over released rows
	MAETop20   float64 // mean |released - true| over the 20 largest true partitions
	// The bias of bounding alone, without noise: the expected number of
	// people a partition keeps when each person keeps a uniformly random
	// L0 of their partitions, among all partitions (one phase) or among
	// the released ones (two phases), as median (expected - true) / true
	// over released rows, and the two-phase one as mean |expected - true|
	// over the 20 largest partitions.
	BiasOne, BiasTwo, BiasTwoTop20 float64
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "utility: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("utility", flag.ContinueOnError)
	var c config
	var bins, seeds string
	fs.Func("privagg", "LABEL=BINARY to measure (repeatable)", func(s string) error {
		label, path, ok := strings.Cut(s, "=")
		if !ok {
			label, path = filepath.Base(s), s
		}
		c.binaries = append(c.binaries, binary{label, path})
		bins += s
		return nil
	})
	fs.StringVar(&seeds, "seeds", "1,2,3,4,5", "data seeds (each also a fresh run)")
	fs.Int64Var(&c.events, "events", 1_000_000, "events per data set")
	fs.Int64Var(&c.users, "users", 100_000, "user id space")
	fs.Float64Var(&c.zipf, "zipf", 0, "privagg gen --zipf: Zipf exponent of activity (0: use --skew)")
	fs.Float64Var(&c.skew, "skew", 1.2, "privagg gen --skew when --zipf is 0")
	fs.IntVar(&c.campaigns, "campaigns", 100, "campaigns (partitions = campaigns x 5 channels x weeks)")
	fs.IntVar(&c.weeks, "weeks", 10, "weeks")
	fs.StringVar(&c.dataDir, "data", "benchmarks/data/utility", "cache of generated files and run folders")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(c.binaries) == 0 {
		return errors.New("--privagg LABEL=BINARY is required")
	}
	for _, s := range strings.Split(seeds, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("--seeds: %w", err)
		}
		c.seeds = append(c.seeds, v)
	}
	if err := os.MkdirAll(c.dataDir, 0o755); err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()

	results := map[string][]result{}
	for _, seed := range c.seeds {
		data, err := c.dataFile(ctx, seed, stderr)
		if err != nil {
			return err
		}
		truth, err := readTruth(ctx, db, data)
		if err != nil {
			return err
		}
		for _, b := range c.binaries {
			out, err := c.runJob(ctx, b, seed, data)
			if err != nil {
				return err
			}
			released, err := readReleased(ctx, db, out)
			if err != nil {
				return err
			}
			one, two, err := readExpected(ctx, db, data, out)
			if err != nil {
				return err
			}
			r := score(truth, released, one, two)
			results[b.label] = append(results[b.label], r)
			fmt.Fprintf(stdout, "seed %d %-8s partitions %d released %d median rel. error %.3f median rel. bias %+.3f MAE top 20 %.1f; bounding alone: one phase %+.3f, two phases %+.3f, MAE top 20 %.1f\n",
				seed, b.label, r.Partitions, r.Released, r.MedRelErr, r.MedRelBias, r.MAETop20, r.BiasOne, r.BiasTwo, r.BiasTwoTop20)
		}
	}
	fmt.Fprintf(stdout, "\n%s\n", c.describe())
	fmt.Fprintln(stdout, "\n| binary | partitions released | median relative error of people | median signed relative error | MAE of people, 20 largest partitions | bounding alone: one phase | bounding alone: two phases | bounding alone: MAE, 20 largest (two phases) |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, b := range c.binaries {
		rs := results[b.label]
		col := func(f func(result) float64, format string) string {
			vals := make([]float64, len(rs))
			for i, r := range rs {
				vals[i] = f(r)
			}
			lo, hi := slices.Min(vals), slices.Max(vals)
			return fmt.Sprintf(format+" ("+format+" to "+format+")", median(vals), lo, hi)
		}
		fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", b.label,
			col(func(r result) float64 { return float64(r.Released) }, "%.0f"),
			col(func(r result) float64 { return 100 * r.MedRelErr }, "%.1f%%"),
			col(func(r result) float64 { return 100 * r.MedRelBias }, "%+.1f%%"),
			col(func(r result) float64 { return r.MAETop20 }, "%.1f"),
			col(func(r result) float64 { return 100 * r.BiasOne }, "%+.1f%%"),
			col(func(r result) float64 { return 100 * r.BiasTwo }, "%+.1f%%"),
			col(func(r result) float64 { return r.BiasTwoTop20 }, "%.1f"))
	}
	return nil
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

// runJob runs the utility job with binary b on data in a fresh folder and
// returns the released CSV.
func (c *config) runJob(ctx context.Context, b binary, seed uint64, data string) (string, error) {
	dir, err := filepath.Abs(filepath.Join(c.dataDir, "runs", fmt.Sprintf("%s-s%d", b.label, seed)))
	if err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	ledger, out := filepath.Join(dir, "ledger.duckdb"), filepath.Join(dir, "out")
	jobFile := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(jobFile, []byte(fmt.Sprintf(jobYAML, data, out, ledger)), 0o644); err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"budget", "set", "utility", "--epsilon", "10", "--delta", "5e-6", "--period", "none", "--ledger", ledger},
		{"run", "-q", jobFile, "--ledger", ledger, "--release-id", fmt.Sprintf("utility-%s-%d", b.label, seed)},
	} {
		cmd := exec.CommandContext(ctx, b.path, args...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s %s: %w\n%s", b.path, strings.Join(args, " "), err, msg)
		}
	}
	return filepath.Join(out, "campaign_weekly.csv"), nil
}

type key struct{ campaign, channel, week string }

func readTruth(ctx context.Context, db *sql.DB, data string) (map[key]float64, error) {
	return readCounts(ctx, db, fmt.Sprintf(truthSQL, sqlString(data)))
}

func readReleased(ctx context.Context, db *sql.DB, csv string) (map[key]float64, error) {
	return readCounts(ctx, db, fmt.Sprintf("SELECT campaign, channel, week, people FROM read_csv(%s, all_varchar=true)", sqlString(csv)))
}

// readExpected reads expectedSQL for the partitions released in csv.
func readExpected(ctx context.Context, db *sql.DB, data, csv string) (one, two map[key]float64, err error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(expectedSQL, sqlString(data), sqlString(csv)))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	one, two = map[key]float64{}, map[key]float64{}
	for rows.Next() {
		var k key
		var a, b float64
		if err := rows.Scan(&k.campaign, &k.channel, &k.week, &a, &b); err != nil {
			return nil, nil, err
		}
		one[k], two[k] = a, b
	}
	return one, two, rows.Err()
}

func readCounts(ctx context.Context, db *sql.DB, q string) (map[key]float64, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[key]float64{}
	for rows.Next() {
		var k key
		var v string
		if err := rows.Scan(&k.campaign, &k.channel, &k.week, &v); err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, err
		}
		out[k] = f
	}
	return out, rows.Err()
}

func score(truth, released, one, two map[key]float64) result {
	r := result{Partitions: len(truth), Released: len(released)}
	var rel, bias, bOne, bTwo []float64
	for k, v := range released {
		tv := truth[k]
		if tv == 0 {
			continue // cannot happen: a released key has data
		}
		rel = append(rel, math.Abs(v-tv)/tv)
		bias = append(bias, (v-tv)/tv)
		bOne = append(bOne, (one[k]-tv)/tv)
		bTwo = append(bTwo, (two[k]-tv)/tv)
	}
	r.MedRelErr, r.MedRelBias = median(rel), median(bias)
	r.BiasOne, r.BiasTwo = median(bOne), median(bTwo)
	keys := make([]key, 0, len(truth))
	for k := range truth {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if d := truth[b] - truth[a]; d != 0 {
			return int(math.Copysign(1, d))
		}
		return strings.Compare(a.campaign+a.channel+a.week, b.campaign+b.channel+b.week)
	})
	n := min(20, len(keys))
	for _, k := range keys[:n] {
		r.MAETop20 += math.Abs(released[k] - truth[k])
		r.BiasTwoTop20 += math.Abs(two[k] - truth[k])
	}
	r.MAETop20 /= float64(max(n, 1))
	r.BiasTwoTop20 /= float64(max(n, 1))
	return r
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
