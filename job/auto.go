package job

import (
	"strings"

	"github.com/privagg/privagg/privacy"
)

// Auto is the value of a contribution bound the run estimates privately
// from the data (privacy/bounds.go): max_partitions_per_unit, a count's
// max_per_unit, and min and max of the measured metrics.
const Auto = "auto"

// isAuto reports whether a YAML value is the word auto.
func isAuto(v any) bool {
	s, ok := v.(string)
	return ok && strings.EqualFold(strings.TrimSpace(s), Auto)
}

// autoKeys records which bounds of a job file are auto.
type autoKeys struct {
	l0      bool         // privacy.max_partitions_per_unit
	outputs map[int]bool // outputs[i].max_partitions_per_unit
	metrics map[[2]int]privacy.MetricAuto
}

// takeAutos replaces every auto bound of tree by a placeholder the decoder
// and the plan accept (a bound of 1, or a clamp [0, 1] moved to fit the
// other bound when that one is set) and returns where they were. The
// placeholders never reach noise: a run estimates the bounds first, and
// planning refuses an output whose auto bounds were not estimated.
func takeAutos(tree map[string]any) autoKeys {
	a := autoKeys{outputs: map[int]bool{}, metrics: map[[2]int]privacy.MetricAuto{}}
	if p, ok := tree[findKey(tree, "privacy")].(map[string]any); ok {
		if k := findKey(p, "max_partitions_per_unit"); isAuto(p[k]) {
			p[k], a.l0 = 1, true
		}
	}
	outs, _ := tree[findKey(tree, "outputs")].([]any)
	for i, o := range outs {
		om, ok := o.(map[string]any)
		if !ok {
			continue
		}
		if k := findKey(om, "max_partitions_per_unit"); isAuto(om[k]) {
			om[k], a.outputs[i] = 1, true
		}
		ms, _ := om[findKey(om, "metrics")].([]any)
		for j, m := range ms {
			mm, ok := m.(map[string]any)
			if !ok {
				continue
			}
			var ma privacy.MetricAuto
			if k := findKey(mm, "max_per_unit"); isAuto(mm[k]) {
				mm[k], ma.MaxPerUnit = 1, true
			}
			kmin, kmax := findKey(mm, "min"), findKey(mm, "max")
			ma.Min, ma.Max = isAuto(mm[kmin]), isAuto(mm[kmax])
			lo, hi := 0.0, 1.0
			if x, ok := number(mm[kmax]); ok && ma.Min {
				lo = min(0, x-1)
			}
			if x, ok := number(mm[kmin]); ok && ma.Max {
				hi = max(1, x+1)
			}
			if ma.Min {
				mm[kmin] = lo
			}
			if ma.Max {
				mm[kmax] = hi
			}
			if ma.Any() {
				a.metrics[[2]int{i, j}] = ma
			}
		}
	}
	return a
}

// number is a YAML number as a float64.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// apply marks the job's auto bounds; an output without a
// max_partitions_per_unit of its own inherits privacy's.
func (a autoKeys) apply(job *Job, tree map[string]any) {
	job.Privacy.AutoMaxPartitions = a.l0
	for i := range job.Outputs {
		o := &job.Outputs[i]
		o.AutoMaxPartitions = a.outputs[i] || (a.l0 && !present(tree, "outputs", i, "max_partitions_per_unit"))
		for j := range o.Metrics {
			o.Metrics[j].Auto = a.metrics[[2]int{i, j}]
		}
	}
}

// HasAuto reports whether some bound of the job is auto.
func (j *Job) HasAuto() bool { return j.PrivacySpec().HasAuto() }
