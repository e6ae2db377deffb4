package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// tuneJob has keys from the data, a count, distinct people and a clamped sum.
const tuneJob = `# the tuning test's job
version: 1
name: tune_cli
dataset: tune_events
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {waived: "test data"}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: by_campaign   # keys from the data
    group_by: [campaign]
    metrics:
      - {name: events, type: count, max_per_unit: 1}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 1000}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// tuneSetup writes the job and 600 people's events over 6 campaigns: person
// i is in campaigns 0..(i mod 4), with i mod 3 + 1 rows each and revenue i mod 50.
func tuneSetup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user_id,campaign,revenue\n")
	for i := range 600 {
		for c := range i%4 + 1 {
			for range i%3 + 1 {
				b.WriteString("u" + strconv.Itoa(i) + ",c" + strconv.Itoa(c) + "," + strconv.Itoa(i%50) + "\n")
			}
		}
	}
	for name, body := range map[string]string{"job.yaml": tuneJob, "events.csv": b.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTuneRawAndApply: raw mode says loudly that it read raw data, writes
// nothing to output.dir, charges nothing (no ledger is created); --apply
// writes a copy that loads and holds the recommended values, keeps the
// job file's comments and leaves the job file unchanged.
func TestTuneRawAndApply(t *testing.T) {
	dir := tuneSetup(t)
	jobFile := filepath.Join(dir, "job.yaml")
	out := filepath.Join(dir, "tuned.yaml")
	code, stdout, stderr := cli(t, "tune", jobFile, "--apply", out)
	if code != 0 {
		t.Fatalf("tune: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "NON-PRIVATE: read the raw input") || !strings.Contains(stderr, "NON-PRIVATE") {
		t.Errorf("raw mode is not labelled:\n%s\n%s", stdout, stderr)
	}
	for _, f := range []string{"out", "ledger.duckdb"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("raw mode created %s", f)
		}
	}
	if orig, _ := os.ReadFile(jobFile); string(orig) != tuneJob {
		t.Error("the job file changed")
	}
	code, js, stderr := cli(t, "tune", jobFile, "--format", "json")
	if code != 0 {
		t.Fatalf("tune --format json: exit %d\n%s", code, stderr)
	}
	var r struct {
		Mode    string `json:"mode"`
		Outputs []struct {
			L0 struct {
				Recommended int64 `json:"recommended"`
			} `json:"max_partitions_per_unit"`
			Metrics []struct {
				Name string `json:"name"`
				Linf *struct {
					Recommended int64 `json:"recommended"`
				} `json:"max_per_unit"`
				Clamp *struct {
					Recommended struct{ Min, Max float64 } `json:"recommended"`
				} `json:"clamp"`
			} `json:"metrics"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("json: %v\n%s", err, js)
	}
	if r.Mode != "raw" || len(r.Outputs) != 1 || len(r.Outputs[0].Metrics) != 3 {
		t.Fatalf("report %+v", r)
	}
	o := r.Outputs[0]
	// Every person has at most 4 partitions and 3 rows per partition, so
	// no recommended bound goes beyond them.
	if o.L0.Recommended < 1 || o.L0.Recommended > 4 {
		t.Errorf("recommended L0 %d, want 1 to 4", o.L0.Recommended)
	}
	applied, err := job.LoadJob(out)
	if err != nil {
		t.Fatalf("the applied copy does not load: %v", err)
	}
	ao := applied.Outputs[0]
	if ao.MaxPartitionsPerUnit != o.L0.Recommended {
		t.Errorf("applied L0 %d, recommended %d", ao.MaxPartitionsPerUnit, o.L0.Recommended)
	}
	if got, want := ao.Metrics[0].MaxPerUnit, o.Metrics[0].Linf.Recommended; got != want || want > 3 {
		t.Errorf("applied max_per_unit %d, recommended %d (at most 3)", got, want)
	}
	if c := o.Metrics[2].Clamp; *ao.Metrics[2].Min != c.Recommended.Min || *ao.Metrics[2].Max != c.Recommended.Max || c.Recommended.Max > 3*49 {
		t.Errorf("applied clamp [%v, %v], recommended %+v (totals are at most 147)", *ao.Metrics[2].Min, *ao.Metrics[2].Max, c.Recommended)
	}
	text, _ := os.ReadFile(out)
	for _, want := range []string{"# the tuning test's job", "# keys from the data", "selection_share", "weight"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("applied copy lacks %q:\n%s", want, text)
		}
	}
	// The job file itself is never the target.
	if code, _, stderr := cli(t, "tune", jobFile, "--apply", jobFile); code != 2 || !strings.Contains(stderr, "is the job file") {
		t.Errorf("--apply onto the job file: exit %d, %s", code, stderr)
	}
}

// TestTuneDPChargesLedger: --dp reserves the stated epsilon against the
// job's dataset before it draws noise; a second run that does not fit the
// remaining budget is refused with exit 3 and charges nothing.
func TestTuneDPChargesLedger(t *testing.T) {
	dir := tuneSetup(t)
	jobFile := filepath.Join(dir, "job.yaml")
	ledger := filepath.Join(dir, "ledger.duckdb")
	if code, _, stderr := cli(t, "--ledger", ledger, "tune", jobFile, "--dp", "--epsilon", "0.1"); code != 3 {
		t.Fatalf("--dp without a ledger: exit %d, want 3\n%s", code, stderr)
	}
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "tune_events", "--epsilon", "0.15", "--delta", "1e-6", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: %s", stderr)
	}
	code, stdout, stderr := cli(t, "--ledger", ledger, "tune", jobFile, "--dp", "--epsilon", "0.1", "--apply", filepath.Join(dir, "dp.yaml"))
	if code != 0 {
		t.Fatalf("tune --dp: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "charging epsilon 0.1") || !strings.Contains(stdout, "tuning charge tune-tune_cli-") {
		t.Errorf("the charge is not stated:\n%s\n%s", stdout, stderr)
	}
	spent := func() float64 {
		l, err := privacy.OpenLedger(ledger)
		if err != nil {
			t.Fatal(err)
		}
		st, err := l.Status(context.Background(), "tune_events")
		if err != nil {
			t.Fatal(err)
		}
		return st.EpsilonSpent.Float64()
	}
	if got := spent(); got != 0.1 {
		t.Errorf("ledger spent %v after tune --dp, want 0.1", got)
	}
	applied, err := job.LoadJob(filepath.Join(dir, "dp.yaml"))
	if err != nil {
		t.Fatalf("the applied copy does not load: %v", err)
	}
	if m := applied.Outputs[0].Metrics[2]; *m.Min != 0 || !(*m.Max > 0) {
		t.Errorf("DP clamp [%v, %v], want [0, a power of 2]", *m.Min, *m.Max)
	}
	code, _, stderr = cli(t, "--ledger", ledger, "tune", jobFile, "--dp", "--epsilon", "0.1")
	if code != 3 {
		t.Fatalf("second tune --dp over budget: exit %d, want 3\n%s", code, stderr)
	}
	if got := spent(); got != 0.1 {
		t.Errorf("ledger spent %v after a refused run, want 0.1", got)
	}
}

// TestTuneFocus: --focus names a metric of the job (exit 2 naming the
// job's metrics otherwise), is raw mode's only (exit 2 with --dp), and
// shows the focus weights.
func TestTuneFocus(t *testing.T) {
	dir := tuneSetup(t)
	jobFile := filepath.Join(dir, "job.yaml")
	code, stdout, stderr := cli(t, "tune", jobFile, "--focus", "people")
	if code != 0 {
		t.Fatalf("tune --focus people: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "focus: metric people") || !regexp.MustCompile(`people\.weight\s+\S+\s+1\n`).MatchString(stdout) {
		t.Errorf("the focus and its weight are not shown:\n%s", stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--focus", "nope"}, `--focus: "nope" is not a metric of job`},
		{[]string{"--focus", "people", "--dp", "--epsilon", "0.1"}, "--focus: only in raw mode"},
	} {
		code, _, stderr := cli(t, append([]string{"tune", jobFile}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("tune %v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
