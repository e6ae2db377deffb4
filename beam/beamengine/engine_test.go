package beamengine

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// noNoise is the embedded engine's noise-free double (test code only).
type noNoise struct{}

func (noNoise) AddNoiseInt64(x, _, _ int64, _, _ float64) (int64, error)             { return x, nil }
func (noNoise) AddNoiseFloat64(x float64, _ int64, _, _, _ float64) (float64, error) { return x, nil }
func (noNoise) Threshold(int64, float64, float64, float64, float64) (float64, error) { return 0, nil }
func (noNoise) ComputeConfidenceIntervalInt64(x, _, _ int64, _, _, _ float64) (noise.ConfidenceInterval, error) {
	return noise.ConfidenceInterval{LowerBound: float64(x), UpperBound: float64(x)}, nil
}
func (noNoise) ComputeConfidenceIntervalFloat64(x float64, _ int64, _, _, _, _ float64) (noise.ConfidenceInterval, error) {
	return noise.ConfidenceInterval{LowerBound: x, UpperBound: x}, nil
}

// The input of the equivalence tests (the embedded engine's golden input):
// Alice is heavy (5 rows in cmp_a/email, Linf 3 keeps 3; total 700 clamped
// to 500), Dave has no consent, two rows are malformed. No one has more
// partitions than L0 inside the public lists, so bounding picks nothing at
// random and both engines must agree exactly without noise.
const eventsCSV = `email,user_id,campaign,channel,age,revenue,consent_marketing,ts
alice@example.com,u1,cmp_a,email,34,100,true,2026-01-05 10:00:00
alice@example.com,u1,cmp_a,email,34,200,true,2026-01-05 11:00:00
alice@example.com,u1,cmp_a,email,34,300,true,2026-01-06 10:00:00
alice@example.com,u1,cmp_a,email,34,50,true,2026-01-06 12:00:00
alice@example.com,u1,cmp_a,email,34,50,true,2026-01-07 10:00:00
bob@example.com,u2,cmp_a,email,52,20,true,2026-01-05 10:00:00
carol@example.com,u3,cmp_a,search,19,0,true,2026-01-05 10:00:00
dave@example.com,u4,cmp_a,email,40,999,false,2026-01-05 10:00:00
eve@example.com,,cmp_a,email,40,5,true,2026-01-05 10:00:00
frank@example.com,u6,cmp_a,email,40,nan,true,2026-01-05 10:00:00
erin@example.com,u5,cmp_b,email,70,1,true,2026-01-12 10:00:00
erin@example.com,u5,cmp_b,search,70,1,true,2026-01-12 10:00:00
`

const equivJob = `version: 1
name: equiv
dataset: test_events
purpose: marketing
input:
  path: events.csv
  max_reject_fraction: 0.2
privacy_unit: user_id
identifiers: [email]
consent:
  column: consent_marketing
columns:
  age_band: {from: age, bins: [18, 25, 35, 45, 55, 65]}
  week: {from: ts, truncate: week}
privacy:
  epsilon: 1
  delta: 1e-6
  k: 1
  max_partitions_per_unit: 2
outputs:
  - name: by_channel
    group_by: [campaign, channel]
    public_partitions:
      campaign: [cmp_a, cmp_b, cmp_z]
      channel: [email, search]
    metrics:
      - {name: events, type: count, max_per_unit: 3}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 500}
      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}
  - name: by_age_week
    group_by: [age_band, week]
    public_partitions:
      age_band: ["<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
      week: ["2026-01-05", "2026-01-12"]
    max_partitions_per_unit: 1
    metrics:
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 1000}
output:
  dir: out
  format: csv
ledger: ledger/privagg-ledger.duckdb
`

// setupJob writes job and files into a new folder with a budget of eps.
func setupJob(t *testing.T, jobYAML string, files map[string]string, eps float64) *pipeline.Job {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(jobYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	job, err := pipeline.LoadJob(filepath.Join(dir, "job.yaml"))
	if err != nil {
		t.Fatalf("LoadJob: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(job.Ledger), 0o755); err != nil {
		t.Fatal(err)
	}
	led, err := privacy.OpenLedger(job.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	if err := led.SetBudget(context.Background(), job.Dataset, eps, 1e-3, "none"); err != nil {
		t.Fatal(err)
	}
	return job
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

func TestEnginesAgreeWithoutNoise(t *testing.T) {
	files := map[string]string{"events.csv": eventsCSV}
	embedded := setupJob(t, equivJob, files, 10)
	if _, err := pipeline.Run(context.Background(), embedded, pipeline.RunOptions{Noise: noNoise{}, ReleaseID: "equiv-1"}); err != nil {
		t.Fatalf("embedded engine: %v", err)
	}
	onBeam := setupJob(t, equivJob, files, 10)
	res, err := Run(context.Background(), onBeam, Options{ReleaseID: "equiv-1", testMode: pbeam.TestModeWithContributionBounding})
	if err != nil {
		t.Fatalf("beam engine: %v", err)
	}
	if r := res.Report; r.RowsRead != 12 || r.RowsRejected != 2 || r.RowsExcludedByConsent != 1 {
		t.Errorf("report counts read=%d rejected=%d excluded=%d, want 12, 2, 1", r.RowsRead, r.RowsRejected, r.RowsExcludedByConsent)
	}
	for _, tc := range []struct {
		file  string
		nkeys int
		exact []string
	}{
		{"by_channel.csv", 2, []string{"events", "people", "revenue", "avg_revenue"}},
		{"by_age_week.csv", 2, []string{"people", "revenue"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			want := readTable(t, filepath.Join(embedded.Output.Dir, tc.file), tc.nkeys)
			got := readTable(t, filepath.Join(onBeam.Output.Dir, tc.file), tc.nkeys)
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
				for _, col := range tc.exact {
					i := slices.Index(want.header, col)
					if g[i] != w[i] {
						t.Errorf("key %s column %s = %s, embedded engine %s", k, col, g[i], w[i])
					}
				}
			}
		})
	}
	// The manifest and the ledger charge are the same.
	for _, e := range []*pipeline.Job{embedded, onBeam} {
		led, err := privacy.OpenLedger(e.Ledger)
		if err != nil {
			t.Fatal(err)
		}
		st, err := led.Status(context.Background(), e.Dataset)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(st.EpsilonSpent.Float64()-1) > 1e-9 {
			t.Errorf("ledger %s spent epsilon %v, want the job's 1", e.Ledger, st.EpsilonSpent)
		}
	}
	// Re-running publishes the stored release again without a charge.
	again, err := Run(context.Background(), onBeam, Options{ReleaseID: "equiv-1"})
	if err != nil || !again.Republished {
		t.Fatalf("re-run: %v, republished %v", err, again != nil && again.Republished)
	}
}

// TestNoiseScale checks that the beam engine's noise has the standard
// deviation the plan (and the library) states: 2000 public partitions with
// 10 people each, one count_units metric, ε = 1, L0 = 1, so Laplace with
// scale 1 and variance 2. The sample variance of 2000 Laplace draws has a
// relative standard deviation of sqrt((κ-1)/n) = sqrt(5/2000) = 0.05 (κ = 6);
// the test accepts [0.7, 1.3] × 2, a 6σ band: a false failure is rarer than
// 1e-6 even with the heavy tail (Chebyshev on the fourth moment bounds it
// below 3%; the normal approximation at n = 2000 gives ~1e-9). Noise off
// by the factor a sensitivity mistake gives (scale x2: variance 8; x0.5:
// variance 0.5) fails it; so does a 30% error in scale (variance x1.69).
func TestNoiseScale(t *testing.T) {
	const parts, per = 2000, 10
	var keys, events strings.Builder
	keys.WriteString("k\n")
	events.WriteString("user_id,k,consent\n")
	for p := range parts {
		fmt.Fprintf(&keys, "p%04d\n", p)
		for u := range per {
			fmt.Fprintf(&events, "u%d_%d,p%04d,true\n", p, u, p)
		}
	}
	job := setupJob(t, `version: 1
name: scale
dataset: d
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: by_k
    group_by: [k]
    public_partitions: {k: {file: keys.csv}}
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger/l.duckdb
`, map[string]string{"events.csv": events.String(), "keys.csv": keys.String()}, 5)
	if _, err := Run(context.Background(), job, Options{}); err != nil {
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
		d := v - per
		sum += d
		sumsq += d * d
	}
	mean := sum / parts
	variance := sumsq/parts - mean*mean
	want := 2.0 // Laplace(b=1)
	if variance < 0.7*want || variance > 1.3*want {
		t.Errorf("noise variance %.3f, want %.1f ± 30%%", variance, want)
	}
	if math.Abs(mean) > 6*math.Sqrt(want/parts) {
		t.Errorf("noise mean %.3f, want 0 (6σ = %.3f)", mean, 6*math.Sqrt(want/parts))
	}
}
