// Command bench is the benchmark harness: for each size it
// generates (and caches) synthetic events with `privagg gen`, then runs,
// alternating on the same file, (a) the plain non-private GROUP BY
// (benchmarks/cmd/plainquery) and (b) `privagg run benchmarks/job.yaml`, and
// reports median wall time, peak RSS, events/s and the ratio b/a. The table
// and a machine description are written into benchmarks/RESULTS.md between
// the markers <!-- bench:begin --> and <!-- bench:end -->.
//
// Run it through make (make bench, make bench-large); see benchmarks/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// shape is one benchmark job: its job file, the format of its generated
// input and the plain query (plainquery --shape) that is its yardstick.
type shape struct {
	name   string // as in --shapes and the report
	job    string // job file, relative to the working directory
	format string // parquet or csv
	plain  string // plainquery --shape
}

// shapes are the job shapes --shapes chooses from: the campaign job on
// Parquet, and text keys with a derived week (and another consent column)
// on CSV, where the run also sniffs and reads the file into storage.
var shapes = []shape{
	{name: "parquet", job: "benchmarks/job.yaml", format: "parquet", plain: "campaign_weekly"},
	{name: "csv", job: "benchmarks/job_csv.yaml", format: "csv", plain: "type_country_weekly"},
}

type config struct {
	privagg, plainquery string
	shapes              []shape
	dataDir             string
	results             string
	sizes               []int64
	reps, warmup        int
	eventsPerUser       int64
	seed                uint64
	threads             int
	memoryLimit         string
	tempDir             string
	plainOnly           bool
	timeout             time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.privagg, "privagg", "bin/privagg", "privagg binary")
	fs.StringVar(&c.plainquery, "plainquery", "bin/plainquery", "plainquery binary")
	shapeNames := fs.String("shapes", "parquet,csv", "comma-separated job shapes: parquet (benchmarks/job.yaml), csv (benchmarks/job_csv.yaml)")
	fs.StringVar(&c.dataDir, "data", "benchmarks/data", "folder for generated events (cached) and run folders")
	fs.StringVar(&c.results, "results", "benchmarks/RESULTS.md", "markdown file to refresh (empty: do not write)")
	sizes := fs.String("sizes", "1M,10M", "comma-separated event counts (k, M, G suffixes)")
	fs.IntVar(&c.reps, "reps", 3, "timed repetitions of each side per size (at least 3 for a median)")
	fs.IntVar(&c.warmup, "warmup", 1, "untimed repetitions of each side first (file cache, binaries)")
	fs.Int64Var(&c.eventsPerUser, "events-per-user", 10, "users = events / this (activity is heavy-tailed)")
	fs.Uint64Var(&c.seed, "seed", 1, "privagg gen seed")
	fs.IntVar(&c.threads, "threads", 0, "DuckDB threads for both sides (0 = all cores)")
	fs.StringVar(&c.memoryLimit, "memory-limit", "", "DuckDB memory limit for both sides, e.g. 4GB")
	fs.StringVar(&c.tempDir, "temp-dir", "", "DuckDB spill folder for both sides")
	fs.BoolVar(&c.plainOnly, "plain-only", false, "measure only the plain query (no privagg run)")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Hour, "limit for each child process")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var errs []error
	for _, s := range strings.Split(*sizes, ",") {
		n, err := parseCount(strings.TrimSpace(s))
		if err != nil {
			errs = append(errs, fmt.Errorf("--sizes: %w", err))
			continue
		}
		c.sizes = append(c.sizes, n)
	}
	for _, name := range strings.Split(*shapeNames, ",") {
		i := slices.IndexFunc(shapes, func(s shape) bool { return s.name == strings.TrimSpace(name) })
		if i < 0 {
			errs = append(errs, fmt.Errorf("--shapes: %q must be parquet or csv", name))
			continue
		}
		c.shapes = append(c.shapes, shapes[i])
	}
	if c.reps < 1 {
		errs = append(errs, fmt.Errorf("--reps: %d must be >= 1", c.reps))
	}
	if c.warmup < 0 {
		errs = append(errs, fmt.Errorf("--warmup: %d must be >= 0", c.warmup))
	}
	if c.eventsPerUser < 1 {
		errs = append(errs, fmt.Errorf("--events-per-user: %d must be >= 1", c.eventsPerUser))
	}
	if c.threads < 0 {
		errs = append(errs, fmt.Errorf("--threads: %d must be >= 0", c.threads))
	}
	return c, errors.Join(errs...)
}

// parseCount parses 1000, 500k, 10M, 1G.
func parseCount(s string) (int64, error) {
	mult := int64(1)
	num := s
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult, num = 1_000, s[:len(s)-1]
		case 'm', 'M':
			mult, num = 1_000_000, s[:len(s)-1]
		case 'g', 'G':
			mult, num = 1_000_000_000, s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q must be a positive count like 1000, 500k or 10M", s)
	}
	return n * mult, nil
}

// label is the short form of an event count: 1M, 10M, 500k, 1234.
func label(n int64) string {
	switch {
	case n%1_000_000_000 == 0:
		return fmt.Sprintf("%dG", n/1_000_000_000)
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	default:
		return strconv.FormatInt(n, 10)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	paths := []*string{&c.privagg, &c.plainquery, &c.dataDir}
	files := []*string{&c.privagg, &c.plainquery}
	for i := range c.shapes {
		paths = append(paths, &c.shapes[i].job)
		files = append(files, &c.shapes[i].job)
	}
	for _, p := range paths {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	for _, f := range files {
		f := *f
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (build with make build, or run make bench)", err)
		}
	}
	if err := os.MkdirAll(c.dataDir, 0o755); err != nil {
		return err
	}
	r := &runner{cfg: c, stdout: stdout, stderr: stderr}
	m, err := r.machine(ctx)
	if err != nil {
		return err
	}
	m.loadStart = loadAverage("/proc/loadavg")
	var results []sizeResult
	for _, sh := range c.shapes {
		for _, n := range c.sizes {
			res, err := r.size(ctx, sh, n)
			if err != nil {
				return err
			}
			results = append(results, res)
			fmt.Fprintln(stdout, res.line())
		}
	}
	m.loadMax = r.loadMax
	m.duckdb = r.duckdb
	m.loadEnd = loadAverage("/proc/loadavg")
	report := renderReport(m, c, results, time.Now())
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, report)
	if c.results == "" {
		return nil
	}
	if err := updateResults(c.results, report); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", c.results)
	return nil
}
