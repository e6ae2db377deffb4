package tune

import (
	"fmt"
	"slices"
	"strings"

	"github.com/privagg/privagg/job"
)

// RawOptions steer raw mode.
type RawOptions struct {
	// Focus names the metric the budget split serves first (--focus): in
	// every output that has a metric of that name, it gets weight 1 and
	// every other metric FocusOtherWeight, and the L0 and selection share
	// are scored at its share. "" balances the metrics' relative noise
	// (metricWeights).
	Focus string
}

// FocusOtherWeight is the weight --focus gives every metric but the focus
// metric (weight 1): the others are still released, from a tenth of the
// focus metric's share each. benchmarks/utility/people.yaml is such a plan.
const FocusOtherWeight = 0.1

// CheckFocus checks that some output of j has a metric named focus.
func CheckFocus(j *job.Job, focus string) error {
	var names []string
	for _, out := range j.Outputs {
		if focusIndex(out, focus) >= 0 {
			return nil
		}
		for _, m := range out.Metrics {
			if !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
		}
	}
	return fmt.Errorf("--focus: %q is not a metric of job %q (its metrics: %s)", focus, j.Name, strings.Join(names, ", "))
}

// focusIndex is the index of the metric named focus in out, or -1 (also
// for focus "").
func focusIndex(out job.Output, focus string) int {
	if focus == "" {
		return -1
	}
	return slices.IndexFunc(out.Metrics, func(m job.Metric) bool { return m.Name == focus })
}

// focusWeights are n metric weights with weight 1 at f and FocusOtherWeight
// elsewhere.
func focusWeights(n, f int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = FocusOtherWeight
	}
	w[f] = 1
	return w
}

// studyWeights are the metric weights output o's study compares its L0,
// selection share and bounds at, and the metric whose share scores the L0
// and share: the focus weights and the focus metric, or equal weights and
// the first metric.
func studyWeights(out job.Output, focus string) (weights []float64, scored int) {
	if f := focusIndex(out, focus); f >= 0 {
		return focusWeights(len(out.Metrics), f), f
	}
	return equalWeights(len(out.Metrics)), 0
}
