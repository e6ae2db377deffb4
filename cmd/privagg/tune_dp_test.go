package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTuneDPChargesWhatItDraws: metrics of one output on one column share
// one noisy histogram, drawn once: every such metric gets the same
// bounds, and the tuning charge is the sum of the histograms' epsilon
// times their draws (issue 21: five metrics on revenue drew five times on
// a charge for one).
func TestTuneDPChargesWhatItDraws(t *testing.T) {
	dir := tuneSetup(t)
	job := strings.Replace(tuneJob, "      - {name: revenue, type: sum, column: revenue, min: 0, max: 1000}\n",
		"      - {name: revenue, type: sum, column: revenue, min: 0, max: 1000}\n"+
			"      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 1000}\n"+
			"      - {name: revenue_var, type: variance, column: revenue, min: 0, max: 1000}\n"+
			"      - {name: revenue_sd, type: stddev, column: revenue, min: 0, max: 1000}\n", 1)
	jobFile := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(jobFile, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger.duckdb")
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "tune_events", "--epsilon", "1", "--delta", "1e-6", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: %s", stderr)
	}
	// A tiny epsilon makes the noisy bound vary from draw to draw, so
	// separate draws per metric would show as different bounds.
	code, stdout, stderr := cli(t, "--ledger", ledger, "tune", jobFile, "--dp", "--epsilon", "0.01", "--format", "json")
	if code != 0 {
		t.Fatalf("tune --dp: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var r struct {
		Charge struct {
			Epsilon float64 `json:"epsilon"`
		} `json:"tuning_charge"`
		Histograms []struct {
			Output, Column string
			Epsilon        float64
			Draws          int
		} `json:"dp_histograms"`
		Outputs []struct {
			Metrics []struct {
				Name  string `json:"name"`
				Clamp *struct {
					Recommended struct{ Min, Max float64 } `json:"recommended"`
				} `json:"clamp"`
			} `json:"metrics"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(r.Histograms) != 1 || r.Histograms[0].Column != "revenue" || r.Histograms[0].Draws != 1 {
		t.Fatalf("histograms %+v, want one on revenue, drawn once", r.Histograms)
	}
	var drawn float64
	for _, h := range r.Histograms {
		drawn += h.Epsilon * float64(h.Draws)
	}
	if drawn != r.Charge.Epsilon || r.Charge.Epsilon != 0.01 {
		t.Errorf("drew epsilon %v, charged %v, want both 0.01", drawn, r.Charge.Epsilon)
	}
	var bounds []string
	for _, m := range r.Outputs[0].Metrics {
		if m.Clamp != nil {
			b, _ := json.Marshal(m.Clamp.Recommended)
			bounds = append(bounds, string(b))
		}
	}
	if len(bounds) != 4 {
		t.Fatalf("%d metrics with DP bounds, want 4", len(bounds))
	}
	for _, b := range bounds[1:] {
		if b != bounds[0] {
			t.Errorf("metrics on one column got different bounds %v: each drew its own noise", bounds)
			break
		}
	}
}
