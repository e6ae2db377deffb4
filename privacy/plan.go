package privacy

import (
	"errors"
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
)

// Budget split (documented in README, "How the budget is split"):
//
//   - The job's (ε, δ) is split equally across outputs.
//   - Within an output whose keys are not all public, partition selection gets
//     half of the output's ε; the metrics share the other half equally. With
//     public partitions the metrics share all of it.
//   - Laplace noise uses no δ, so with Laplace all of the output's δ goes to
//     partition selection (and none is spent with public partitions). With
//     Gaussian noise selection gets half of δ and the metrics share the rest.
//   - Within a metric, its kind's Parts split the metric's share by weight:
//     mean in two (count, normalized sum) and variance in three (count,
//     normalized sum, normalized sum of squares), like the library's
//     BoundedMean and BoundedVariance.
//
// Sequential composition makes the total spent the sum of all shares, which is
// never more than the job's (ε, δ); NewPlan checks it with exact arithmetic.

// SelectionShare is the fraction of an output's ε (and, with Gaussian noise, δ)
// that goes to DP partition selection when keys come from the data.
const SelectionShare = 0.5

// Alpha is the significance level of the released _ci95 columns.
const Alpha = 0.05

// Share is a part of the privacy budget.
type Share struct {
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
}

// Component is one noised statistic of a metric: a Part with its budget
// and noise.
type Component struct {
	Stat    Statistic
	Share   Share   // budget of this statistic
	L0      int64   // partitions per unit
	LInf    float64 // per-partition contribution bound of one unit
	StdDev  float64 // standard deviation of the noise added
	CI95    float64 // half-width of the 95% confidence interval of the noise
	Comment string  // what the statistic is, for plan output
}

// MetricPlan says how one metric is released.
type MetricPlan struct {
	Spec       MetricSpec
	Share      Share
	Components []Component // one per Part of the metric's kind, in order
	Columns    []string    // released column names
}

// Metric is the kind of the metric.
func (mp *MetricPlan) Metric() Metric {
	m, _ := LookupMetric(mp.Spec.Kind) // NewPlan checked the kind
	return m
}

// Error is the expected error of the metric's released values.
func (mp *MetricPlan) Error() ErrorModel { return mp.Metric().Error(mp) }

// SelectionPlan says how partitions are selected when keys come from data.
type SelectionPlan struct {
	Share Share
	L0    int64
	K     int64 // pre-threshold
}

// OutputPlan is the release plan of one output.
type OutputPlan struct {
	Spec      OutputSpec
	Layout    StatLayout     // where the engine puts the statistics the metrics need
	Share     Share          // everything this output spends
	Selection *SelectionPlan // nil with public partitions
	Metrics   []MetricPlan
}

// Plan is a job's budget split and mechanisms. It reads no data.
type Plan struct {
	Spec    JobSpec
	Outputs []OutputPlan
	Total   Share // what the job spends; never more than (Spec.Epsilon, Spec.Delta)
}

// NewPlan validates spec and splits its budget.
func NewPlan(spec JobSpec) (*Plan, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	p := &Plan{Spec: spec}
	n := float64(len(spec.Outputs))
	outShare := Share{Epsilon: spec.Epsilon / n, Delta: spec.Delta / n}
	for _, o := range spec.Outputs {
		op, err := planOutput(spec, o, outShare)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		p.Outputs = append(p.Outputs, op)
		p.Total.Epsilon += op.Share.Epsilon
		p.Total.Delta += op.Share.Delta
	}
	// Float division and re-summation can round up by an ulp; the charge must
	// never exceed what the job declared.
	p.Total.Epsilon = math.Min(p.Total.Epsilon, spec.Epsilon)
	p.Total.Delta = math.Min(p.Total.Delta, spec.Delta)
	if err := p.checkScale(); err != nil {
		return nil, err
	}
	return p, nil
}

func planOutput(spec JobSpec, o OutputSpec, share Share) (OutputPlan, error) {
	op := OutputPlan{Spec: o}
	var err error
	if op.Layout, err = o.Layout(); err != nil {
		return OutputPlan{}, err
	}
	metricShare := share
	if !o.PublicPartitions {
		sel := Share{Epsilon: share.Epsilon * SelectionShare, Delta: share.Delta}
		metricShare = Share{Epsilon: share.Epsilon - sel.Epsilon, Delta: 0}
		if spec.Noise == Gaussian {
			sel.Delta = share.Delta * SelectionShare
			metricShare.Delta = share.Delta - sel.Delta
		}
		op.Selection = &SelectionPlan{Share: sel, L0: o.MaxPartitionsPerUnit, K: spec.K}
		op.Share = sel
	} else if spec.Noise == Laplace {
		metricShare.Delta = 0
	}
	m := float64(len(o.Metrics))
	each := Share{Epsilon: metricShare.Epsilon / m, Delta: metricShare.Delta / m}
	for _, ms := range o.Metrics {
		mp, err := planMetric(spec.Noise, o.MaxPartitionsPerUnit, ms, each)
		if err != nil {
			return OutputPlan{}, fmt.Errorf("metric %q: %w", ms.Name, err)
		}
		op.Metrics = append(op.Metrics, mp)
		op.Share.Epsilon += each.Epsilon
		op.Share.Delta += each.Delta
	}
	return op, nil
}

func planMetric(kind NoiseKind, l0 int64, ms MetricSpec, share Share) (MetricPlan, error) {
	mp := MetricPlan{Spec: ms, Share: share}
	m, ok := LookupMetric(ms.Kind)
	if !ok {
		return mp, fmt.Errorf("unknown metric type %q", ms.Kind)
	}
	parts := m.Parts(ms)
	total := 0
	for _, p := range parts {
		total += p.Weight
	}
	var errs []error
	for _, p := range parts {
		// share / total * weight: exactly share / parts for equal parts, as
		// the library splits.
		w, t := float64(p.Weight), float64(total)
		c := Component{
			Stat:    p.Stat,
			Share:   Share{Epsilon: share.Epsilon / t * w, Delta: share.Delta / t * w},
			L0:      l0,
			LInf:    p.Stat.Sensitivity(needOf(p.Stat, ms)),
			Comment: p.Comment,
		}
		var err error
		if c.StdDev, c.CI95, err = noiseStats(kind, c.L0, c.LInf, c.Share); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Stat, err))
		}
		mp.Components = append(mp.Components, c)
	}
	for _, c := range m.Columns(ms) {
		mp.Columns = append(mp.Columns, c.Name)
	}
	return mp, errors.Join(errs...)
}

// noiseStats returns the standard deviation and the 95% half-width of the
// noise the library adds for these parameters.
func noiseStats(kind NoiseKind, l0 int64, linf float64, s Share) (stddev, ci95 float64, err error) {
	nz := kind.noise()
	if linf <= 0 {
		return 0, 0, fmt.Errorf("sensitivity %v must be > 0 (min and max must differ)", linf)
	}
	if !(linf <= MaxScale) {
		return math.Inf(1), math.Inf(1), nil // NewPlan refuses it (checkScale)
	}
	ci, err := nz.ComputeConfidenceIntervalFloat64(0, l0, linf, s.Epsilon, s.Delta, Alpha)
	if err != nil {
		return 0, 0, err
	}
	switch kind {
	case Gaussian:
		stddev = noise.SigmaForGaussian(l0, linf, s.Epsilon, s.Delta)
	default:
		stddev = math.Sqrt2 * float64(l0) * linf / s.Epsilon
	}
	return stddev, (ci.UpperBound - ci.LowerBound) / 2, nil
}

func (k NoiseKind) noise() noise.Noise {
	if k == Gaussian {
		return noise.Gaussian()
	}
	return noise.Laplace()
}

func (s JobSpec) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !(s.Epsilon > 0) || math.IsInf(s.Epsilon, 0) {
		bad("privacy.epsilon: %v must be > 0 and finite", s.Epsilon)
	}
	if !(s.Delta >= 0 && s.Delta < 1) {
		bad("privacy.delta: %v must be in [0, 1)", s.Delta)
	}
	if !s.Noise.Valid() {
		bad("privacy.noise: %q must be laplace or gaussian", s.Noise)
	}
	if s.Noise == Gaussian && s.Delta <= 0 {
		bad("privacy.delta: %v must be > 0 with gaussian noise", s.Delta)
	}
	if s.K < 1 {
		bad("privacy.k: %d must be >= 1", s.K)
	}
	if len(s.Outputs) == 0 {
		bad("outputs: at least one output is required")
	}
	for i, o := range s.Outputs {
		p := fmt.Sprintf("outputs[%d]", i)
		if o.MaxPartitionsPerUnit < 1 {
			bad("%s.max_partitions_per_unit: %d must be >= 1", p, o.MaxPartitionsPerUnit)
		}
		if !o.PublicPartitions && s.Delta <= 0 {
			bad("privacy.delta: %v must be > 0 when %s selects partitions from data (no public_partitions for every group_by column)", s.Delta, p)
		}
		if len(o.Metrics) == 0 {
			bad("%s.metrics: at least one metric is required", p)
		}
		for j, m := range o.Metrics {
			for _, fp := range CheckMetric(m) {
				key := fmt.Sprintf("%s.metrics[%d]", p, j)
				if fp.Field != "" {
					key += "." + fp.Field
				}
				if fp.Value != nil {
					bad("%s: %v %s", key, fp.Value, fp.Rule)
				} else {
					bad("%s: %s", key, fp.Rule)
				}
			}
		}
	}
	return errors.Join(errs...)
}
