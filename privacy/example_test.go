package privacy_test

import (
	"fmt"

	"github.com/privagg/privagg/privacy"
)

// A job's privacy section becomes a plan: how the budget is split between
// the outputs and their statistics, and how much noise each statistic gets.
// Nothing is read or spent: the plan is pure arithmetic.
func ExampleNewPlan() {
	plan, err := privacy.NewPlan(privacy.JobSpec{
		Epsilon: 1,
		Delta:   1e-6,
		Noise:   privacy.Laplace,
		K:       1,
		Outputs: []privacy.OutputSpec{{
			Name:                 "by_campaign",
			GroupBy:              []string{"campaign"},
			MaxPartitionsPerUnit: 2,
			PublicPartitions:     true,
			Weight:               1,
			Metrics: []privacy.MetricSpec{
				{Name: "people", Kind: privacy.CountUnits, Weight: 1},
				{Name: "revenue", Kind: privacy.Sum, Column: "revenue", Min: 0, Max: 100, Weight: 1},
			},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range plan.Outputs[0].Metrics {
		for _, c := range m.Components {
			fmt.Printf("%s (%s): epsilon %v, L0 %d, Linf %v, noise sd %.4g\n",
				m.Spec.Name, c.Stat, c.Share.Epsilon, c.L0, c.LInf, c.StdDev)
		}
	}
	fmt.Printf("total: epsilon %v, delta %v\n", plan.Total.Epsilon, plan.Total.Delta)
	// Output:
	// people (units): epsilon 0.5, L0 2, Linf 1, noise sd 5.657
	// revenue (sum): epsilon 0.5, L0 2, Linf 100, noise sd 565.7
	// total: epsilon 1, delta 0
}
