// Command privagg turns raw customer events into aggregate-only,
// differentially private tables. See README.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/internal/duckarrow"
	"github.com/privagg/privagg/internal/project"
	"github.com/privagg/privagg/pipeline"
)

// commands are added by each command's file in its init function.
var commands []func(*globals) *cobra.Command

func register(c func(*globals) *cobra.Command) { commands = append(commands, c) }

// globals are the flags every command shares.
type globals struct {
	ledger    string // --ledger: overrides the job's ledger and PRIVAGG_LEDGER
	project   string // --project: the project file (else PRIVAGG_PROJECT, else found; see project.go)
	logFormat string // --log-format: text | json
	quiet     bool
	verbose   bool
	stdout    io.Writer
	stderr    io.Writer
	logger    *slog.Logger
	// term is stderr when it is a terminal, shared by the log and the
	// progress line (progress.go); nil otherwise.
	term *termLine
	// progressInterval: --progress-interval (progress.go).
	progressInterval time.Duration

	proj          *project.Project // loaded by loadProject
	projectLoaded bool
}

// usageError marks command-line mistakes (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func newRootCmd(stdout, stderr io.Writer) (*cobra.Command, *globals) {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "privagg",
		Short:         "Aggregate-only, differentially private tables from raw customer events",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Progress (stage, rows read, rate) shows on a terminal; a
			// scheduler gets warnings and errors only, unless it asks for
			// JSON lines or --verbose.
			level := slog.LevelInfo
			if g.quiet || (!isTerminal(g.stderr) && !g.verbose && g.logFormat != "json") {
				level = slog.LevelWarn
			}
			opts := &slog.HandlerOptions{Level: level}
			logTo := g.stderr
			if isTerminal(g.stderr) {
				g.term = &termLine{w: g.stderr}
				logTo = g.term
				if f, ok := g.stdout.(*os.File); ok && isTerminal(f) {
					g.stdout = &termOut{t: g.term, f: f}
				}
			}
			if g.progressInterval <= 0 {
				return usageError{fmt.Errorf("--progress-interval: %v must be positive", g.progressInterval)}
			}
			switch g.logFormat {
			case "text":
				g.logger = slog.New(slog.NewTextHandler(logTo, opts))
			case "json":
				g.logger = slog.New(slog.NewJSONHandler(logTo, opts))
			default:
				return usageError{fmt.Errorf("--log-format: %q must be text or json", g.logFormat)}
			}
			return needArrow(cmd)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.ledger, "ledger", "", "ledger file (overrides the project's and the job's ledger: and PRIVAGG_LEDGER)")
	root.PersistentFlags().StringVar(&g.project, "project", "", "project file privagg.yaml or its folder (default: PRIVAGG_PROJECT, else found in . or above; none: no project)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text | json")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "log warnings and errors only; no progress")
	root.PersistentFlags().DurationVar(&g.progressInterval, "progress-interval", defaultProgressInterval, "with --log-format json, how often run and gen log a progress event (on a terminal a progress line shows instead)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log progress even when stderr is not a terminal")
	for _, c := range commands {
		root.AddCommand(c(g))
	}
	strictGroups(root)
	return root, g
}

// needArrow refuses every command but version, help and completion in a
// binary built without the duckdb_arrow tag (a plain go build or go
// install), naming the tag and the install line.
func needArrow(cmd *cobra.Command) error {
	if duckarrow.Available {
		return nil
	}
	top := cmd
	for top.HasParent() && top.Parent().HasParent() {
		top = top.Parent()
	}
	switch top.Name() {
	case "version", "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
		return nil
	}
	return duckarrow.ErrNotBuilt
}

// exitCode maps an error to the documented exit code: usage errors are 2,
// the rest as pipeline.ExitCode says.
func exitCode(err error) int {
	var usage usageError
	if errors.As(err, &usage) {
		return pipeline.ExitConfig
	}
	return pipeline.ExitCode(err)
}

func run(args []string, stdout, stderr io.Writer) int {
	root, g := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	code := exitCode(err)
	if err != nil && code == pipeline.ExitRuntime && isUsage(err) {
		code = pipeline.ExitConfig
	}
	if err != nil {
		printError(g, stderr, err, code)
	}
	return code
}

// printError writes the command's final error to stderr: a "privagg: "
// line, or with --log-format json one JSON line (level ERROR, msg, and
// exit_code) like the log's.
func printError(g *globals, stderr io.Writer, err error, code int) {
	if g.logFormat == "json" {
		slog.New(slog.NewJSONHandler(stderr, nil)).Error(err.Error(), "exit_code", code)
		return
	}
	fmt.Fprintf(stderr, "privagg: %v\n", err)
}

// isUsage recognizes cobra's own argument errors (unknown command, wrong arg count).
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	if o, ok := w.(*termOut); ok {
		w = o.f
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
