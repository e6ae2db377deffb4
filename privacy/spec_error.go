package privacy

import (
	"fmt"
	"strings"
)

// SpecProblem is one rule a JobSpec breaks. It names the parameter in the
// spec's terms (Field: "epsilon", "selection_share", "weight", … ; "" for
// the metric itself) and where it is (Output and Metric, indices into
// JobSpec.Outputs and OutputSpec.Metrics, -1 when the parameter is not an
// output's or a metric's). The job layer turns the place into a job-file
// key; privacy knows no job file.
type SpecProblem struct {
	Output, Metric int
	Field          string
	Value          any // the value given; nil when the rule is about presence
	Rule           string
	Err            error // the rule's error, for errors.Is; nil for a rule without one
}

// String is the problem in the spec's terms, e.g.
// "output 0, metric 1, weight: -1 must be a number > 0 and finite".
func (p SpecProblem) String() string {
	var where []string
	if p.Output >= 0 {
		where = append(where, fmt.Sprintf("output %d", p.Output))
	}
	if p.Metric >= 0 {
		where = append(where, fmt.Sprintf("metric %d", p.Metric))
	}
	if p.Field != "" {
		where = append(where, p.Field)
	}
	rule := p.Rule
	if p.Value != nil {
		rule = fmt.Sprintf("%v %s", p.Value, p.Rule)
	}
	if len(where) == 0 {
		return rule
	}
	return strings.Join(where, ", ") + ": " + rule
}

// SpecError is NewPlan's error for a JobSpec that breaks rules: every
// problem at once.
type SpecError struct {
	Problems []SpecProblem
}

func (e *SpecError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return "privacy spec: " + strings.Join(msgs, "; ")
}

// Unwrap returns the problems' rule errors, so that errors.Is finds them.
func (e *SpecError) Unwrap() []error {
	var errs []error
	for _, p := range e.Problems {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}
