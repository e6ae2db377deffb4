package job

import (
	"errors"
	"testing"

	"github.com/privagg/privagg/privacy"
)

// TestPlanErrorKeys: the problems privacy reports in its spec's terms are
// reported under the job file's keys.
func TestPlanErrorKeys(t *testing.T) {
	t.Parallel()
	rule := errors.New("must be > 0")
	err := &privacy.SpecError{Problems: []privacy.SpecProblem{
		{Output: -1, Metric: -1, Field: "epsilon", Value: 0.0, Rule: rule.Error(), Err: rule},
		{Output: -1, Metric: -1, Field: "outputs", Rule: "at least one output is required"},
		{Output: 1, Metric: -1, Field: "selection_share", Value: 1.0, Rule: "must be in (0, 1)"},
		{Output: 0, Metric: 2, Field: "weight", Value: -1.0, Rule: "must be > 0"},
		{Output: 0, Metric: 3, Rule: "is not a metric"},
	}}
	ce := (&Job{File: "/j.yaml"}).PlanError(err)
	want := []string{"privacy.epsilon", "outputs", "outputs[1].selection_share", "outputs[0].metrics[2].weight", "outputs[0].metrics[3]"}
	if len(ce.Problems) != len(want) {
		t.Fatalf("problems %v, want keys %v", ce.Problems, want)
	}
	for i, p := range ce.Problems {
		if p.Key != want[i] {
			t.Errorf("problem %d key %q, want %q", i, p.Key, want[i])
		}
	}
	if !errors.Is(ce, rule) {
		t.Errorf("errors.Is(%v, rule) = false", ce)
	}
	if ce.File != "/j.yaml" {
		t.Errorf("file %q", ce.File)
	}
}
