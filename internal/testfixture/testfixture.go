// Package testfixture holds the test setup the packages' tests share: a job
// folder with its input files and a budget in its ledger (Job), and the noise
// test double installed for one test (WithNoise). It is imported only by
// _test.go files.
package testfixture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/privagg/privagg/internal/duckarrow"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// Tags are the build tags the tests need: DuckDB's Arrow interface and the
// noise test hook (privacy.SetNoiseForTests). `make test` sets them.
const Tags = "duckdb_arrow,privagg_testnoise"

// Budget is the budget Job sets for the job's dataset.
type Budget struct {
	// Epsilon is the dataset's epsilon; 0 sets no budget at all.
	Epsilon float64
	// Delta is the dataset's delta; 0 means 1e-3.
	Delta float64
	// Period is the budget's renewal period ("month", …); "" means none.
	Period string
}

// Job writes files (relative name -> content) and jobYAML, as job.yaml,
// into a new temporary folder, sets the budget b for the job's dataset in
// the job's ledger and returns the loaded job. Relative paths in jobYAML
// (input, output, ledger) resolve inside that folder.
//
// A job is there to be run, and the DuckDB engine runs only in a build with
// the duckdb_arrow tag: without it, Job skips the test with a message that
// names Tags, instead of letting it fail on the engine's error.
func Job(t testing.TB, jobYAML string, files map[string]string, b Budget) *job.Job {
	t.Helper()
	if !duckarrow.Available {
		t.Skip("this test runs a job, which needs -tags=" + Tags + " (make test sets them)")
	}
	dir := t.TempDir()
	all := map[string]string{"job.yaml": jobYAML}
	for name, content := range files {
		all[name] = content
	}
	if err := WriteFiles(dir, all); err != nil {
		t.Fatal(err)
	}
	j, err := job.LoadJob(filepath.Join(dir, "job.yaml"))
	if err != nil {
		t.Fatalf("LoadJob: %v", err)
	}
	if b.Epsilon == 0 {
		return j
	}
	if err := SetBudget(j.Ledger, j.Dataset, b); err != nil {
		t.Fatal(err)
	}
	return j
}

// CSVJob is Job with one input file, events.csv, and a budget of epsilon
// (delta 1e-3); epsilon 0 sets none.
func CSVJob(t testing.TB, jobYAML, eventsCSV string, epsilon float64) *job.Job {
	t.Helper()
	return Job(t, jobYAML, map[string]string{"events.csv": eventsCSV}, Budget{Epsilon: epsilon})
}

// SetBudget creates the ledger at path if needed and sets dataset's budget
// b. It takes no testing.TB so that a fixture shared by a
// package's tests can be built once.
func SetBudget(path, dataset string, b Budget) error {
	if b.Delta == 0 {
		b.Delta = 1e-3
	}
	if b.Period == "" {
		b.Period = "none"
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("ledger folder: %w", err)
	}
	led, err := privacy.OpenLedger(path)
	if err != nil {
		return err
	}
	return led.SetBudget(context.Background(), dataset, b.Epsilon, b.Delta, b.Period)
}

// WriteFiles writes files (relative name -> content) into dir, creating
// the folders the names contain.
func WriteFiles(dir string, files map[string]string) error {
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
