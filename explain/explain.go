// Package explain describes what a job will spend and release before any data is read:
// the budget split, the noise and expected error per metric, the people a row
// needs to be released, and the ledger before and after. `privagg plan`
// prints it; the release report embeds it.
package explain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/privagg/privagg/internal/hint"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// PlanReport is what `privagg plan` shows: the budget split, mechanisms and
// expected error of a job, and its effect on the ledger. It reads no data.
type PlanReport struct {
	Job     string        `json:"job"`
	Dataset string        `json:"dataset"`
	Purpose string        `json:"purpose"`
	Noise   string        `json:"noise"`
	K       int64         `json:"k"`
	Epsilon float64       `json:"epsilon"` // declared by the job
	Delta   float64       `json:"delta"`
	Spend   privacy.Share `json:"spend"` // what a run charges
	// Split says how the budget was divided (the rule; each output's and
	// metric's weight and each selection share are with them).
	Split PlanSplit `json:"split"`
	// Gaussian is, with Gaussian noise, the composition of the job's
	// Gaussian-noised statistics: its (ε, δ), which the ledger charges, and
	// the same as zero-concentrated DP ρ (privacy.GaussianBlock).
	Gaussian *privacy.GaussianBlock `json:"gaussian_composition,omitempty"`
	// Bounds is the budget of the private estimates of auto bounds and of
	// what bounding removes (privacy.bounds_share); nil without.
	Bounds  *privacy.BoundsPlan `json:"bound_estimates,omitempty"`
	Outputs []PlanOutput        `json:"outputs"`
	Ledger  *PlanLedger         `json:"ledger,omitempty"`
}

// PlanSplit is the rule of the budget split.
type PlanSplit struct {
	Rule string `json:"rule"`
	// DefaultSelectionShare is the selection share of outputs that set
	// none, and DefaultObjective what it was chosen to optimize.
	DefaultSelectionShare float64 `json:"default_selection_share"`
	DefaultObjective      string  `json:"default_selection_share_objective"`
}

// splitRule is PlanSplit.Rule for noise kind.
func splitRule(kind privacy.NoiseKind) string {
	rule := "the job's budget is split across outputs in proportion to their weights; " +
		"an output whose keys come from the data gives its selection share of epsilon to partition selection " +
		"and the metrics share the rest in proportion to their weights " +
		"(default 1; a count's is the square root of its max_per_unit, for the least total relative noise); "
	if kind == privacy.Gaussian {
		return rule + fmt.Sprintf("selection gets %g of the output's delta, the metrics the rest; ", privacy.SelectionDeltaShare) +
			"the metrics' shares of all outputs add up to one Gaussian mechanism (zCDP composition), " +
			"and each metric's noise gets the part of its rho that its epsilon share is of theirs (docs/budget.md)"
	}
	return rule + "laplace noise needs no delta, so all of an output's delta goes to selection"
}

// PlanOutput is the plan of one output.
type PlanOutput struct {
	Name    string   `json:"name"`
	GroupBy []string `json:"group_by"`
	L0      int64    `json:"max_partitions_per_unit"`
	// AutoL0 says L0 is estimated in the run (L0 is then a placeholder).
	AutoL0 bool          `json:"max_partitions_per_unit_auto,omitempty"`
	Public bool          `json:"public_partitions"`
	Weight float64       `json:"weight"`
	Spend  privacy.Share `json:"spend"`
	// Fraction is the output's part of the job's budget: its weight over
	// the sum of the outputs' weights.
	Fraction  float64        `json:"fraction_of_job"`
	Selection *PlanSelection `json:"selection,omitempty"`
	Metrics   []PlanMetric   `json:"metrics"`
}

// PlanSelection describes DP partition selection of an output.
type PlanSelection struct {
	// Share is the fraction of the output's epsilon selection gets;
	// Default says it is privacy.DefaultSelectionShare because the job
	// file sets none.
	// Method is privacy.SelectTwoPhase or privacy.SelectCountThreshold
	// (then Share is 0: selection spends only delta).
	Method  privacy.SelectionMethod `json:"method"`
	Share   float64                 `json:"selection_share"`
	Default bool                    `json:"default"`
	Epsilon float64                 `json:"epsilon"`
	Delta   float64                 `json:"delta"`
	K       int64                   `json:"k"`
	// People a partition needs for a 50% and a 95% chance to be released.
	People50 int64 `json:"people_for_50pct_release"`
	People95 int64 `json:"people_for_95pct_release"`
}

// PlanMetric is the plan of one metric.
type PlanMetric struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Weight float64 `json:"weight"`
	// Fraction is the metric's part of its output's metric budget: its
	// weight over the sum of the output's metric weights.
	Fraction float64 `json:"fraction_of_output_metrics"`
	Epsilon  float64 `json:"epsilon"`
	Delta    float64 `json:"delta"`
	// Rho is, under Gaussian composition, the zero-concentrated DP ρ of
	// the metric's noise (the sum of its components').
	Rho       float64 `json:"rho,omitempty"`
	Mechanism string  `json:"mechanism"`
	// The expected error, as the metric's kind describes it
	// (privacy.ErrorModel); one of the three is set.
	// StdDev and CI95 are the noise of the released value where it is the
	// same in every row (count, count_units, sum).
	StdDev float64 `json:"stddev,omitempty"`
	CI95   float64 `json:"ci95,omitempty"`
	// CI95ByPeople is, where the error shrinks with the people in a row
	// (mean, variance), the approximate 95% error half-width for a partition
	// with that many people (keys "100", ...).
	CI95ByPeople map[string]float64 `json:"ci95_by_people,omitempty"`
	// Note says what the noise is where neither applies (quantiles).
	Note string `json:"note,omitempty"`
	// Axis: metrics of an output with the same Axis are drawn on one scale
	// in the release report.
	Axis string `json:"axis,omitempty"`
	// Auto lists the metric's bounds the run estimates (max_per_unit, min,
	// max); its noise figures then depend on them and are left out.
	Auto       []string        `json:"auto,omitempty"`
	Components []PlanComponent `json:"components"`
	Columns    []string        `json:"columns"`
}

// PlanComponent is one noised statistic.
type PlanComponent struct {
	Stat    string  `json:"stat"`
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	Rho     float64 `json:"rho,omitempty"`
	L0      int64   `json:"l0"`
	LInf    float64 `json:"linf"`
	Scale   float64 `json:"stddev"`
	CI95    float64 `json:"ci95"`
	Comment string  `json:"comment"`
}

// PlanLedger is the dataset's budget before and after a run.
type PlanLedger struct {
	Path    string                `json:"path"`
	Before  *privacy.BudgetStatus `json:"before,omitempty"`
	After   *PlanBudgetAfter      `json:"after,omitempty"`
	Fits    bool                  `json:"fits"`
	Problem string                `json:"problem,omitempty"`
	Err     *privacy.BudgetError  `json:"-"`
}

// PlanBudgetAfter is what would remain after the run.
type PlanBudgetAfter struct {
	EpsilonRemaining float64 `json:"epsilon_remaining"`
	DeltaRemaining   float64 `json:"delta_remaining"`
}

// PeopleScale are the partition sizes for which errors that shrink with the
// people in a row (mean, variance) are shown.
var PeopleScale = []int64{100, 1000, 10000}

// Explain builds the plan report of job with its epsilon replaced by epsilon
// when epsilon > 0 (for what-if tables). ledgerPath, when not empty and the
// ledger exists, adds the budget before and after.
func Explain(ctx context.Context, j *job.Job, epsilon float64, ledgerPath string, withChance bool) (*PlanReport, error) {
	spec := j.PrivacySpec()
	if epsilon > 0 {
		spec.Epsilon = epsilon
	}
	plan, err := privacy.NewPlan(spec)
	if err != nil {
		return nil, j.PlanError(err)
	}
	return FromPlan(ctx, j, plan, ledgerPath, withChance)
}

// FromPlan is Explain of a plan already built from j (the plan a run
// releases with), so that the report describes that very plan.
func FromPlan(ctx context.Context, j *job.Job, plan *privacy.Plan, ledgerPath string, withChance bool) (*PlanReport, error) {
	spec := plan.Spec
	var err error
	r := &PlanReport{
		Job: j.Name, Dataset: j.Dataset, Purpose: j.Purpose, Noise: string(spec.Noise), K: spec.K,
		Epsilon: spec.Epsilon, Delta: spec.Delta, Spend: plan.Total,
		Split:    PlanSplit{Rule: splitRule(spec.Noise), DefaultSelectionShare: privacy.DefaultSelectionShare, DefaultObjective: privacy.SelectionShareRule},
		Gaussian: plan.Gaussian, Bounds: plan.Bounds,
	}
	outWeights := 0.0
	for _, o := range spec.Outputs {
		outWeights += o.Weight
	}
	for oi, op := range plan.Outputs {
		po := PlanOutput{Name: op.Spec.Name, GroupBy: op.Spec.GroupBy, L0: op.Spec.MaxPartitionsPerUnit, AutoL0: op.Spec.AutoL0, Public: op.Spec.PublicPartitions,
			Weight: op.Spec.Weight, Fraction: op.Spec.Weight / outWeights, Spend: op.Share}
		if op.Selection != nil {
			ps := &PlanSelection{Method: op.Selection.Method, Share: op.Spec.SelectionShare, Default: j.Outputs[oi].SelectionShareIsDefault(),
				Epsilon: op.Selection.Share.Epsilon, Delta: op.Selection.Share.Delta, K: op.Selection.K}
			if withChance && !op.Spec.AutoL0 {
				if ps.People50, ps.People95, err = op.ReleaseChance(spec.Noise); err != nil {
					return nil, err
				}
			}
			po.Selection = ps
		}
		metricWeights := 0.0
		for _, m := range op.Spec.Metrics {
			metricWeights += m.Weight
		}
		for i := range op.Metrics {
			mp := &op.Metrics[i]
			pm := PlanMetric{Name: mp.Spec.Name, Type: string(mp.Spec.Kind), Weight: mp.Spec.Weight, Fraction: mp.Spec.Weight / metricWeights,
				Epsilon: mp.Share.Epsilon, Delta: mp.Share.Delta,
				Mechanism: string(spec.Noise), Columns: mp.Columns}
			for _, c := range mp.Components {
				pm.Components = append(pm.Components, PlanComponent{Stat: c.Stat.String(), Epsilon: c.Share.Epsilon, Delta: c.Share.Delta,
					Rho: c.Rho(), L0: c.L0, LInf: c.LInf, Scale: c.StdDev, CI95: c.CI95, Comment: c.Comment})
				pm.Rho += c.Rho()
			}
			e := mp.Error()
			pm.StdDev, pm.CI95, pm.Note, pm.Axis = e.StdDev, e.CI95, e.Note, e.Axis
			pm.Auto = autoNames(mp.Spec.Auto)
			if op.Spec.AutoL0 || len(pm.Auto) > 0 {
				// The noise scales with bounds the run has yet to estimate.
				e.CI95At = nil
				pm.StdDev, pm.CI95 = 0, 0
				pm.Note = "set by the bounds the run estimates (auto)"
			}
			if e.CI95At != nil {
				pm.CI95ByPeople = map[string]float64{}
				for _, n := range PeopleScale {
					pm.CI95ByPeople[fmt.Sprint(n)] = e.CI95At(float64(n))
				}
			}
			po.Metrics = append(po.Metrics, pm)
		}
		r.Outputs = append(r.Outputs, po)
	}
	if ledgerPath != "" {
		r.Ledger = explainLedger(ctx, ledgerPath, j.Dataset, plan.Total)
	}
	return r, nil
}

// autoNames lists a metric's auto bounds by their job keys.
func autoNames(a privacy.MetricAuto) []string {
	var out []string
	if a.MaxPerUnit {
		out = append(out, "max_per_unit")
	}
	if a.Min {
		out = append(out, "min")
	}
	if a.Max {
		out = append(out, "max")
	}
	return out
}

// absOr returns path made absolute, or path itself if that fails.
func absOr(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func explainLedger(ctx context.Context, path, dataset string, spend privacy.Share) *PlanLedger {
	pl := &PlanLedger{Path: path}
	if _, err := os.Stat(path); err != nil {
		pl.Problem = "no ledger file yet: set a budget with " + hint.SetBudget(absOr(path), dataset)
		pl.Err = &privacy.BudgetError{Dataset: dataset, Reason: "the ledger " + path + " does not exist"}
		return pl
	}
	led, err := privacy.OpenLedger(path)
	if err != nil {
		pl.Problem = err.Error()
		return pl
	}
	st, err := led.Check(ctx, dataset, spend.Epsilon, spend.Delta)
	var be *privacy.BudgetError
	switch {
	case err == nil:
		pl.Fits = true
	case errors.As(err, &be):
		pl.Problem, pl.Err = be.Reason, be
	default:
		pl.Problem = err.Error()
	}
	if st.Dataset != "" {
		pl.Before = &st
		pl.After = afterSpend(st, spend)
	}
	return pl
}

// afterSpend is what remains of st after spend, computed exactly on the
// ledger's decimal amounts (1.5 - 1 is 0.5, not 0.49999999999999994).
func afterSpend(st privacy.BudgetStatus, spend privacy.Share) *PlanBudgetAfter {
	eps, err1 := privacy.AmountFromFloat(spend.Epsilon)
	delta, err2 := privacy.AmountFromFloat(spend.Delta)
	if err := errors.Join(err1, err2); err != nil {
		return nil // a spend NewPlan accepted is finite and >= 0
	}
	return &PlanBudgetAfter{
		EpsilonRemaining: st.EpsilonRemaining.Minus(eps).Float64(),
		DeltaRemaining:   st.DeltaRemaining.Minus(delta).Float64(),
	}
}
