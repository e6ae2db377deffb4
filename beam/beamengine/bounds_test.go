package beamengine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// autoJob has every bound auto and a bounds share; %PARTS% is the
// campaigns' partitions: public (a list) or from the data (two phases).
const autoJob = `version: 1
name: auto
dataset: d
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: %EPS%, delta: 1e-6, k: 1, max_partitions_per_unit: auto, bounds_share: 0.3}
outputs:
  - name: by_campaign
    group_by: [campaign]
%PARTS%
    metrics:
      - {name: events, type: count, max_per_unit: auto}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: auto}
output: {dir: out, format: csv}
ledger: ledger/l.duckdb
`

// autoEvents are people whose pairs all look alike, so that which of a
// person's pairs bounding keeps (each engine draws its own) changes none of
// the estimates: person i is in 1 + i%5 of campaigns c0..c5 (c0 first),
// with 1 + i%3 rows in each, each row worth 10 × (1 + i%7). people per
// campaign grow with n.
func autoEvents(n int) string {
	var b strings.Builder
	b.WriteString("user_id,campaign,revenue,consent\n")
	for i := range n {
		for c := range 1 + i%5 {
			for range 1 + i%3 {
				fmt.Fprintf(&b, "u%d,c%d,%d,true\n", i, c, 10*(1+i%7))
			}
		}
	}
	return b.String()
}

func autoJobYAML(eps, parts string) string {
	return strings.NewReplacer("%EPS%", eps, "%PARTS%", parts).Replace(autoJob)
}

const autoPublic = "    public_partitions: {campaign: [c0, c1, c2, c3, c4, c5]}"

// manifestOf reads the manifest of output name in dir.
func manifestOf(t *testing.T, dir, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name+".manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// metricsOf is the manifest's metrics by name, without the noise figures
// that depend on the noise double.
func metricsOf(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	list, _ := m["metrics"].([]any)
	for _, x := range list {
		mm, _ := x.(map[string]any)
		out[fmt.Sprint(mm["name"])] = map[string]any{"bias": mm["bias"], "interval": mm["interval"],
			"max_partitions_per_unit": mm["max_partitions_per_unit"], "max_per_unit": mm["max_per_unit"]}
	}
	return out
}

// columnSum is the sum of column col of a published CSV table.
func columnSum(t *testing.T, path, col string) float64 {
	t.Helper()
	tb := readTable(t, path, 1)
	i := -1
	for k, h := range tb.header {
		if h == col {
			i = k
		}
	}
	if i < 0 {
		t.Fatalf("%s: no column %s in %v", path, col, tb.header)
	}
	sum := 0.0
	for _, r := range tb.rows {
		v, err := strconv.ParseFloat(r[i], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	return sum
}

// TestEnginesAgreeOnAutoBounds runs a job with every bound auto on both
// engines without noise (the noiseless double for the estimates and the
// embedded engine's metrics, pbeam's test mode with bounding for Beam's):
// both choose the same bounds, find the same dropped shares and make the
// same corrections, so the manifests' bounds and the metrics' bias and
// interval are identical. Per partition the values differ (each engine
// keeps its own random L0 of a heavy person's campaigns); their sums over
// the partitions do not (each person counts min(m, L0) times), up to the
// rounding of each corrected value.
//
// With keys from the data (two phases), both select every campaign without
// noise and measure what was dropped among them, with the pairs capped at
// the six selected.
func TestEnginesAgreeOnAutoBounds(t *testing.T) {
	for _, tc := range []struct{ name, parts string }{{"public", autoPublic}, {"two phases", ""}} {
		t.Run(tc.name, func(t *testing.T) { agreeOnAutoBounds(t, autoJobYAML("1000", tc.parts)) })
	}
}

func agreeOnAutoBounds(t *testing.T, jobYAML string) {
	files := map[string]string{"events.csv": autoEvents(200)}
	embedded := setupJob(t, jobYAML, files, 1000)
	restore := testfixture.WithNoise(t, testnoise.None{})
	defer restore()
	if _, err := pipeline.Run(context.Background(), embedded, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: "auto-1"}); err != nil {
		t.Fatalf("embedded engine: %v", err)
	}
	onBeam := setupJob(t, jobYAML, files, 1000)
	if _, err := runBeam(t, onBeam, "auto-1", pbeam.TestModeWithContributionBounding); err != nil {
		t.Fatalf("beam engine: %v", err)
	}
	want, got := manifestOf(t, embedded.Output.Dir, "by_campaign"), manifestOf(t, onBeam.Output.Dir, "by_campaign")
	wb, _ := json.Marshal(want["bounds"])
	gb, _ := json.Marshal(got["bounds"])
	if want["bounds"] == nil || string(gb) != string(wb) {
		t.Errorf("beam bounds\n%s\nembedded engine\n%s", gb, wb)
	}
	// Something was estimated, dropped and corrected.
	var b struct {
		L0      privacy.Bound    `json:"max_partitions_per_unit"`
		Dropped *privacy.Dropped `json:"dropped"`
	}
	if err := json.Unmarshal(wb, &b); err != nil {
		t.Fatal(err)
	}
	if !b.L0.Auto || b.L0.Quantile == 0 || b.Dropped == nil || b.Dropped.Pairs <= 0 {
		t.Errorf("embedded bounds %s: want an estimated L0 and pairs dropped", wb)
	}
	wm, gm := metricsOf(t, want), metricsOf(t, got)
	wj, _ := json.Marshal(wm)
	gj, _ := json.Marshal(gm)
	if string(gj) != string(wj) {
		t.Errorf("beam metrics\n%s\nembedded engine\n%s", gj, wj)
	}
	for _, col := range []string{"people", "events", "revenue"} {
		w := columnSum(t, filepath.Join(embedded.Output.Dir, "by_campaign.csv"), col)
		g := columnSum(t, filepath.Join(onBeam.Output.Dir, "by_campaign.csv"), col)
		// Six rows, each corrected and rounded to its interval's precision.
		if math.Abs(g-w) > max(6, 0.01*w) {
			t.Errorf("sum of %s over the campaigns: beam %v, embedded engine %v", col, g, w)
		}
	}
}

// TestAutoBoundsWithNoise: with the library's noise (no test double), an
// auto-bounds job on Beam charges the job's epsilon once, its estimates
// included, and its manifest gives the bounds chosen and what they cost.
func TestAutoBoundsWithNoise(t *testing.T) {
	job := setupJob(t, autoJobYAML("1", ""), map[string]string{"events.csv": autoEvents(2000)}, 10)
	if _, err := runBeam(t, job, "auto-noise-1", pbeam.TestModeDisabled); err != nil {
		t.Fatalf("beam engine: %v", err)
	}
	checkPublished(t, job, "auto-noise-1")
	var b privacy.OutputBounds
	data, _ := json.Marshal(manifestOf(t, job.Output.Dir, "by_campaign")["bounds"])
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	if math.Abs(b.Epsilon-0.3) > 1e-9 || !b.L0.Auto || b.L0.Value < 1 || b.Dropped == nil || len(b.Metrics) != 3 {
		t.Errorf("manifest bounds %s: want epsilon 0.3 (the bounds share of 1), an auto L0 and what was dropped", data)
	}
}
