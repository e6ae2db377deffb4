package privacy

import (
	"errors"
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
)

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
	Stat  Statistic
	Share Share // budget of this statistic
	// Noise is, under Gaussian composition (compose.go), the (ε, δ) the
	// library draws the noise with; zero otherwise (see NoiseShare).
	Noise   Share
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
	Method SelectionMethod
	Share  Share // with SelectCountThreshold: no ε, the threshold's δ
	L0     int64
	K      int64 // pre-threshold
	// Metric is, with SelectCountThreshold, the index of the count_units
	// metric whose noised value is thresholded.
	Metric int
}

// twoPhase reports whether the output selects its keys in a phase of its
// own (SelectPartitions) before its metrics are released.
func (op *OutputPlan) twoPhase() bool {
	return op.Selection != nil && op.Selection.Method != SelectCountThreshold
}

// ReleaseChance returns the smallest numbers of distinct people a partition
// needs to be released with probability at least 50% and at least 95%
// under the selection of op. It reads no data and spends no budget.
func (op *OutputPlan) ReleaseChance(kind NoiseKind) (p50, p95 int64, err error) {
	sel := op.Selection
	if sel == nil {
		return 0, 0, errors.New("release chance: the output's keys are public")
	}
	if sel.Method == SelectCountThreshold {
		return thresholdReleaseChance(sel, op.Metrics[sel.Metric].Components[0], kind)
	}
	return sel.ReleaseChance()
}

// OutputPlan is the release plan of one output.
type OutputPlan struct {
	Spec      OutputSpec
	Layout    StatLayout     // where the engine puts the statistics the metrics need
	Share     Share          // everything this output spends
	Selection *SelectionPlan // nil with public partitions
	Metrics   []MetricPlan
	// Bounds is the budget of the output's bound estimates (bounds.go);
	// nil when the job's bounds_share is 0.
	Bounds *OutputBoundsPlan
}

// Plan is a job's budget split and mechanisms. It reads no data.
type Plan struct {
	Spec    JobSpec
	Outputs []OutputPlan
	Total   Share // what the job spends; never more than (Spec.Epsilon, Spec.Delta)
	// Gaussian is, with Gaussian noise, the composition of the job's
	// Gaussian-noised components (compose.go); nil with Laplace noise.
	Gaussian *GaussianBlock
	// Bounds is the budget of the private bound estimates (bounds.go); nil
	// when the job's bounds_share is 0.
	Bounds *BoundsPlan
}

// NewPlan validates spec and splits its budget (see splitByWeight and the
// rule above it).
func NewPlan(spec JobSpec) (*Plan, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	p := &Plan{Spec: spec}
	weights := make([]float64, len(spec.Outputs))
	for i, o := range spec.Outputs {
		weights[i] = o.Weight
	}
	var leaves []Share
	eps := splitByWeight(spec.Epsilon, weights)
	del := splitByWeight(spec.Delta, weights)
	for i, o := range spec.Outputs {
		op, err := planOutput(spec, o, Share{Epsilon: eps[i], Delta: del[i]})
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		p.Outputs = append(p.Outputs, op)
		leaves = append(leaves, op.leaves()...)
	}
	p.Bounds = collectBounds(p.Outputs)
	p.Total = ceilSum(leaves)
	// splitByWeight never lets parts exceed their whole, so this cannot
	// happen; the charge must never exceed what the job declared.
	if p.Total.Epsilon > spec.Epsilon || p.Total.Delta > spec.Delta {
		return nil, fmt.Errorf("budget split spends (%v, %v), more than the job's (%v, %v)",
			p.Total.Epsilon, p.Total.Delta, spec.Epsilon, spec.Delta)
	}
	if spec.Noise == Gaussian {
		if err := composeGaussian(p); err != nil {
			return nil, err
		}
	}
	if err := p.checkScale(); err != nil {
		return nil, err
	}
	return p, nil
}

// leaves are the shares the output spends: its selection and every metric
// component.
func (op *OutputPlan) leaves() []Share {
	var out []Share
	if op.Bounds != nil {
		out = append(out, op.Bounds.leaves()...)
	}
	if op.Selection != nil {
		out = append(out, op.Selection.Share)
	}
	for _, m := range op.Metrics {
		for _, c := range m.Components {
			out = append(out, c.Share)
		}
	}
	return out
}

// ceilSum is the exact sum of shares, each part rounded up to a float64.
func ceilSum(shares []Share) Share {
	eps := make([]float64, len(shares))
	del := make([]float64, len(shares))
	for i, s := range shares {
		eps[i], del[i] = s.Epsilon, s.Delta
	}
	return Share{Epsilon: ceilFloat(exactSum(eps)), Delta: ceilFloat(exactSum(del))}
}

func planOutput(spec JobSpec, o OutputSpec, share Share) (OutputPlan, error) {
	op := OutputPlan{Spec: o}
	var err error
	if op.Layout, err = o.Layout(); err != nil {
		return OutputPlan{}, err
	}
	metricShare := share
	switch {
	case !o.PublicPartitions && o.Selection == SelectCountThreshold:
		// No ε for selection: the count_units metric's noised value is
		// thresholded, spending the selection δ (all of it with Laplace).
		sel := Share{Delta: share.Delta}
		metricShare = Share{Epsilon: share.Epsilon}
		if spec.Noise == Gaussian {
			d := splitByWeight(share.Delta, []float64{SelectionDeltaShare, 1 - SelectionDeltaShare})
			sel.Delta, metricShare.Delta = d[0], d[1]
		}
		op.Selection = &SelectionPlan{Method: SelectCountThreshold, Share: sel, L0: o.MaxPartitionsPerUnit, K: spec.K, Metric: o.countUnitsMetric()}
	case !o.PublicPartitions:
		e := splitByWeight(share.Epsilon, []float64{o.SelectionShare, 1 - o.SelectionShare})
		sel := Share{Epsilon: e[0], Delta: share.Delta}
		metricShare = Share{Epsilon: e[1], Delta: 0}
		if spec.Noise == Gaussian {
			d := splitByWeight(share.Delta, []float64{SelectionDeltaShare, 1 - SelectionDeltaShare})
			sel.Delta, metricShare.Delta = d[0], d[1]
		}
		op.Selection = &SelectionPlan{Method: SelectTwoPhase, Share: sel, L0: o.MaxPartitionsPerUnit, K: spec.K}
	case spec.Noise == Laplace:
		metricShare.Delta = 0
	}
	if spec.BoundsShare > 0 {
		// The estimates take their share of the output's epsilon from the
		// metrics: selection keeps its share (validate checks that the
		// two leave the metrics some).
		e := splitByWeight(metricShare.Epsilon, []float64{spec.BoundsShare * share.Epsilon, metricShare.Epsilon - spec.BoundsShare*share.Epsilon})
		op.Bounds = planOutputBounds(o, e[0])
		metricShare.Epsilon = e[1]
	}
	weights := make([]float64, len(o.Metrics))
	for i, ms := range o.Metrics {
		weights[i] = ms.Weight
	}
	eps := splitByWeight(metricShare.Epsilon, weights)
	del := splitByWeight(metricShare.Delta, weights)
	for i, ms := range o.Metrics {
		mp, err := planMetric(spec.Noise, o.MaxPartitionsPerUnit, ms, Share{Epsilon: eps[i], Delta: del[i]})
		if err != nil {
			return OutputPlan{}, fmt.Errorf("metric %q: %w", ms.Name, err)
		}
		op.Metrics = append(op.Metrics, mp)
	}
	op.Share = ceilSum(op.leaves())
	return op, nil
}

func planMetric(kind NoiseKind, l0 int64, ms MetricSpec, share Share) (MetricPlan, error) {
	mp := MetricPlan{Spec: ms, Share: share}
	m, ok := LookupMetric(ms.Kind)
	if !ok {
		return mp, fmt.Errorf("unknown metric type %q", ms.Kind)
	}
	parts := m.Parts(ms)
	weights := make([]float64, len(parts))
	for i, p := range parts {
		weights[i] = float64(p.Weight)
	}
	// Equal parts get exactly share / parts, as the library splits.
	eps := splitByWeight(share.Epsilon, weights)
	del := splitByWeight(share.Delta, weights)
	var errs []error
	for i, p := range parts {
		c := Component{
			Stat:    p.Stat,
			Share:   Share{Epsilon: eps[i], Delta: del[i]},
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

// validate returns a *SpecError listing every rule spec breaks, nil if
// none.
func (s JobSpec) validate() error {
	e := &SpecError{}
	bad := func(output, metric int, field string, value any, err error) {
		e.Problems = append(e.Problems, SpecProblem{Output: output, Metric: metric, Field: field, Value: value, Rule: err.Error(), Err: err})
	}
	job := func(field string, value any, rule string) { bad(-1, -1, field, value, errors.New(rule)) }
	if !(s.Epsilon > 0) || math.IsInf(s.Epsilon, 0) {
		job("epsilon", s.Epsilon, "must be > 0 and finite")
	}
	if !(s.Delta >= 0 && s.Delta < 1) {
		job("delta", s.Delta, "must be in [0, 1)")
	}
	if !s.Noise.Valid() {
		job("noise", string(s.Noise), "must be laplace or gaussian")
	}
	if s.Noise == Gaussian && s.Delta <= 0 {
		job("delta", s.Delta, "must be > 0 with gaussian noise")
	}
	if s.K < 1 {
		job("k", s.K, "must be >= 1")
	}
	if err := CheckBoundsShare(s.BoundsShare, s.HasAuto()); err != nil {
		bad(-1, -1, "bounds_share", s.BoundsShare, err)
	}
	if len(s.Outputs) == 0 {
		job("outputs", nil, "at least one output is required")
	}
	for i, o := range s.Outputs {
		out := func(field string, value any, rule string) { bad(i, -1, field, value, errors.New(rule)) }
		if o.MaxPartitionsPerUnit < 1 {
			out("max_partitions_per_unit", o.MaxPartitionsPerUnit, "must be >= 1")
		}
		if err := CheckWeight(o.Weight); err != nil {
			bad(i, -1, "weight", o.Weight, err)
		}
		o.CheckSelection(func(field string, value any, err error) { bad(i, -1, field, value, err) })
		s.CheckConsistency(i, func(field string, value any, err error) { bad(i, -1, field, value, err) })
		if s.BoundsShare > 0 && !o.PublicPartitions && o.Selection != SelectCountThreshold && o.SelectionShare+s.BoundsShare >= 0.95 {
			out("selection_share", o.SelectionShare, fmt.Sprintf("with a bounds share of %v must leave the metrics at least 0.05 of the output's epsilon", s.BoundsShare))
		}
		if !o.PublicPartitions && s.Delta <= 0 {
			job("delta", s.Delta, fmt.Sprintf("must be > 0 when output %q selects its partitions from the data (no public partitions for every group-by column)", o.Name))
		}
		if len(o.Metrics) == 0 {
			out("metrics", nil, "at least one metric is required")
		}
		for j, m := range o.Metrics {
			if err := CheckWeight(m.Weight); err != nil {
				bad(i, j, "weight", m.Weight, err)
			}
			for _, fp := range CheckMetric(m) {
				bad(i, j, fp.Field, fp.Value, errors.New(fp.Rule))
			}
		}
	}
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}
