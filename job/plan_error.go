package job

import (
	"errors"
	"fmt"
	"math"

	"github.com/privagg/privagg/privacy"
)

// PlanError is the *ConfigError for err, an error of privacy.NewPlan on
// j.PrivacySpec(): each problem under the job-file key of the parameter it
// names (privacy speaks of its spec, not of the job file).
func (j *Job) PlanError(err error) *ConfigError {
	return &ConfigError{File: j.File, Problems: j.planProblems(err)}
}

// planProblems are the problems of err, an error of privacy.NewPlan on
// j.PrivacySpec(). A bound that makes a statistic or its noise overflow
// float64 (privacy.ScaleError) is reported on the metric's larger bound.
func (j *Job) planProblems(err error) []Problem {
	var se *privacy.ScaleError
	var spe *privacy.SpecError
	switch {
	case errors.As(err, &se):
		var out []Problem
		for _, p := range se.Problems {
			m := j.Outputs[p.Output].Metrics[p.Metric]
			key, value := fmt.Sprintf("outputs[%d].metrics[%d].max", p.Output, p.Metric), *m.Max
			if math.Abs(*m.Min) > math.Abs(*m.Max) {
				key, value = fmt.Sprintf("outputs[%d].metrics[%d].min", p.Output, p.Metric), *m.Min
			}
			out = append(out, Problem{Key: key, Value: value, Rule: p.Rule(), Err: se})
		}
		return out
	case errors.As(err, &spe):
		out := make([]Problem, len(spe.Problems))
		for i, p := range spe.Problems {
			out[i] = Problem{Key: specKey(p), Value: p.Value, Rule: p.Rule, Err: spe}
		}
		return out
	}
	return []Problem{{Key: "privacy", Rule: err.Error(), Err: err}}
}

// specKey is the job-file key of the parameter a privacy.SpecProblem names.
func specKey(p privacy.SpecProblem) string {
	switch {
	case p.Output < 0 && p.Field == "outputs":
		return "outputs"
	case p.Output < 0:
		return "privacy." + p.Field
	case p.Metric < 0:
		return fmt.Sprintf("outputs[%d].%s", p.Output, p.Field)
	case p.Field == "":
		return fmt.Sprintf("outputs[%d].metrics[%d]", p.Output, p.Metric)
	default:
		return fmt.Sprintf("outputs[%d].metrics[%d].%s", p.Output, p.Metric, p.Field)
	}
}
