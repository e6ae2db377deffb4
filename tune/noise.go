package tune

import (
	"fmt"
	"math"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// Noise is the expected noise error of a metric's released values, from
// the plan's error model (privacy.MetricPlan.Error: the numbers `privagg
// plan` prints).
type Noise struct {
	StdDev float64 `json:"stddev,omitempty"` // where it is the same in every row
	CI95   float64 `json:"ci95,omitempty"`   // 95% half-width: in every row, or in a row of AtPeople people
	// AtPeople is set where the error shrinks with the people in a row
	// (mean, variance, stddev): CI95 is then for a row of that many people.
	AtPeople int64  `json:"at_people,omitempty"`
	Note     string `json:"note,omitempty"` // where neither applies (quantiles)
}

// value is the 95% half-width, or NaN where the model has none.
func (n Noise) value() float64 {
	if n.CI95 > 0 {
		return n.CI95
	}
	return math.NaN()
}

// metricNoise is the plan's error model of metric m of output o of j, with
// m's fields and the output's L0 replaced by the candidate's, when the
// metric's share of the budget is share. atPeople is the row size for
// errors that shrink with the people in a row.
//
// The plan is privacy.NewPlan's, on a copy of the job with this output and
// metric alone: such a plan gives the metric a fixed fraction of the job's
// (ε, δ) (what selection leaves), so the copy's budget is scaled by that
// fraction to give the metric exactly share.
func metricNoise(j *job.Job, o int, m job.Metric, l0 int64, share privacy.Share, atPeople int64) (Noise, error) {
	c := *j
	out := j.Outputs[o]
	out.MaxPartitionsPerUnit = l0
	out.Metrics = []job.Metric{m}
	c.Outputs = []job.Output{out}
	c.Privacy.Epsilon = 1
	unit, err := privacy.NewPlan(c.PrivacySpec())
	if err != nil {
		return Noise{}, err
	}
	ms := unit.Outputs[0].Metrics[0].Share
	c.Privacy.Epsilon = share.Epsilon / ms.Epsilon
	if ms.Delta > 0 {
		c.Privacy.Delta = j.Privacy.Delta * share.Delta / ms.Delta
	}
	plan, err := privacy.NewPlan(c.PrivacySpec())
	if err != nil {
		return Noise{}, err
	}
	e := plan.Outputs[0].Metrics[0].Error()
	switch {
	case e.CI95At != nil:
		return Noise{CI95: e.CI95At(float64(atPeople)), AtPeople: atPeople}, nil
	case e.CI95 > 0:
		return Noise{StdDev: e.StdDev, CI95: e.CI95}, nil
	}
	return Noise{Note: e.Note}, nil
}

// Budget is how a job's (ε, δ) reaches one output's selection and metrics:
// the output's share by output weight, the selection share, and each
// metric's share by metric weight.
type Budget struct {
	Epsilon, Delta float64 // the job's
	Gaussian       bool    // the job's noise: with Gaussian noise selection gets privacy.SelectionDeltaShare of δ
	OutputWeight   float64 // this output's weight
	OutputWeights  float64 // the sum of the job's output weights
	SelectionShare float64 // 0 with public partitions
	MetricWeights  []float64
	// Rest is, with Gaussian noise, the part of the job's Gaussian
	// composition outside this output (see NoiseShare).
	Rest privacy.Share
}

// Output is the output's share of the job's budget.
func (b Budget) Output() privacy.Share {
	f := b.OutputWeight / b.OutputWeights
	return privacy.Share{Epsilon: b.Epsilon * f, Delta: b.Delta * f}
}

// Selection is the selection's share.
func (b Budget) Selection() privacy.Share {
	o := b.Output()
	s := privacy.Share{Epsilon: o.Epsilon * b.SelectionShare, Delta: o.Delta}
	switch {
	case b.SelectionShare == 0: // public partitions: nothing to select
		s.Delta = 0
	case b.Gaussian:
		s.Delta = o.Delta * privacy.SelectionDeltaShare
	}
	return s
}

// Metric is metric i's share.
func (b Budget) Metric(i int) privacy.Share {
	o, sel := b.Output(), b.Selection()
	total := 0.0
	for _, w := range b.MetricWeights {
		total += w
	}
	f := b.MetricWeights[i] / total
	s := privacy.Share{Epsilon: (o.Epsilon - sel.Epsilon) * f}
	if b.Gaussian {
		s.Delta = (o.Delta - sel.Delta) * f
	}
	return s
}

// NoiseShare is the share metric i's noise is modelled with: its share,
// or with Gaussian noise the share that, noised alone, has the noise the
// metric gets in the job's Gaussian composition (privacy.GaussianEquivalent),
// the composition being Rest and this output's metric budget.
func (b Budget) NoiseShare(i int) (privacy.Share, error) {
	s := b.Metric(i)
	if !b.Gaussian {
		return s, nil
	}
	o, sel := b.Output(), b.Selection()
	block := privacy.Share{Epsilon: b.Rest.Epsilon + o.Epsilon - sel.Epsilon, Delta: b.Rest.Delta + o.Delta - sel.Delta}
	return privacy.GaussianEquivalent(block, s)
}

// check validates the budget's shares.
func (b Budget) check() error {
	if !(b.SelectionShare >= 0 && b.SelectionShare < 1) {
		return fmt.Errorf("selection share %v must be in [0, 1)", b.SelectionShare)
	}
	if !(b.OutputWeight > 0) || !(b.OutputWeights >= b.OutputWeight) {
		return fmt.Errorf("output weight %v of %v must be > 0", b.OutputWeight, b.OutputWeights)
	}
	for _, w := range b.MetricWeights {
		if !(w > 0) {
			return fmt.Errorf("metric weight %v must be > 0", w)
		}
	}
	return nil
}
