package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// boundsCLIJob has every bound auto: a two-phase weekly output and a
// public-keys output.
const boundsCLIJob = `version: 1
name: auto_cli
dataset: auto_events
purpose: marketing
input: {path: events.parquet}
privacy_unit: user_id
identifiers: [email, phone, ip]
consent: {column: consent_marketing}
columns:
  week: {from: ts, truncate: week}
privacy: {epsilon: 2, delta: 1e-6, k: 5, max_partitions_per_unit: auto}
outputs:
  - name: weekly
    group_by: [campaign, week]
    metrics:
      - {name: events, type: count, max_per_unit: auto}
      - {name: people, type: count_units}
  - name: by_channel
    group_by: [channel]
    public_partitions: {channel: [search, email, social, display, affiliate]}
    metrics:
      - {name: revenue, type: sum, column: revenue, min: 0, max: auto}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// Auto bounds through the binary: plan says auto before the run; the run
// publishes corrected values whose manifests say what the intervals cover;
// releases show and query --tables say what bounding removed.
func TestAutoBoundsThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.parquet")
	if code, _, errs := cli(t, "gen", "--events", "100000", "--users", "10000", "--seed", "5", "--out", events); code != 0 {
		t.Fatalf("gen: %s", errs)
	}
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(boundsCLIJob), 0o644); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger.duckdb")
	if code, _, errs := cli(t, "--ledger", ledger, "budget", "set", "auto_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: %s", errs)
	}
	code, out, errs := cli(t, "plan", job)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errs)
	}
	for _, want := range []string{"L0 auto", "bound estimates: epsilon 0.2", "set by the bounds the run estimates (auto)", "depend on the L0 the run estimates"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	code, _, errs = cli(t, "run", "--release-id", "auto-1", job)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "out", "weekly.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"interval": "noise and bounding"`, `"auto": true`, `"dropped": {`, `"pairs_cap"`} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("weekly manifest lacks %s", want)
		}
	}
	code, out, errs = cli(t, "--ledger", ledger, "releases", "show", "auto-1")
	if code != 0 {
		t.Fatalf("releases show: %s", errs)
	}
	for _, want := range []string{"bounds: L0 ", "(auto); bounding removed about", "corrected: events, people", "noise and bounding"} {
		if !strings.Contains(out, want) {
			t.Errorf("releases show lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = cli(t, "--ledger", ledger, "query", "--tables")
	if code != 0 || !strings.Contains(out, "BOUNDS") || !strings.Contains(out, "bounding removed about") {
		t.Errorf("query --tables: exit %d\n%s%s", code, out, errs)
	}
}
