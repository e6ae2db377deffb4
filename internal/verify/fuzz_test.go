package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/job"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/pipeline"
)

// FuzzReadInput feeds fuzzed bytes to the real input readers through
// pipeline.Run, as CSV or newline-delimited JSON (format byte even: CSV).
// No input may make Run panic or fail with an error outside the documented
// exit codes' types; a run that succeeds must report read = accepted +
// rejected + excluded, with the noiseless release totalling the accepted
// rows; a failed run must publish nothing. Seeds: the bad-input corpus
// (testdata/badinput) and testdata/fuzz/FuzzReadInput.
//
//	go test ./pipeline/verify -run '^$' -fuzz FuzzReadInput -fuzztime 60s
func FuzzReadInput(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "badinput", "*"))
	for _, p := range seeds {
		if strings.HasSuffix(p, ".parquet") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		format := byte(0)
		if strings.HasSuffix(p, ".jsonl") {
			format = 1
		}
		f.Add(format, data)
	}
	f.Fuzz(func(t *testing.T, format byte, data []byte) {
		fm := "csv"
		if format%2 == 1 {
			fm = "json"
		}
		j := newJob(t, jobSetup{format: fm, input: data, rejectFrac: 1})
		restore := testfixture.WithNoise(t, testnoise.None{})
		res, err := pipeline.Run(context.Background(), j, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{})})
		restore()
		if err != nil {
			var ce *job.ConfigError
			var ie *engine.InputError
			if !errors.As(err, &ce) && !errors.As(err, &ie) {
				t.Fatalf("error %v (%T) is neither a *ConfigError nor an *InputError (exit 1: a runtime failure on input)", err, err)
			}
			if files := outputFiles(t, j.Output.Dir); len(files) > 0 {
				t.Fatalf("failed run left files in output.dir: %v", files)
			}
			return
		}
		r := res.Report
		accepted := r.RowsRead - r.RowsRejected - r.RowsExcludedByConsent
		if r.RowsRejected < 0 || r.RowsExcludedByConsent < 0 || accepted < 0 {
			t.Fatalf("report counts read=%d rejected=%d excluded=%d do not add up", r.RowsRead, r.RowsRejected, r.RowsExcludedByConsent)
		}
		// Only rows of the listed campaigns reach the table; the fuzzer may
		// write others, so the total is at most the accepted rows.
		if events, _ := releasedTotals(t, j); events > accepted {
			t.Fatalf("released events %d exceed the %d accepted rows", events, accepted)
		}
	})
}

// TestVerifyLoadJobNoPanic: regression test for fuzz crashers of
// FuzzLoadJobBytes found by `make verify` (fixed in 19b7b66): YAML maps with
// non-string or null keys made the loader panic inside mapstructure.
func TestVerifyLoadJobNoPanic(t *testing.T) {
	for _, in := range []string{"0000000:0000000000000: \nConsent: {0}", "consent: {0}\n", "privacy: {1: 2}\n", "input: {~: 1}\n"} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("LoadJobBytes(%q) panics: %v", in, r)
				}
			}()
			_, _ = job.LoadJobBytes([]byte(in), t.TempDir())
		}()
	}
}
