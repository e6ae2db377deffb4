package verify

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// Shared helpers of the end-to-end checks: job set-up, exit codes, log
// capture and the leak scan.

// e2eJob reads events.<ext> with identifiers of every kind. The count metric's
// max_per_unit is high and the public partitions list every campaign of the
// test inputs, so without noise the released events total is exactly the
// number of accepted rows.
const e2eJob = `version: 1
name: verify
dataset: verify_events
purpose: marketing
input:
  path: %s
  format: %s
  max_reject_fraction: %s
privacy_unit: user_id
identifiers: [email, phone, ip]
consent: {column: consent}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 3}
outputs:
  - name: by_campaign
    group_by: [campaign]
    public_partitions: {campaign: [c1, c2, c3]}
    metrics:
      - {name: events, type: count, max_per_unit: 1000000}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 1000}
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
%s`

// jobSetup writes the job (and optionally input bytes) into a temp folder,
// sets a budget and loads the job.
type jobSetup struct {
	format     string  // csv | json | parquet
	input      []byte  // nil: no input file written
	inputName  string  // default events.<ext>
	rejectFrac float64 // max_reject_fraction
	extra      string  // YAML appended (e.g. staging)
}

func (s jobSetup) ext() string {
	switch s.format {
	case "json":
		return "jsonl"
	case "parquet":
		return "parquet"
	}
	return "csv"
}

func newJob(t testing.TB, s jobSetup) *job.Job {
	t.Helper()
	name := s.inputName
	if name == "" {
		name = "events." + s.ext()
	}
	files := map[string]string{}
	if s.input != nil {
		files[name] = string(s.input)
	}
	yaml := fmt.Sprintf(e2eJob, name, s.format, fmt.Sprint(s.rejectFrac), s.extra)
	return testfixture.Job(t, yaml, files, testfixture.Budget{Epsilon: 1e6, Delta: 0.5})
}

// exitCode maps an error to the exit code of `privagg run`, by the rules of
// cmd/privagg/main.go and README ("Exit codes").
func exitCode(err error) int {
	var (
		cfg    *job.ConfigError
		input  *engine.InputError
		budget *privacy.BudgetError
	)
	switch {
	case err == nil:
		return pipeline.ExitOK
	case errors.As(err, &cfg):
		return pipeline.ExitConfig
	case errors.As(err, &budget):
		return pipeline.ExitBudget
	case errors.As(err, &input):
		return pipeline.ExitInput
	}
	return pipeline.ExitRuntime
}

// logBuffer captures every log line of a run, at debug level.
type logBuffer struct{ bytes.Buffer }

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&b.Buffer, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// leakScan fails the test if any file in output.dir, the release store (every
// manifest, report.json, REPORT.html, job.yaml...), the internal run reports
// or the captured log lines contain any of secrets. It returns how many
// files and log bytes it scanned.
func leakScan(t *testing.T, job *job.Job, logs []byte, secrets []string) (files int) {
	t.Helper()
	ledgerDir := filepath.Dir(job.Ledger)
	roots := []string{job.Output.Dir, filepath.Join(ledgerDir, "privagg-releases"), filepath.Join(ledgerDir, "privagg-runs")}
	scan := func(where string, data []byte) {
		for _, s := range secrets {
			if s != "" && bytes.Contains(data, []byte(s)) {
				t.Errorf("leak: %s contains the input value %q", where, s)
			}
		}
	}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if errors.Is(err, os.ErrNotExist) {
				return filepath.SkipDir
			}
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			scan(path, data)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	scan("log", logs)
	return files
}

// outputFiles lists output.dir (nil when it does not exist).
func outputFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// releasedTotals sums the events and people columns of the published CSV.
func releasedTotals(t *testing.T, job *job.Job) (events, people int64) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(job.Output.Dir, "by_campaign.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	header := strings.Split(lines[0], ",")
	idx := map[string]int{}
	for i, h := range header {
		idx[h] = i
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		var e, p int64
		fmt.Sscan(f[idx["events"]], &e)
		fmt.Sscan(f[idx["people"]], &p)
		events += e
		people += p
	}
	return events, people
}
