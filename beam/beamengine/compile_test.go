package beamengine

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// TestCompileRefusesUnsupportedStatistics: a metric whose kind needs a
// statistic the Beam engine does not compute is refused at compile time,
// before any pipeline runs, with the metric's key path. Every statistic is
// supported today, so the test takes one away.
func TestCompileRefusesUnsupportedStatistics(t *testing.T) {
	j := setupJob(t, fixture(t, "equiv_job.yaml"), map[string]string{"events.csv": fixture(t, "events.csv")}, 10)
	if _, err := compile(context.Background(), j); err != nil {
		t.Fatalf("compile with every statistic supported: %v", err)
	}
	delete(beamStatistics, privacy.CenteredSumSquares)
	defer func() { beamStatistics[privacy.CenteredSumSquares] = true }()
	_, err := compile(context.Background(), j)
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
	_, err := compile(context.Background(), j)
	var ce *job.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Fatalf("error %v, want a ConfigError with one problem", err)
	}
	if got, want := ce.Problems[0].String(), "outputs[0].selection: count_threshold is not supported by the Beam engine"; !strings.HasPrefix(got, want) {
		t.Errorf("problem %q, want it to start with %q", got, want)
	}
}

// TestColumnCheckMatchesEmbedded: a misspelt column is refused by the Beam
// engine with the embedded engine's error (duckdb.CheckInput: key path,
// "did you mean") and exit code 2, before any pipeline runs and with
// nothing charged, for CSV and Parquet input alike.
func TestColumnCheckMatchesEmbedded(t *testing.T) {
	typo := strings.Replace(fixture(t, "equiv_job.yaml"), "group_by: [campaign, channel]", "group_by: [campaing, channel]", 1)
	typo = strings.Replace(typo, "      campaign: [cmp_a, cmp_b, cmp_z]", "      campaing: [cmp_a, cmp_b, cmp_z]", 1)
	for _, tc := range []struct {
		name, input string
		data        func(t *testing.T) string
	}{
		{"csv", "events.csv", func(t *testing.T) string { return fixture(t, "events.csv") }},
		{"parquet", "events.parquet", func(t *testing.T) string { return parquetOf(t, fixture(t, "events.csv")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jobYAML := strings.Replace(typo, "path: events.csv", "path: "+tc.input, 1)
			files := map[string]string{tc.input: tc.data(t)}
			embedded := setupJob(t, jobYAML, files, 10)
			_, want := pipeline.Run(context.Background(), embedded, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: "typo-1"})
			onBeam := setupJob(t, jobYAML, files, 10)
			eng, err := New(onBeam, Options{Runner: testRunner()})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			_, got := pipeline.Run(context.Background(), onBeam, pipeline.RunOptions{Engine: eng, ReleaseID: "typo-1"})
			if got == nil || want == nil {
				t.Fatalf("beam error %v, embedded error %v: want both to refuse the column", got, want)
			}
			// The job files sit in different folders; the rest is the same.
			norm := func(err error, j *job.Job) string {
				return strings.ReplaceAll(err.Error(), filepath.Dir(j.File), "DIR")
			}
			if g, w := norm(got, onBeam), norm(want, embedded); g != w {
				t.Errorf("beam error\n  %s\nembedded error\n  %s", g, w)
			}
			wantMsg := `outputs[0].group_by[0]: "campaing" is not a column of the input (input.path DIR/` + tc.input + `); did you mean "campaign"?`
			if g := norm(got, onBeam); !strings.Contains(g, wantMsg) {
				t.Errorf("beam error %q lacks %q", g, wantMsg)
			}
			if code := pipeline.ExitCode(got); code != pipeline.ExitConfig {
				t.Errorf("exit code %d, want %d", code, pipeline.ExitConfig)
			}
			if spent := epsilonSpent(t, onBeam); spent != 0 {
				t.Errorf("epsilon spent %v after a refused column, want 0", spent)
			}
		})
	}
}

// TestColumnsReadInTheInputsSpelling: names compare without case, as in the
// embedded engine: a job that spells its columns in another case than the
// input compiles, and the Beam readers read each column under the input's
// spelling, with the type DuckDB's sniffer gave it (revenue is a DOUBLE, so
// its text is 100.0).
func TestColumnsReadInTheInputsSpelling(t *testing.T) {
	text := strings.NewReplacer("privacy_unit: user_id", "privacy_unit: USER_ID",
		"group_by: [campaign, channel]", "group_by: [Campaign, channel]",
		"      campaign: [cmp_a, cmp_b, cmp_z]", "      Campaign: [cmp_a, cmp_b, cmp_z]",
		"column: revenue, min: 0, max: 500}", "column: Revenue, min: 0, max: 500}").Replace(fixture(t, "equiv_job.yaml"))
	j := setupJob(t, text, map[string]string{"events.csv": fixture(t, "events.csv")}, 10)
	c, err := compile(context.Background(), j)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	line := "alice@example.com,u1,cmp_a,email,34,100,true,2026-01-05 10:00:00"
	vals, err := c.src.parseLine(line)
	if err != nil {
		t.Fatalf("parseLine: %v", err)
	}
	want := map[string]string{"USER_ID": "u1", "Campaign": "cmp_a", "Revenue": "100.0"}
	for i, col := range c.src.Columns {
		w, ok := want[col]
		if !ok {
			continue
		}
		delete(want, col)
		if got, _ := vals[i].Text(); got != w {
			t.Errorf("column %s read as %q, want %q", col, got, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("columns %v not projected (%v)", want, c.src.Columns)
	}
}
