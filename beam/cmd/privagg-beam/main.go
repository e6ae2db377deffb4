// Command privagg-beam runs a privagg job on Apache Beam through Privacy on
// Beam. `privagg run --engine beam` executes it; it can also be run directly:
//
//	privagg-beam [--release-id ID] [--ledger FILE] [--results_dir DIR] [beam flags] JOB.yaml
//
// Beam's own flags (--runner, --project, --region, --temp_location,
// --endpoint, --environment_type, ...) are passed through to the runner.
// Exit codes are privagg's: 0 ok, 1 runtime failure, 2 config or usage,
// 3 budget refused, 4 input rejected.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/privagg/privagg/job"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct" //nolint:staticcheck // deprecated in favour of prism, still the default
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

	"github.com/privagg/privagg/beam/beamengine"
	"github.com/privagg/privagg/pipeline"
)

var (
	releaseID  = flag.String("release-id", "", "release id (default: fingerprint of the job file and input files)")
	ledger     = flag.String("ledger", "", "ledger file (overrides the job's ledger: and PRIVAGG_LEDGER)")
	resultsDir = flag.String("results_dir", "", "folder for the engine's intermediate, already-noised results; on a cluster a location all workers can write (e.g. gs://bucket/tmp); default a local temp folder")
	logFormat  = flag.String("log-format", "text", "log format: text | json")
	quiet      = flag.Bool("quiet", false, "log warnings and errors only")
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	// The job file may come before or after the flags.
	var jobs []string
	for {
		if err := flag.CommandLine.Parse(args); err != nil {
			return pipeline.ExitConfig
		}
		if flag.NArg() == 0 {
			break
		}
		jobs = append(jobs, flag.Arg(0))
		args = flag.Args()[1:]
	}
	if len(jobs) != 1 {
		fmt.Fprintln(stderr, "privagg-beam: exactly one JOB.yaml is required")
		return pipeline.ExitConfig
	}
	beam.Init()
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	var h slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if *logFormat == "json" {
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(h)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := func() error {
		opts := pipeline.RunOptions{ReleaseID: *releaseID, Ledger: *ledger, Logger: log}
		if err := opts.Check(nil); err != nil { // the flags' own rules, before anything is read
			return err
		}
		job, err := job.LoadJob(jobs[0])
		if err != nil {
			return err
		}
		eng, err := beamengine.New(job, beamengine.Options{Runner: *runners.Runner, ResultsDir: *resultsDir, Logger: log})
		if err != nil {
			return err
		}
		defer eng.Close()
		opts.Engine = eng
		res, err := pipeline.Run(ctx, job, opts)
		if err != nil {
			return err
		}
		verb := "published"
		if res.Republished {
			verb = "re-published (no new noise, no new charge)"
		}
		_, err = fmt.Fprintf(stdout, "release %s %s: %d files in %s\n", res.ReleaseID, verb, len(res.Files), res.OutputDir)
		return err
	}()
	if err != nil {
		fmt.Fprintf(stderr, "privagg-beam: %v\n", err)
	}
	return pipeline.ExitCode(err)
}
