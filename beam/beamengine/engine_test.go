package beamengine

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/job"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// testdata/events.csv, the input of the equivalence tests (the embedded
// engine's golden input), and testdata/equiv_job.yaml, a job over it:
// Alice is heavy (5 rows in cmp_a/email, Linf 3 keeps 3; total 700 clamped
// to 500), Dave has no consent, two rows are malformed. No one has more
// partitions than L0 inside the public lists, so bounding picks nothing at
// random and both engines must agree exactly without noise.
//
// fixture reads a file of testdata/.
func fixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// setupJob writes job and files into a new folder with a budget of eps.
func setupJob(t *testing.T, jobYAML string, files map[string]string, eps float64) *job.Job {
	t.Helper()
	return testfixture.Job(t, jobYAML, files, testfixture.Budget{Epsilon: eps})
}

type table struct {
	header []string
	rows   map[string][]string // key columns joined -> row
}

func readTable(t *testing.T, path string, nkeys int) table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	tb := table{header: recs[0], rows: map[string][]string{}}
	for _, r := range recs[1:] {
		tb.rows[strings.Join(r[:nkeys], "|")] = r
	}
	return tb
}

// runBeam runs job on the beam engine through pipeline.Run, as privagg-beam
// does. mode switches pbeam's noise off (test code only).
func runBeam(t *testing.T, job *job.Job, id string, mode pbeam.TestMode) (*pipeline.RunResult, error) {
	t.Helper()
	eng, err := newWithTestMode(job, mode)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer eng.Close()
	return pipeline.Run(context.Background(), job, pipeline.RunOptions{Engine: eng, ReleaseID: id})
}

// newWithTestMode is New with pbeam in mode (e.g.
// TestModeWithContributionBounding: bounding without noise). The engine
// keeps the mode; later engines get the normal one again.
func newWithTestMode(job *job.Job, mode pbeam.TestMode) (*Engine, error) {
	prev := baseSpecParams
	baseSpecParams = pbeam.PrivacySpecParams{TestMode: mode}
	defer func() { baseSpecParams = prev }()
	return New(job, Options{Runner: testRunner()})
}

// testRunner is the runner of the tests: Beam's --runner flag (`go test
// ./beamengine -args --runner prism`, or `make test-beam-prism`), the
// direct runner without it.
func testRunner() string { return *runners.Runner }

// parquetOf converts CSV content to Parquet with DuckDB, typed as DuckDB's
// CSV reader types it (timestamps, integers, doubles with NaN, NULL ids).
func parquetOf(t *testing.T, csvContent string) string {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.parquet")
	if err := os.WriteFile(in, []byte(csvContent), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM read_csv('%s')) TO '%s' (FORMAT parquet)", in, out)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// epsilonSpent is the dataset's spent ε in job's ledger.
func epsilonSpent(t *testing.T, job *job.Job) float64 {
	t.Helper()
	led, err := privacy.OpenLedger(job.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	st, err := led.Status(context.Background(), job.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	return st.EpsilonSpent.Float64()
}

// dirFiles maps every file name in dir to its content.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() { // history/: every publication's copy, compared through the top level
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

func sortedNames(files map[string][]byte) []string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// TestEnginesAgreeWithoutNoise runs the same job on both engines, on CSV and
// on Parquet input, with noise removed (testnoise.None
// double, pbeam's test mode): both publish the same files with the same
// columns and keys, and identical count, count_units, sum, mean, variance
// and stddev values.
// The beam release goes through pipeline.Run's protocol: the ledger charges
// the plan's ε once and marks the release published, the release store holds
// the report, and the internal run report has the exact row counts.
func TestEnginesAgreeWithoutNoise(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		data  func(t *testing.T) string
	}{
		{"csv", "events.csv", func(t *testing.T) string { return fixture(t, "events.csv") }},
		{"parquet", "events.parquet", func(t *testing.T) string { return parquetOf(t, fixture(t, "events.csv")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jobYAML := strings.Replace(fixture(t, "equiv_job.yaml"), "path: events.csv", "path: "+tc.input, 1)
			files := map[string]string{tc.input: tc.data(t)}
			embedded := setupJob(t, jobYAML, files, 10)
			restore := testfixture.WithNoise(t, testnoise.None{})
			want, err := pipeline.Run(context.Background(), embedded, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: "equiv-1"})
			restore()
			if err != nil {
				t.Fatalf("embedded engine: %v", err)
			}
			onBeam := setupJob(t, jobYAML, files, 10)
			res, err := runBeam(t, onBeam, "equiv-1", pbeam.TestModeWithContributionBounding)
			if err != nil {
				t.Fatalf("beam engine: %v", err)
			}
			if r := res.Report; r.RowsRead != 12 || r.RowsRejected != 2 || r.RowsExcludedByConsent != 1 || r.Status != "published" {
				t.Errorf("report read=%d rejected=%d excluded=%d status=%q, want 12, 2, 1, published",
					r.RowsRead, r.RowsRejected, r.RowsExcludedByConsent, r.Status)
			}
			// Both list the same rejected rows.
			if r, w := res.Report.Rejects, want.Report.Rejects; r == nil || w == nil || len(r.Rows) != 2 ||
				!slices.EqualFunc(r.Rows, w.Rows, sameRow) || !slices.Equal(r.Totals, w.Totals) {
				t.Errorf("report rejects = %+v, embedded engine %+v", r, w)
			}
			wantFiles, gotFiles := dirFiles(t, embedded.Output.Dir), dirFiles(t, onBeam.Output.Dir)
			if g, w := sortedNames(gotFiles), sortedNames(wantFiles); !slices.Equal(g, w) {
				t.Errorf("published files %v, embedded engine %v", g, w)
			}
			for _, out := range []struct {
				file  string
				nkeys int
				exact []string
			}{
				{"by_channel.csv", 2, []string{"events", "people", "revenue", "avg_revenue", "var_revenue", "sd_revenue"}},
				{"by_age_week.csv", 2, []string{"people", "revenue"}},
			} {
				t.Run(out.file, func(t *testing.T) {
					compareTables(t, readTable(t, filepath.Join(onBeam.Output.Dir, out.file), out.nkeys),
						readTable(t, filepath.Join(embedded.Output.Dir, out.file), out.nkeys), out.exact)
				})
			}
			checkPublished(t, onBeam, "equiv-1")
		})
	}
}

// TestEnginesAgreeTwoPhase: with keys from the data, both engines select
// partitions on L0-bounded people and bound contributions again among the
// selected partitions only: on twoPhaseEvents(3) (x in 50 partitions, 3 of
// them selectable, L0 5) both release the 3 big partitions with x counted in
// each (the embedded engine without noise; Beam with noise far below the
// tolerance, see twoPhaseJob).
func TestEnginesAgreeTwoPhase(t *testing.T) {
	files := map[string]string{"events.csv": twoPhaseEvents(3)}
	embedded := setupJob(t, twoPhaseJob, files, 1000)
	restore := testfixture.WithNoise(t, testnoise.None{})
	_, err := pipeline.Run(context.Background(), embedded, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: "two-phase-1"})
	restore()
	if err != nil {
		t.Fatalf("embedded engine: %v", err)
	}
	onBeam := setupJob(t, twoPhaseJob, files, 1000)
	if _, err := runBeam(t, onBeam, "two-phase-1", pbeam.TestModeDisabled); err != nil {
		t.Fatalf("beam engine: %v", err)
	}
	want := map[string]bool{"b1": true, "b2": true, "b3": true}
	for name, dir := range map[string]string{"embedded": embedded.Output.Dir, "beam": onBeam.Output.Dir} {
		people, revenue := twoPhaseCounted(t, dir)
		if !maps.Equal(people, want) || !maps.Equal(revenue, want) {
			t.Errorf("%s engine: partitions (x counted) %v in people, %v in revenue, want %v", name, people, revenue, want)
		}
	}
}

// compareTables checks that got has want's columns and keys, and the same
// values in the exact columns.
func compareTables(t *testing.T, got, want table, exact []string) {
	t.Helper()
	if !slices.Equal(got.header, want.header) {
		t.Fatalf("columns %v, embedded engine %v", got.header, want.header)
	}
	if len(got.rows) != len(want.rows) {
		t.Errorf("%d rows, embedded engine %d", len(got.rows), len(want.rows))
	}
	for k, w := range want.rows {
		g, ok := got.rows[k]
		if !ok {
			t.Errorf("key %s missing", k)
			continue
		}
		for _, col := range exact {
			i := slices.Index(want.header, col)
			if g[i] != w[i] {
				t.Errorf("key %s column %s = %s, embedded engine %s", k, col, g[i], w[i])
			}
		}
	}
}

// checkPublished checks the ledger, release store and run report of a
// published release of job with ε = 1.
func checkPublished(t *testing.T, job *job.Job, id string) {
	t.Helper()
	if got := epsilonSpent(t, job); math.Abs(got-1) > 1e-9 {
		t.Errorf("ledger spent epsilon %v, want the job's 1", got)
	}
	led, err := privacy.OpenLedger(job.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := led.Lookup(context.Background(), id)
	if err != nil || rec == nil || rec.State != privacy.StatePublished {
		t.Fatalf("ledger record %+v (%v), want state published", rec, err)
	}
	for _, name := range []string{"REPORT.html", "report.json", "job.yaml"} {
		if _, err := os.Stat(filepath.Join(led.StoreDir(id), name)); err != nil {
			t.Errorf("release store: %v", err)
		}
	}
	reports, _ := filepath.Glob(filepath.Join(filepath.Dir(job.Ledger), "privagg-runs", id+".*.json"))
	if len(reports) != 1 {
		t.Errorf("%d internal run reports, want 1", len(reports))
	}
}

// TestReleaseRepublishedByTheOtherEngine: a release stored by one engine is
// re-published by the other, byte for byte, at no cost and without noise.
func TestReleaseRepublishedByTheOtherEngine(t *testing.T) {
	run := func(t *testing.T, engine string, job *job.Job) (*pipeline.RunResult, error) {
		if engine == "beam" {
			return runBeam(t, job, "cross-1", pbeam.TestModeDisabled)
		}
		return pipeline.Run(context.Background(), job, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: "cross-1"})
	}
	for _, tc := range []struct{ first, second string }{{"duckdb", "beam"}, {"beam", "duckdb"}} {
		t.Run(tc.first+" stores, "+tc.second+" re-publishes", func(t *testing.T) {
			job := setupJob(t, fixture(t, "equiv_job.yaml"), map[string]string{"events.csv": fixture(t, "events.csv")}, 10)
			first, err := run(t, tc.first, job)
			if err != nil || first.Republished {
				t.Fatalf("%s: %v, republished %v", tc.first, err, first != nil && first.Republished)
			}
			spent := epsilonSpent(t, job)
			published := dirFiles(t, job.Output.Dir)
			if err := os.RemoveAll(job.Output.Dir); err != nil {
				t.Fatal(err)
			}
			second, err := run(t, tc.second, job)
			if err != nil || !second.Republished {
				t.Fatalf("%s: %v, republished %v", tc.second, err, second != nil && second.Republished)
			}
			if got := epsilonSpent(t, job); got != spent {
				t.Errorf("epsilon spent %v after re-publishing, %v before", got, spent)
			}
			again := dirFiles(t, job.Output.Dir)
			if !slices.Equal(sortedNames(again), sortedNames(published)) {
				t.Fatalf("re-published files %v, published %v", sortedNames(again), sortedNames(published))
			}
			for name, data := range published {
				if !bytes.Equal(again[name], data) {
					t.Errorf("%s differs from the stored release", name)
				}
			}
		})
	}
}

// TestRefusedBeforeAnyNoise: refusals leave output.dir untouched and the
// budget uncharged; all but the rejected input happen before a Beam pipeline
// runs.
func TestRefusedBeforeAnyNoise(t *testing.T) {
	equivJob, eventsCSV := fixture(t, "equiv_job.yaml"), fixture(t, "events.csv")
	strict := strings.Replace(equivJob, "max_reject_fraction: 0.2", "max_reject_fraction: 0", 1)
	staging := equivJob + "staging: {path: staging/events.parquet, pseudonym_key_env: PRIVAGG_TEST_KEY}\n"
	missing := strings.Replace(equivJob, "path: events.csv", "path: nothing-*.csv", 1)
	for _, tc := range []struct {
		name    string
		job     string
		budget  float64
		runner  string
		wantErr any
	}{
		{"unknown runner", equivJob, 10, "mapreduce", new(*job.ConfigError)},
		{"budget too small", equivJob, 0.5, "", new(*privacy.BudgetError)},
		{"staging is duckdb only", staging, 10, "", new(*job.ConfigError)},
		{"no input file", missing, 10, "", new(*engine.InputError)},
		{"too many malformed rows", strict, 10, "", new(*engine.InputError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := setupJob(t, tc.job, map[string]string{"events.csv": eventsCSV}, tc.budget)
			eng, err := New(job, Options{Runner: tc.runner})
			if err == nil {
				defer eng.Close()
				_, err = pipeline.Run(context.Background(), job, pipeline.RunOptions{Engine: eng, ReleaseID: "refused-1"})
			}
			if err == nil || !errors.As(err, tc.wantErr) {
				t.Fatalf("error %v, want %T", err, tc.wantErr)
			}
			if _, serr := os.Stat(job.Output.Dir); !os.IsNotExist(serr) {
				t.Errorf("output.dir exists after a refusal (%v)", serr)
			}
			if got := epsilonSpent(t, job); got != 0 {
				t.Errorf("epsilon spent %v after a refusal, want 0", got)
			}
		})
	}
}

// TestNoiseScale checks that the beam engine's noise has the standard
// deviation σ the plan (and so the library) states, for Laplace and Gaussian
// noise: 2000 public partitions with `per` people each and one count_units
// metric with L0 = 1, so the released value is per + noise; per >= 7σ, so
// clamping negative counts at 0 almost never happens and then moves one
// value by a fraction of σ.
//
// Laplace (ε = 1: scale 1, variance 2): the sample variance of n = 2000 draws
// has a relative standard deviation of sqrt((κ-1)/n) = sqrt(5/2000) = 0.05
// (kurtosis κ = 6); the band [0.7, 1.3] is 6σ, so a false failure is rarer
// than 1e-6 even with the heavy tail (the normal approximation gives ~1e-9).
// Gaussian (ε = 2, δ = 1e-5): κ = 3, relative standard deviation
// sqrt(2/2000) = 0.032, so the same band is 9σ (false failure < 1e-18). Both
// fail for the factor a sensitivity mistake gives (x2 or x0.5 in scale) or a
// 30% error in scale, and the Gaussian case fails if Laplace noise (variance
// 0.5 at ε = 2 instead of the Gaussian's ~4) were drawn instead. The mean
// must be 0 within 6 standard errors.
func TestNoiseScale(t *testing.T) {
	for _, tc := range []struct{ noise, epsilon, delta string }{
		{"laplace", "1", "1e-6"},
		{"gaussian", "2", "1e-5"},
	} {
		t.Run(tc.noise, func(t *testing.T) {
			const parts = 2000
			jobYAML := `version: 1
name: scale
dataset: d
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: ` + tc.epsilon + `, delta: ` + tc.delta + `, k: 1, max_partitions_per_unit: 1, noise: ` + tc.noise + `}
outputs:
  - name: by_k
    group_by: [k]
    public_partitions: {k: {file: keys.csv}}
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger/l.duckdb
`
			sd := noiseSD(t, jobYAML)
			per := max(10, int(math.Ceil(7*sd)))
			t.Logf("noise sd %.3f, %d people per partition", sd, per)
			var keys, events strings.Builder
			keys.WriteString("k\n")
			events.WriteString("user_id,k,consent\n")
			for p := range parts {
				fmt.Fprintf(&keys, "p%04d\n", p)
				for u := range per {
					fmt.Fprintf(&events, "u%d_%d,p%04d,true\n", p, u, p)
				}
			}
			job := setupJob(t, jobYAML, map[string]string{"events.csv": events.String(), "keys.csv": keys.String()}, 5)
			if _, err := runBeam(t, job, "", pbeam.TestModeDisabled); err != nil {
				t.Fatal(err)
			}
			tb := readTable(t, filepath.Join(job.Output.Dir, "by_k.csv"), 1)
			if len(tb.rows) != parts {
				t.Fatalf("%d rows, want %d", len(tb.rows), parts)
			}
			var sum, sumsq float64
			for _, r := range tb.rows {
				v, err := strconv.ParseFloat(r[1], 64)
				if err != nil {
					t.Fatal(err)
				}
				d := v - float64(per)
				sum += d
				sumsq += d * d
			}
			mean := sum / parts
			variance := sumsq/parts - mean*mean
			want := sd * sd
			if variance < 0.7*want || variance > 1.3*want {
				t.Errorf("noise variance %.3f, want %.3f ± 30%%", variance, want)
			}
			if se := math.Sqrt(want / parts); math.Abs(mean) > 6*se {
				t.Errorf("noise mean %.3f, want 0 (6 standard errors = %.3f)", mean, 6*se)
			}
		})
	}
}

// noiseSD is the plan's noise standard deviation of the only metric of a job.
func noiseSD(t *testing.T, jobYAML string) float64 {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(jobYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys.csv"), []byte("k\np\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	job, err := job.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := privacy.NewPlan(job.PrivacySpec())
	if err != nil {
		t.Fatal(err)
	}
	return plan.Outputs[0].Metrics[0].Components[0].StdDev
}
