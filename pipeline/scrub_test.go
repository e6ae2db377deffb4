package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/transforms"
)

// TestEngineErrorsAfterReservationQuoteNoInput: an engine error after the
// budget is reserved (here the input changed under the run: the Parquet
// file replaced by text holding an e-mail address) fails the run with the
// budget charged, and neither the error, the logs nor the internal run
// report quote the input. The quantile metric re-reads the input inside the
// release (its value stream, read by the privacy layer). Only a Parquet
// input is read again there: a CSV or JSON input is read once, before the
// reservation (TestTextInputIsReadOnce).
func TestEngineErrorsAfterReservationQuoteNoInput(t *testing.T) {
	const secret = "mallory@example.com"
	jobYAML := strings.Replace(goldenJob,
		"      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}\n",
		"      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}\n"+
			"      - {name: revenue_q, type: quantiles, column: revenue, min: 0, max: 500, ranks: [0.5]}\n", 1)
	j := testfixture.CSVJob(t, strings.Replace(jobYAML, "path: events.csv", "path: events.parquet", 1), eventsCSV, 10)
	toParquet(t, filepath.Join(filepath.Dir(j.Input.Path), "events.csv"), j.Input.Path)
	bad := eventsCSV + secret + ",u9,cmp_a,email,34,1,true,2026-01-05 10:00:00\n"
	stepHook = func(s string) {
		if s == StepReserved {
			if err := os.WriteFile(j.Input.Path, []byte(bad), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	defer func() { stepHook = nil }()
	var logs bytes.Buffer
	_, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, Logger: newTestLogger(&logs)})
	if err == nil {
		t.Fatal("Run succeeded on an input that changed after the reservation")
	}
	if !strings.Contains(err.Error(), "budget stays charged") {
		t.Errorf("err = %v, want a failure after the reservation", err)
	}
	for what, text := range map[string]string{"error": err.Error(), "logs": logs.String(), "run report": runReports(t, j.Ledger)} {
		if strings.Contains(text, secret) || strings.Contains(text, "u9") {
			t.Errorf("the %s quotes the input:\n%s", what, text)
		}
	}
}

// runReports returns the internal run reports beside ledger, concatenated.
func runReports(t *testing.T, ledger string) string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(filepath.Dir(ledger), "privagg-runs", "*.json"))
	if len(paths) == 0 {
		t.Fatal("no run report")
	}
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// toParquet writes the CSV file csv as the Parquet file parquet.
func toParquet(t *testing.T, csv, parquet string) {
	t.Helper()
	db, err := duckdb.OpenDB(context.Background(), duckdb.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(context.Background(), fmt.Sprintf("COPY (SELECT * FROM read_csv(%s)) TO %s (FORMAT parquet)",
		transforms.QuoteString(csv), transforms.QuoteString(parquet))); err != nil {
		t.Fatal(err)
	}
}

// TestTextInputIsReadOnce: a CSV input is read once, before the budget is
// reserved, and every later step (the quantile metric's value stream inside
// the release included) reads that copy: a file changed under the run
// after the reservation changes nothing.
func TestTextInputIsReadOnce(t *testing.T) {
	jobYAML := strings.Replace(goldenJob,
		"      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}\n",
		"      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}\n"+
			"      - {name: revenue_q, type: quantiles, column: revenue, min: 0, max: 500, ranks: [0.5]}\n", 1)
	j := testfixture.CSVJob(t, jobYAML, eventsCSV, 10)
	stepHook = func(s string) {
		if s == StepReserved {
			if err := os.WriteFile(j.Input.Path, []byte("not,the,input\n"), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	defer func() { stepHook = nil }()
	if _, err := Run(context.Background(), j, RunOptions{NewEngine: embedded}); err != nil {
		t.Fatalf("Run read the input again after the reservation: %v", err)
	}
}
