package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privagg/privagg/job"

	duckdb "github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

const catalogEvents = `user_id,campaign,channel,revenue,consent
u1,cmp_a,email,100,true
u2,cmp_a,email,20,true
u3,cmp_a,search,0,true
u4,cmp_b,email,999,true
`

func catalogJob(format string) string {
	return `version: 1
name: cmd_catalog
dataset: cmd_events
purpose: marketing
input:
  path: events.csv
privacy_unit: user_id
consent:
  column: consent
privacy:
  epsilon: 1
  delta: 1e-6
  k: 1
  max_partitions_per_unit: 1
outputs:
  - name: by_channel
    group_by: [campaign, channel]
    public_partitions:
      campaign: [cmp_a, cmp_b]
      channel: [email, search]
    metrics:
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 500}
output:
  dir: out_` + format + `
  format: ` + format + `
ledger: privagg-ledger.duckdb
`
}

// publishTwo publishes release r1 (csv) and r2 (parquet) of the same job
// and returns the ledger path.
func publishTwo(t *testing.T) (dir, ledger string) {
	t.Helper()
	dir = t.TempDir()
	return dir, publishTwoIn(t, dir, "")
}

// publishTwoIn is publishTwo with the job files, the input and the ledger in
// dir and the output folders out_csv and out_parquet in outParent ("" is dir).
func publishTwoIn(t *testing.T, dir, outParent string) (ledger string) {
	t.Helper()
	ledger = filepath.Join(dir, "privagg-ledger.duckdb")
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(catalogEvents), 0o644); err != nil {
		t.Fatal(err)
	}
	led, err := privacy.OpenLedger(ledger)
	if err != nil {
		t.Fatal(err)
	}
	if err := led.SetBudget(context.Background(), "cmd_events", 10, 1e-3, "none"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ id, format string }{{"r1", "csv"}, {"r2", "parquet"}} {
		path := filepath.Join(dir, "job_"+r.id+".yaml")
		spec := catalogJob(r.format)
		if outParent != "" {
			spec = strings.Replace(spec, "dir: out_", "dir: "+outParent+"/out_", 1)
		}
		if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		job, err := job.LoadJob(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.Run(context.Background(), job, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: r.id}); err != nil {
			t.Fatal(err)
		}
	}
	return ledger
}

func TestQueryCommand(t *testing.T) {
	dir, ledger := publishTwo(t)
	out := filepath.Join(dir, "diff.parquet")
	cases := []struct {
		name     string
		args     []string
		env      string // PRIVAGG_LEDGER
		code     int
		contains []string
	}{
		{"csv by default off a terminal", []string{"--ledger", ledger, "query", "SELECT campaign, channel FROM by_channel ORDER BY ALL"}, "", 0,
			[]string{"campaign,channel\ncmp_a,email\ncmp_a,search\ncmp_b,email\ncmp_b,search\n"}},
		{"table", []string{"--ledger", ledger, "query", "--format", "table", "SELECT campaign, NULL AS x FROM by_channel__r1 ORDER BY 1 LIMIT 1"}, "", 0,
			[]string{"campaign     x\n--------  ----\ncmp_a     NULL\n(1 row)\n"}},
		{"json across releases", []string{"--ledger", ledger, "query", "--format", "json",
			"SELECT count(*) AS n FROM by_channel__r1 a JOIN by_channel__r2 b USING (campaign, channel)"}, "", 0, []string{`"n": 4`}},
		{"ledger from env", []string{"query", "SELECT count(*) AS n FROM by_channel"}, ledger, 0, []string{"n\n4\n"}},
		{"tables", []string{"--ledger", ledger, "query", "--tables"}, "", 0, []string{"by_channel      r2", "by_channel__r1  r1", "by_channel__r2  r2"}},
		{"parquet to file", []string{"--ledger", ledger, "query", "--out", out, "SELECT * FROM by_channel__r2"}, "", 0, nil},
		{"parquet needs out", []string{"--ledger", ledger, "query", "--format", "parquet", "SELECT 1"}, "", 2, []string{"requires --out"}},
		{"bad format", []string{"--ledger", ledger, "query", "--format", "xml", "SELECT 1"}, "", 2, []string{"--format"}},
		{"copy refused", []string{"--ledger", ledger, "query", "COPY by_channel TO 'x.csv'"}, "", 2, []string{"COPY is not allowed"}},
		{"input file refused", []string{"--ledger", ledger, "query", "SELECT * FROM '" + filepath.Join(dir, "events.csv") + "'"}, "", 2, []string{"files cannot be read"}},
		{"ledger file refused", []string{"--ledger", ledger, "query", "SELECT * FROM read_blob('" + ledger + "')"}, "", 2, []string{"read_blob"}},
		{"invalid sql", []string{"--ledger", ledger, "query", "SELECT nope FROM by_channel"}, "", 2, []string{"invalid SQL"}},
		{"no sql", []string{"--ledger", ledger, "query"}, "", 2, []string{"missing SQL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PRIVAGG_LEDGER", tc.env)
			code, stdout, stderr := runBudget(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			for _, want := range tc.contains {
				if !strings.Contains(stdout+stderr, want) {
					t.Errorf("output does not contain %q:\nstdout: %s\nstderr: %s", want, stdout, stderr)
				}
			}
		})
	}
	// The parquet file reads back as the released table.
	eng, err := duckdb.OpenDB(context.Background(), duckdb.DBOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rows, err := eng.QueryRows(context.Background(), "SELECT count(*) FROM (SELECT * FROM read_parquet('"+out+"') EXCEPT SELECT * FROM read_parquet('"+
		filepath.Join(dir, "privagg-releases", "r2", "by_channel.parquet")+"'))")
	if err != nil || rows[0][0] != int64(0) {
		t.Errorf("--out parquet differs from the release: %v %v", rows, err)
	}
}

func TestReleasesCommands(t *testing.T) {
	_, ledger := publishTwo(t)
	code, stdout, stderr := runBudget(t, "--ledger", ledger, "releases", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("releases list: exit %d\n%s", code, stderr)
	}
	var rels []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rels); err != nil {
		t.Fatalf("releases list --format json: %v\n%s", err, stdout)
	}
	if len(rels) != 2 || rels[0]["release_id"] != "r1" || rels[1]["release_id"] != "r2" {
		t.Fatalf("releases = %v", rels)
	}
	for _, key := range []string{"dataset", "purpose", "job", "epsilon", "delta", "k", "noise", "state", "published_at", "store_dir", "tables"} {
		if _, ok := rels[1][key]; !ok {
			t.Errorf("release JSON has no %q", key)
		}
	}
	tables := rels[1]["tables"].([]any)
	tab := tables[0].(map[string]any)
	if tab["query_name"] != "by_channel__r2" || tab["latest"] != true || tab["rows"] != float64(4) {
		t.Errorf("table = %v", tab)
	}

	// By default the list fits a terminal; --wide adds every column in full
	// (the store paths alone are wider here).
	code, stdout, _ = runBudget(t, "--ledger", ledger, "releases", "list")
	lines := strings.Split(stdout, "\n")
	if code != 0 || len(lines) < 3 || !strings.HasPrefix(lines[0], "RELEASE ID") || !slices.Equal(strings.Fields(lines[2])[:2], []string{"r2", "published"}) ||
		strings.Contains(stdout, "by_channel__r1") {
		t.Errorf("releases list: exit %d\n%s", code, stdout)
	}
	if long := linesOver(stdout, 100); len(long) > 0 {
		t.Errorf("releases list: lines wider than 100 columns: %q", long)
	}
	code, stdout, _ = runBudget(t, "--ledger", ledger, "releases", "list", "--wide")
	if code != 0 || !strings.Contains(stdout, "by_channel=4") || !strings.Contains(stdout, "by_channel__r1") ||
		!strings.Contains(stdout, filepath.Join(filepath.Dir(ledger), "privagg-releases", "r1")) || len(linesOver(stdout, 100)) == 0 {
		t.Errorf("releases list --wide: exit %d\n%s", code, stdout)
	}

	code, stdout, _ = runBudget(t, "--ledger", ledger, "releases", "show", "r1")
	for _, want := range []string{"release r1: published", "k -, noise laplace", "query as: by_channel__r1\n", "people", "revenue", "95% CI HALF-WIDTH", "REPORT.html"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("releases show: exit %d, output lacks %q:\n%s", code, want, stdout)
		}
	}
	code, stdout, _ = runBudget(t, "--ledger", ledger, "releases", "show", "r2", "--format", "json")
	var one map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &one) != nil || one["release_id"] != "r2" {
		t.Errorf("releases show --format json: exit %d\n%s", code, stdout)
	}
	metrics := one["tables"].([]any)[0].(map[string]any)["metrics"].([]any)
	if m := metrics[0].(map[string]any); m["ci95"] == nil || m["noise_std_dev"] == nil {
		t.Errorf("count_units metric without CI: %v", m)
	}

	code, _, stderr = runBudget(t, "--ledger", ledger, "releases", "show", "nope")
	if code != 2 || !strings.Contains(stderr, "unknown release") {
		t.Errorf("show unknown: exit %d, %s", code, stderr)
	}
	code, _, _ = runBudget(t, "--ledger", ledger, "releases", "list", "--format", "yaml")
	if code != 2 {
		t.Errorf("list --format yaml: exit %d, want 2", code)
	}
}

// TestQueryRefusesChangedStore: a raw input planted in a release store, with
// the store folder's published list and manifest edited to match, is
// refused with exit 1 and a message naming the file; no raw value is shown.
func TestQueryRefusesChangedStore(t *testing.T) {
	dir, ledger := publishTwo(t)
	store := filepath.Join(dir, "privagg-releases", "r1")
	raw, err := os.ReadFile(filepath.Join(dir, "events.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "by_channel.csv"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBudget(t, "--ledger", ledger, "query", "SELECT * FROM by_channel__r1")
	if code != 1 || !strings.Contains(stderr, filepath.Join(store, "by_channel.csv")) || !strings.Contains(stderr, "integrity") {
		t.Fatalf("exit %d, stderr %q; want 1 naming the changed file", code, stderr)
	}
	if strings.Contains(stdout+stderr, "u1,") || strings.Contains(stdout+stderr, "u2") {
		t.Errorf("output shows raw values: %q %q", stdout, stderr)
	}
}
