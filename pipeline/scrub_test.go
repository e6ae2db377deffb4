package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/verify"
)

// TestEngineErrorsAfterReservationQuoteNoInput: an engine error after the
// budget is reserved (here the input changed under the run: a line that
// DuckDB's CSV reader cannot read, holding an e-mail address) fails the
// run with the budget charged, and neither the error, the logs nor the
// internal run report quote the line. The quantile metric re-reads the input
// inside the release (its value stream, read by the privacy layer).
func TestEngineErrorsAfterReservationQuoteNoInput(t *testing.T) {
	const secret = "mallory@example.com"
	jobYAML := strings.Replace(goldenJob,
		"      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}\n",
		"      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}\n"+
			"      - {name: revenue_q, type: quantiles, column: revenue, min: 0, max: 500, ranks: [0.5]}\n", 1)
	j := verify.SetupJob(t, jobYAML, eventsCSV, 10)
	// A line over DuckDB's 2 MB line limit: its reader fails, quoting
	// the line, even with ignore_errors.
	bad := eventsCSV + secret + ",u9,cmp_a,email,34," + strings.Repeat("9", 3<<20) + ",true,2026-01-05 10:00:00\n"
	stepHook = func(s string) {
		if s == StepReserved {
			if err := os.WriteFile(j.Input.Path, []byte(bad), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	defer func() { stepHook = nil }()
	var logs bytes.Buffer
	_, err := Run(context.Background(), j, RunOptions{Logger: newTestLogger(&logs)})
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
