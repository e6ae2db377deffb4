package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/privagg/privagg/privacy"
)

// TestPlanCommand: plan reads no data (the input does not even exist), shows
// the split and expected error, compares budgets with --what-if, gives JSON
// to tooling, and exits 3 when the job does not fit the ledger.
func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(strings.Replace(runJob, "events.csv", "never-read.csv", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger.duckdb")

	code, _, errs := runBudget(t, "plan", job)
	if code != 3 || !strings.Contains(errs, "budget refused") {
		t.Errorf("plan without a budget: exit %d, stderr %q; want 3", code, errs)
	}

	if code, _, errs := runBudget(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "1.5", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: %s", errs)
	}
	code, out, errs := runBudget(t, "--ledger", ledger, "plan", job)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errs)
	}
	for _, want := range []string{"a run spends epsilon 1", "people  count_units", "2.996", "before: epsilon 1.5 of 1.5 remaining", "after:  epsilon 0.5 remaining"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = runBudget(t, "--ledger", ledger, "plan", job, "--format", "json")
	var r struct {
		Spend   struct{ Epsilon float64 }
		Outputs []struct {
			Metrics []struct {
				Name string  `json:"name"`
				CI95 float64 `json:"ci95"`
			} `json:"metrics"`
		} `json:"outputs"`
		Ledger struct {
			Fits bool `json:"fits"`
		} `json:"ledger"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("plan --format json: exit %d, %v\n%s", code, err, out)
	}
	// One count_units metric over public keys gets all of epsilon 1 with L0 1:
	// Laplace scale 1, 95% half-width ln(20) = 2.996.
	if !r.Ledger.Fits || r.Spend.Epsilon != 1 || len(r.Outputs) != 1 || r.Outputs[0].Metrics[0].CI95 < 2.99 || r.Outputs[0].Metrics[0].CI95 > 3.0 {
		t.Errorf("plan json = %+v", r)
	}

	// What-if: a column per epsilon, a row per figure.
	code, out, _ = runBudget(t, "--ledger", ledger, "plan", job, "--what-if", "epsilon=0.5,1,2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !slices.Equal(strings.Fields(lines[0]), []string{"AT", "EPSILON", "0.5", "1", "2"}) ||
		!slices.Equal(strings.Fields(lines[1]), []string{"fits", "the", "budget", "true", "true", "false"}) ||
		!strings.HasPrefix(lines[2], "people.people ±95%") {
		t.Errorf("what-if: exit %d\n%s", code, out)
	}

	// Spend the budget down: the same job no longer fits.
	if code, _, errs := runBudget(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "0.5", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: %s", errs)
	}
	if code, out, _ := runBudget(t, "--ledger", ledger, "plan", job); code != 3 || !strings.Contains(out, "does NOT fit") {
		t.Errorf("plan over budget: exit %d\n%s", code, out)
	}
	if code, _, _ := runBudget(t, "plan", job, "--what-if", "epsilon=zero"); code != 2 {
		t.Errorf("bad --what-if: exit %d, want 2", code)
	}

	// A consent waiver is pointed out on stderr, also with JSON output.
	waived := filepath.Join(dir, "waived.yaml")
	if err := os.WriteFile(waived, []byte(strings.Replace(strings.Replace(runJob, "events.csv", "never-read.csv", 1),
		"consent: {column: ok}", `consent: {waived: "public data"}`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"plan", waived}, {"plan", waived, "--format", "json"}} {
		_, out, errs := runBudget(t, append([]string{"--ledger", ledger}, args...)...)
		if !strings.Contains(errs, `privagg: warning: consent is waived ("public data")`) || strings.Contains(out, "warning") {
			t.Errorf("%v: stdout %q, stderr %q; want the waiver warning on stderr only", args, out, errs)
		}
	}
}

// splitJob has an output whose keys come from the data, with weights and a
// selection share, a public one and one with the defaults: epsilon 2.5
// splits 3:1:1, the first gives a quarter of its 1.5 to selection and its
// metrics share 1.125 as 1:2, the second's one metric gets 0.5.
const splitJob = `version: 1
name: cli_split
dataset: cli_events
purpose: marketing
input: {path: never-read.csv}
privacy_unit: user_id
consent: {column: ok}
privacy: {epsilon: 2.5, delta: 1e-6, k: 5}
outputs:
  - name: by_campaign
    group_by: [campaign]
    weight: 3
    selection_share: 0.25
    metrics:
      - {name: people, type: count_units}
      - {name: events, type: count, weight: 2}
  - name: by_region
    group_by: [region]
    public_partitions: {region: [n, s]}
    metrics: [{name: people, type: count_units}]
  - name: by_week
    group_by: [week]
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// TestPlanShowsTheSplit: plan shows each output's weight and part of the
// job, the selection share and whether it is the default (with the rule that
// chose it), and each metric's weight, in text and JSON.
func TestPlanShowsTheSplit(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(splitJob), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runBudget(t, "plan", job)
	if code != 3 { // no ledger: the split is still shown
		t.Fatalf("plan: exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"budget split: the job's budget is split across outputs in proportion to their weights",
		"default selection share " + strconv.FormatFloat(privacy.DefaultSelectionShare, 'g', 4, 64) + ": " + privacy.SelectionShareRule,
		"output by_campaign  group by campaign  L0 1  partitions from data (DP selection)  weight 3 (60% of the job)  spends epsilon 1.5",
		"selection: share 0.25 of the output's epsilon (set in the job): epsilon 0.375,",
		"people  count_units  1 (33.3%)  0.375",
		"events  count        2 (66.7%)  0.75",
		"output by_region  group by region  L0 1  public partitions (every listed key is released)  weight 1 (20% of the job)  spends epsilon 0.5,",
		"selection: share " + strconv.FormatFloat(privacy.DefaultSelectionShare, 'g', 4, 64) + " of the output's epsilon (the default)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}

	_, out, _ = runBudget(t, "plan", job, "--format", "json")
	var r struct {
		Split struct {
			Rule      string  `json:"rule"`
			Default   float64 `json:"default_selection_share"`
			Objective string  `json:"default_selection_share_objective"`
		} `json:"split"`
		Outputs []struct {
			Weight    float64 `json:"weight"`
			Fraction  float64 `json:"fraction_of_job"`
			Selection *struct {
				Share   float64 `json:"selection_share"`
				Default bool    `json:"default"`
				Epsilon float64 `json:"epsilon"`
			} `json:"selection"`
			Metrics []struct {
				Weight   float64 `json:"weight"`
				Fraction float64 `json:"fraction_of_output_metrics"`
				Epsilon  float64 `json:"epsilon"`
			} `json:"metrics"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("plan --format json: %v\n%s", err, out)
	}
	if r.Split.Rule == "" || r.Split.Default != privacy.DefaultSelectionShare || r.Split.Objective != privacy.SelectionShareRule {
		t.Errorf("split = %+v", r.Split)
	}
	a, b, c := r.Outputs[0], r.Outputs[1], r.Outputs[2]
	if a.Weight != 3 || a.Selection == nil || a.Selection.Share != 0.25 || a.Selection.Default || a.Selection.Epsilon != 0.375 ||
		a.Metrics[0].Weight != 1 || a.Metrics[1].Weight != 2 || a.Metrics[0].Epsilon != 0.375 || a.Metrics[1].Epsilon != 0.75 {
		t.Errorf("by_campaign = %+v (selection %+v)", a, a.Selection)
	}
	if b.Weight != 1 || b.Selection != nil || b.Metrics[0].Epsilon != 0.5 || b.Metrics[0].Fraction != 1 {
		t.Errorf("by_region = %+v", b)
	}
	if c.Selection == nil || !c.Selection.Default || c.Selection.Share != privacy.DefaultSelectionShare {
		t.Errorf("by_week selection = %+v", c.Selection)
	}
}

// TestPlanShowsGaussianComposition: with Gaussian noise, plan shows the
// composition of the job's noised statistics both ways, (epsilon, delta)
// and zCDP rho, and each metric's rho, in text and JSON; the metrics' rho
// add up to the block's.
func TestPlanShowsGaussianComposition(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	gaussian := strings.Replace(splitJob, "privacy: {", "privacy: {noise: gaussian, ", 1)
	if gaussian == splitJob {
		t.Fatal("splitJob has no privacy line to set gaussian noise on")
	}
	if err := os.WriteFile(job, []byte(gaussian), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, errs := runBudget(t, "plan", job)
	for _, want := range []string{"gaussian composition: the 4 noised statistics spend epsilon", "zCDP rho", "95% CI ±  rho"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s%s", want, out, errs)
		}
	}
	_, out, _ = runBudget(t, "plan", job, "--format", "json")
	var r struct {
		Gaussian *struct {
			Share struct{ Epsilon, Delta float64 } `json:"share"`
			Rho   float64                          `json:"rho"`
		} `json:"gaussian_composition"`
		Outputs []struct {
			Metrics []struct {
				Rho float64 `json:"rho"`
			} `json:"metrics"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Gaussian == nil {
		t.Fatalf("plan --format json: %v, composition %+v\n%s", err, r.Gaussian, out)
	}
	sum := 0.0
	for _, o := range r.Outputs {
		for _, m := range o.Metrics {
			if m.Rho <= 0 {
				t.Errorf("a metric without rho: %s", out)
			}
			sum += m.Rho
		}
	}
	if sum > r.Gaussian.Rho || sum < 0.99*r.Gaussian.Rho || r.Gaussian.Share.Epsilon <= 0 || r.Gaussian.Share.Delta <= 0 {
		t.Errorf("metrics' rho add up to %v, block %+v", sum, r.Gaussian)
	}
}
