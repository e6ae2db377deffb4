package beamengine

import (
	"errors"
	"strings"
	"testing"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// TestCompileRefusesUnsupportedStatistics: a metric whose kind needs a
// statistic the Beam engine does not compute is refused at compile time,
// before any pipeline runs, with the metric's key path. Every statistic is
// supported today, so the test takes one away.
func TestCompileRefusesUnsupportedStatistics(t *testing.T) {
	j := setupJob(t, fixture(t, "equiv_job.yaml"), map[string]string{"events.csv": fixture(t, "events.csv")}, 10)
	if _, err := compile(j); err != nil {
		t.Fatalf("compile with every statistic supported: %v", err)
	}
	delete(beamStatistics, privacy.CenteredSumSquares)
	defer func() { beamStatistics[privacy.CenteredSumSquares] = true }()
	_, err := compile(j)
	var ce *job.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) == 0 {
		t.Fatalf("error %v, want a ConfigError", err)
	}
	// metrics[4] is a variance; any later metric needing the statistic is
	// refused the same way.
	if got, want := ce.Problems[0].String(), "outputs[0].metrics[4].type: variance is not supported by the Beam engine (it needs the statistic csumsq)"; !strings.HasPrefix(got, want) {
		t.Errorf("problem %q, want it to start with %q", got, want)
	}
	for _, p := range ce.Problems {
		if !strings.Contains(p.Rule, "is not supported by the Beam engine") {
			t.Errorf("problem %q is not the refusal", p)
		}
	}
}

// TestCompileRefusesCountThreshold: selection through the count is an
// embedded-engine plan; the Beam engine refuses it by key path before any
// pipeline runs.
func TestCompileRefusesCountThreshold(t *testing.T) {
	text := `version: 1
name: threshold
dataset: test_events
purpose: marketing
input: {path: events.csv, max_reject_fraction: 0.2}
privacy_unit: user_id
identifiers: [email]
consent: {column: consent_marketing}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 2}
outputs:
  - name: by_campaign
    group_by: [campaign]
    selection: count_threshold
    metrics:
      - {name: people, type: count_units}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`
	j := setupJob(t, text, map[string]string{"events.csv": fixture(t, "events.csv")}, 10)
	_, err := compile(j)
	var ce *job.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Fatalf("error %v, want a ConfigError with one problem", err)
	}
	if got, want := ce.Problems[0].String(), "outputs[0].selection: count_threshold is not supported by the Beam engine"; !strings.HasPrefix(got, want) {
		t.Errorf("problem %q, want it to start with %q", got, want)
	}
}
