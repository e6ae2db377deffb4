package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/internal/gen"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// boundsJob is a weekly campaign job on generated events; bounds and budget
// are filled in per test.
const boundsJob = `version: 1
name: %NAME%
dataset: d
purpose: marketing
input: {path: events.parquet}
privacy_unit: user_id
consent: {column: consent_marketing}
columns:
  week: {from: ts, truncate: week}
privacy: {epsilon: %EPS%, delta: 1e-6, k: 1, max_partitions_per_unit: %L0%%SHARE%}
outputs:
  - name: weekly
    group_by: [campaign, week]
    metrics:
      - {name: events, type: count, max_per_unit: %LINF%}
      - {name: people, type: count_units}
output: {dir: out_%NAME%, format: csv}
ledger: privagg-ledger.duckdb
`

// boundsFixture generates heavy-tailed events once per test binary.
func boundsFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "events.parquet")
	if _, err := gen.Generate(context.Background(), gen.Options{Events: 300_000, Users: 30_000, Seed: 11, Out: path}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loadBoundsJob writes boundsJob with the given replacements to dir, loads
// it and gives its dataset a budget.
func loadBoundsJob(t *testing.T, dir string, repl map[string]string) *job.Job {
	t.Helper()
	y := boundsJob
	for k, v := range repl {
		y = strings.ReplaceAll(y, k, v)
	}
	path := filepath.Join(dir, repl["%NAME%"]+".yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := job.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	led, err := privacy.OpenLedger(j.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	if err := led.SetBudget(context.Background(), j.Dataset, 100, 1e-3, "none"); err != nil {
		t.Fatal(err)
	}
	return j
}

// runBoundsJob runs boundsJob in dir with the given replacements and
// returns the released rows by key and the log.
func runBoundsJob(t *testing.T, dir string, repl map[string]string) (map[string][]float64, *release.Manifest, string) {
	t.Helper()
	j := loadBoundsJob(t, dir, repl)
	var logs bytes.Buffer
	if _, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, Logger: newTestLogger(&logs)}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(j.Output.Dir, "weekly.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]float64{} // campaign|week -> events, events_ci95, people, people_ci95
	for _, r := range recs[1:] {
		var v []float64
		for _, s := range r[2:] {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			v = append(v, x)
		}
		rows[r[0]+"|"+r[1]] = v
	}
	data, err := os.ReadFile(filepath.Join(j.Output.Dir, "weekly.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := release.ReadManifest(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return rows, m, logs.String()
}

// trueWeekly is the exact events and people per campaign and week of the
// consenting people.
func trueWeekly(t *testing.T, dir string) map[string][]float64 {
	t.Helper()
	ctx := context.Background()
	db, err := duckdb.OpenDB(ctx, duckdb.DBOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryRows(ctx, fmt.Sprintf(`SELECT campaign || '|' || strftime(date_trunc('week', ts), '%%Y-%%m-%%d'), count(*)::DOUBLE, count(DISTINCT user_id)::DOUBLE
		FROM '%s' WHERE consent_marketing GROUP BY ALL`, filepath.Join(dir, "events.parquet")))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, r := range rows {
		out[r[0].(string)] = []float64{r[1].(float64), 0, r[2].(float64), 0}
	}
	return out
}

// With auto bounds, the released counts' intervals contain the true values
// (bias included) at about their stated rate.
//
// False-failure rate: on this data and others (benchmarks/UTILITY.md) the
// measured coverage is 97% to 100%; with about 200 rows, coverage below 85%
// is more than 5 standard deviations away (binomial), under 1e-6.
func TestAutoBoundsIntervalsContainTheTruth(t *testing.T) {
	dir := boundsFixture(t)
	truth := trueWeekly(t, dir)
	got, m, logs := runBoundsJob(t, dir, map[string]string{"%NAME%": "auto", "%EPS%": "1", "%L0%": "auto", "%LINF%": "auto", "%SHARE%": ""})
	if len(got) < 150 {
		t.Fatalf("released %d rows, want at least 150 of %d", len(got), len(truth))
	}
	for i, name := range []string{"events", "people"} {
		var covered, n int
		var errs []float64
		for key, v := range got {
			tv, ok := truth[key]
			if !ok {
				t.Fatalf("released key %s has no true value (%d true rows, %d released)", key, len(truth), len(got))
			}
			value, ci, want := v[2*i], v[2*i+1], tv[2*i]
			n++
			if math.Abs(value-want) <= ci {
				covered++
			}
			errs = append(errs, math.Abs(value-want)/want)
		}
		slices.Sort(errs)
		t.Logf("%s: %d rows, coverage %.1f%%, median relative error %.1f%%", name, n, 100*float64(covered)/float64(n), 100*errs[len(errs)/2])
		if cov := float64(covered) / float64(n); cov < 0.85 {
			t.Errorf("%s: %d of %d intervals contain the truth (%.0f%%), want at least 85%%", name, covered, n, 100*cov)
		}
		if med := errs[len(errs)/2]; med > 0.25 {
			t.Errorf("%s: median relative error %.0f%%, want at most 25%%", name, 100*med)
		}
	}
	b := m.Bounds
	if b == nil || !b.L0.Auto || b.Dropped == nil || b.Epsilon <= 0 {
		t.Fatalf("manifest bounds = %+v, want the auto L0, what it spent and the dropped shares", b)
	}
	for _, mm := range m.Metrics {
		if mm.Interval != release.IntervalBounding || mm.Bias == nil {
			t.Errorf("metric %s: interval %q, bias %+v; want corrected", mm.Name, mm.Interval, mm.Bias)
		}
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Errorf("errors logged: %s", logs)
	}
}

// Hand-set bounds with a bounds share: the manifest shows what bounding
// dropped, and the run warns when that bias is larger than the noise.
func TestHandSetBoundsShowWhatTheyDrop(t *testing.T) {
	dir := boundsFixture(t)
	_, m, logs := runBoundsJob(t, dir, map[string]string{"%NAME%": "tight", "%EPS%": "4", "%L0%": "1", "%LINF%": "1", "%SHARE%": ", bounds_share: 0.1"})
	if m.Bounds == nil || m.Bounds.Dropped == nil || m.Bounds.L0.Auto || m.Bounds.L0.Value != 1 {
		t.Fatalf("bounds = %+v", m.Bounds)
	}
	if d := m.Bounds.Dropped.Pairs; d < 0.3 {
		t.Errorf("dropped pairs %.2f: L0 1 on weekly partitions drops most of them", d)
	}
	if !strings.Contains(logs, "bounding removed an estimated") || !strings.Contains(logs, "more than the noise") {
		t.Errorf("no bias warning in the log:\n%s", logs)
	}
	data, _ := json.Marshal(m.Bounds)
	for _, secret := range []string{"u0", "user"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("bounds quote %q: %s", secret, data)
		}
	}
}

// An engine that cannot make the estimates (not an engine.BoundsEstimator):
// a job with a bounds share is refused before anything is charged.
func TestOtherEngineRefusesBoundsShare(t *testing.T) {
	j := loadBoundsJob(t, boundsFixture(t), map[string]string{"%NAME%": "beam", "%EPS%": "1", "%L0%": "auto", "%LINF%": "1", "%SHARE%": ""})
	_, err := Run(context.Background(), j, RunOptions{Engine: refusingEngine{}})
	if !isConfig(err) || !strings.Contains(err.Error(), "privacy.bounds_share") {
		t.Fatalf("err = %v, want a config error on privacy.bounds_share", err)
	}
	if ExitCode(err) != ExitConfig {
		t.Errorf("exit %d, want %d", ExitCode(err), ExitConfig)
	}
}

// refusingEngine fails the test if it is asked to do anything.
type refusingEngine struct{}

func (refusingEngine) Prepare(context.Context) (engine.InputCounts, error) {
	panic("Prepare called")
}

func (refusingEngine) Release(context.Context, *privacy.Plan, *privacy.Reservation) (*privacy.Release, map[string]privacy.OutputStats, error) {
	panic("Release called")
}
func (refusingEngine) Published() error { return nil }
func (refusingEngine) Close() error     { return nil }
