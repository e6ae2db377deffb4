package duckdb

import (
	"slices"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/testnoise"
)

// TestCountThresholdBoundsOnce: with selection: count_threshold the
// partitions are kept through their people count (k = 10 and, without
// noise, a threshold of 0), and contributions are bounded once, among all
// partitions: x, with 50 partitions of which 3 are big, keeps 5 of all 50
// and so counts in all 3 big ones with probability C(47,2)/C(50,5) < 6e-4
// per trial; in at least one of 10 trials x misses one (the test fails
// wrongly with probability below 1e-30). x's own partitions (1 person) are
// never released.
func TestCountThresholdBoundsOnce(t *testing.T) {
	jobText := strings.Replace(twoPhaseJob, "    group_by: [campaign]", "    selection: count_threshold\n    group_by: [campaign]", 1)
	h := newAuditHarness(t, jobText, twoPhaseEvents(3), withNoise(testnoise.None{}))
	missed := false
	for trial := range 10 {
		rel := h.trial()
		var keys []string
		withX := 0
		for k, cols := range rel {
			keys = append(keys, k)
			switch cols["people"] {
			case 101:
				withX++
			case 100:
			default:
				t.Errorf("trial %d: %s has %v people, want 100 or 101", trial, k, cols["people"])
			}
		}
		slices.Sort(keys)
		if want := []string{"t/b1", "t/b2", "t/b3"}; !slices.Equal(keys, want) {
			t.Fatalf("trial %d: released %v, want %v", trial, keys, want)
		}
		if withX < 3 {
			missed = true
		}
	}
	if !missed {
		t.Error("x counted in all 3 big partitions in 10 of 10 trials: bounding was not among all 50 partitions")
	}
}

// TestCountThresholdPlanIsOnePhase: the engine runs no selection phase for
// a count_threshold output.
func TestCountThresholdPlanIsOnePhase(t *testing.T) {
	jobText := strings.Replace(twoPhaseJob, "    group_by: [campaign]", "    selection: count_threshold\n    group_by: [campaign]", 1)
	h := newAuditHarness(t, jobText, twoPhaseEvents(3), withNoise(testnoise.None{}))
	if h.qp.twoPhase(0) {
		t.Fatalf("output %q is planned in two phases", h.qp.job.Outputs[0].Name)
	}
}
