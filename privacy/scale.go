package privacy

import (
	"fmt"
	"math"
	"strings"
)

// MaxScale is the largest span of a metric's bounds (max - min), Linf
// sensitivity of a statistic and standard deviation of its noise that a plan
// accepts: float64's largest value over 2^53. A statistic sums one value per
// person, so a partition of up to 2^53 people (float64's exact integer range)
// at the bound stays finite, and so does noise drawn far into its tails. Wider
// bounds make a release fail after its budget is charged (a sum or its noise
// overflows to ±Inf), so the plan refuses them up front.
const MaxScale = math.MaxFloat64 / (1 << 53)

// ScaleProblem is one metric whose bounds or budget share make a number of
// its release too large to compute in float64.
type ScaleProblem struct {
	Output, Metric int       // indices in JobSpec.Outputs and OutputSpec.Metrics
	Stat           Statistic // the noised statistic; 0 when the span of the bounds is too large
	Span           float64   // max - min of the metric
	Sensitivity    float64   // Linf sensitivity of Stat
	StdDev         float64   // standard deviation of Stat's noise
}

// Rule states what is too large and how to fix it, for error messages.
func (p ScaleProblem) Rule() string {
	if p.Stat == 0 {
		return fmt.Sprintf("makes the range max - min (%g) too large: it must be at most %.3g, "+
			"so that sums and noise stay finite in float64", p.Span, MaxScale)
	}
	return fmt.Sprintf("makes %s's noise too large: sensitivity %g and noise standard deviation %g must both be at most %.3g, "+
		"so that sums over people and the noise stay finite in float64 (narrow min and max, or raise epsilon)",
		p.Stat, p.Sensitivity, p.StdDev, MaxScale)
}

// ScaleError is NewPlan's error for a plan with ScaleProblems.
type ScaleError struct {
	Spec     JobSpec
	Problems []ScaleProblem
}

func (e *ScaleError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		o := e.Spec.Outputs[p.Output]
		msgs[i] = fmt.Sprintf("output %q: metric %q: %s", o.Name, o.Metrics[p.Metric].Name, p.Rule())
	}
	return strings.Join(msgs, "\n")
}

// checkScale is the rule of MaxScale: every metric's span, and every noised
// statistic's sensitivity and noise standard deviation, are at most MaxScale.
func (p *Plan) checkScale() error {
	var problems []ScaleProblem
	for i, op := range p.Outputs {
		for j, mp := range op.Metrics {
			n := len(problems)
			span := mp.Spec.Max - mp.Spec.Min
			for _, c := range mp.Components {
				if !(c.LInf <= MaxScale && c.StdDev <= MaxScale) {
					problems = append(problems, ScaleProblem{Output: i, Metric: j, Stat: c.Stat, Span: span, Sensitivity: c.LInf, StdDev: c.StdDev})
				}
			}
			if len(problems) == n && !(span <= MaxScale) {
				problems = append(problems, ScaleProblem{Output: i, Metric: j, Span: span})
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &ScaleError{Spec: p.Spec, Problems: problems}
}
