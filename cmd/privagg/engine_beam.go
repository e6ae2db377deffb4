package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/privagg/privagg/engine"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// The Apache Beam engine lives in its own Go module (beam/) so that Beam's
// large dependency tree stays out of this binary. `privagg run --engine beam`
// executes the privagg-beam binary that `make beam` builds, found next to
// this binary or on PATH.

// beamBinary is the Beam engine's executable name.
const beamBinary = "privagg-beam"

// engineFlags are run's --engine flag and the flags passed to the Beam engine.
type engineFlags struct {
	engine   string
	runner   string
	beamArgs []string
}

// addEngineFlags adds --engine, --runner and --beam-arg to the run command.
func addEngineFlags(cmd *cobra.Command) *engineFlags {
	e := &engineFlags{}
	f := cmd.Flags()
	f.StringVar(&e.engine, "engine", "duckdb", "engine: duckdb (embedded, one machine) | beam (Apache Beam via Privacy on Beam; see docs/beam.md)")
	f.StringVar(&e.runner, "runner", "", "beam engine: Beam runner (direct, prism, dataflow, flink, spark, universal); default direct")
	f.StringArrayVar(&e.beamArgs, "beam-arg", nil, "beam engine: a flag for Beam's runner, e.g. --beam-arg=--project=my-project (repeatable)")
	return e
}

// external reports whether the job runs on another engine than the embedded one.
func (e *engineFlags) external() bool { return e.engine != "duckdb" }

// run runs job on the selected external engine.
func (e *engineFlags) run(ctx context.Context, g *globals, job string, opts pipeline.RunOptions) error {
	if e.engine != "beam" {
		return usageError{fmt.Errorf("--engine: %q must be duckdb or beam", e.engine)}
	}
	if opts.MemoryLimit != "" || opts.TempDir != "" {
		return usageError{errors.New("--memory-limit and --temp-dir apply to the duckdb engine only")}
	}
	bin, err := findBeamBinary()
	if err != nil {
		return err
	}
	args := []string{"--log-format=" + g.logFormat}
	if g.quiet {
		args = append(args, "--quiet")
	}
	if opts.Ledger != "" {
		args = append(args, "--ledger="+opts.Ledger)
	}
	if opts.ReleaseID != "" {
		args = append(args, "--release-id="+opts.ReleaseID)
	}
	if e.runner != "" {
		args = append(args, "--runner="+e.runner)
	}
	args = append(args, e.beamArgs...)
	args = append(args, job)
	if ctx == nil {
		ctx = context.Background()
	}
	c := exec.CommandContext(ctx, bin, args...)
	c.Stdout, c.Stderr, c.Env = g.stdout, g.stderr, os.Environ()
	// An interrupted run passes its signal on and waits: privagg-beam then
	// stops as privagg does and removes its run folder of intermediate
	// files (exact counts, noised results), which SIGKILL would leave.
	c.Cancel = func() error { return c.Process.Signal(interruptSignal(ctx)) }
	err = c.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		if err != nil {
			return fmt.Errorf("run %s: %w", bin, err)
		}
		return nil
	}
	// privagg-beam printed its error; keep its exit code.
	msg := fmt.Sprintf("beam engine failed with exit code %d (see its message above)", exit.ExitCode())
	var stop *pipeline.Interrupted
	if errors.As(context.Cause(ctx), &stop) {
		return &pipeline.Interrupted{Signal: stop.Signal, Err: errors.New(msg)}
	}
	switch exit.ExitCode() {
	case pipeline.ExitConfig:
		return usageError{errors.New(msg)}
	case pipeline.ExitBudget:
		return &privacy.BudgetError{Reason: msg}
	case pipeline.ExitInput:
		return &engine.InputError{Reason: msg}
	}
	return errors.New(msg)
}

// interruptSignal is the signal that cancelled ctx (a *pipeline.Interrupted
// cause), SIGINT when its cause names none.
func interruptSignal(ctx context.Context) os.Signal {
	var stop *pipeline.Interrupted
	if errors.As(context.Cause(ctx), &stop) {
		return stop.Signal
	}
	return os.Interrupt
}

// findBeamBinary looks next to this executable, then on PATH.
func findBeamBinary() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), beamBinary)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(beamBinary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("--engine beam: %s was not found next to privagg or on PATH; build it with `make beam` (writes bin/%s, next to bin/privagg)", beamBinary, beamBinary)
}
