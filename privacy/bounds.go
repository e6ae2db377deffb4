package privacy

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Contribution bounds learned from the data, privately, and what bounding
// removes.
//
// A job's privacy.bounds_share of each output's epsilon (BoundsShare), taken
// from the output's metrics (selection keeps its share), goes to estimates
// made inside the run, after the budget is reserved and before any metric is
// noised. Per output, in equal parts (what was dropped three):
//
//   - a histogram of partitions per person (all of the output's partitions),
//     whose AutoL0Quantile gives an auto max_partitions_per_unit;
//   - with a count metric, a histogram of each person's largest number of
//     rows in one of its kept (person, partition) pairs, whose
//     AutoMaxPerUnitQuantile gives an auto max_per_unit;
//   - per measured column, a histogram of each person's largest |total| in
//     one of its kept pairs (with its sign), whose AutoValueQuantile of the
//     non-zero values gives auto min and max;
//   - what bounding dropped: noisy sums of the (person, partition) pairs,
//     rows and value mass kept, and of what L0, Linf and the clamp removed
//     (up to caps read off the histograms), over the partitions the metrics
//     are released on (the selected ones in two phases).
//
// Histograms are noised on every bucket of a fixed domain (CountBucket,
// ValueBucket) with the library's Laplace noise: one person changes one
// bucket by one. Quantiles read the cumulative noisy counts; the tops that
// cap the sums of what was dropped read only buckets above a threshold that
// a bucket without people passes with probability below 0.1%. All
// of it is post-processing of those noisy values: the chosen bounds, the
// dropped shares and the corrections of the released values.

const (
	// DefaultBoundsShare is the share of epsilon a job with an auto bound
	// spends on its estimates when privacy.bounds_share is not set
	// (benchmarks/UTILITY.md, "Auto bounds").
	DefaultBoundsShare = 0.1
	// MaxBoundsShare is the largest privacy.bounds_share.
	MaxBoundsShare = 0.5
	// AutoL0Quantile is the quantile of partitions per person an auto
	// max_partitions_per_unit takes.
	AutoL0Quantile = 0.4
	// AutoMaxPerUnitQuantile is the quantile of rows per kept (person,
	// partition) an auto max_per_unit takes.
	AutoMaxPerUnitQuantile = 0.9
	// AutoValueQuantile is the quantile of the non-zero per-person
	// partition totals that an auto max (and, for negative totals, min)
	// takes.
	AutoValueQuantile = 0.99
	// BiasMarginShare is the part of a correction that the interval adds on
	// top of the noise: the share dropped varies across partitions around
	// the output's estimate (measured: within a quarter of it on the demo
	// and utility data, benchmarks/UTILITY.md).
	BiasMarginShare = 0.25
	// histogramFalseBucket bounds the probability that any bucket of a
	// histogram without people passes its threshold.
	histogramFalseBucket = 0.001
)

// CheckBoundsShare is the rule of privacy.bounds_share.
func CheckBoundsShare(s float64, auto bool) error {
	if !(s >= 0 && s <= MaxBoundsShare) {
		return fmt.Errorf("must be in [0, %v]", MaxBoundsShare)
	}
	if auto && s == 0 {
		return errors.New("must be > 0 when a bound is auto (the estimates need budget)")
	}
	return nil
}

// HasAuto reports whether some bound of the job is auto.
func (s JobSpec) HasAuto() bool {
	for _, o := range s.Outputs {
		if o.HasAuto() {
			return true
		}
	}
	return false
}

// HasAuto reports whether some bound of the output is auto.
func (o OutputSpec) HasAuto() bool {
	if o.AutoL0 {
		return true
	}
	for _, m := range o.Metrics {
		if m.Auto.Any() {
			return true
		}
	}
	return false
}

// MeasuredColumns are the input columns the output's metrics measure, in
// metric order, each once.
func (o OutputSpec) MeasuredColumns() []string {
	var cols []string
	for _, m := range o.Metrics {
		if m.Column != "" && !slices.Contains(cols, m.Column) {
			cols = append(cols, m.Column)
		}
	}
	return cols
}

// countsRows reports whether the output has a metric bounded by
// max_per_unit.
func (o OutputSpec) countsRows() bool {
	for _, m := range o.Metrics {
		if k, ok := LookupMetric(m.Kind); ok && k.Fields().MaxPerUnit {
			return true
		}
	}
	return false
}

// BoundsPlan is the budget of a job's bound estimates: every output spends
// BoundsShare of its epsilon on them, taken from its metrics' part.
type BoundsPlan struct {
	Share   Share              `json:"share"` // all of it (epsilon only: Laplace noise)
	Outputs []OutputBoundsPlan `json:"outputs"`
}

// OutputBoundsPlan is the budget of one output's estimates: each an epsilon.
type OutputBoundsPlan struct {
	Output     string    `json:"output"`
	Share      Share     `json:"share"`
	Partitions float64   `json:"partitions_per_unit"`     // histogram of partitions per person
	Rows       float64   `json:"rows_per_pair,omitempty"` // histogram of rows per kept pair; 0 without a count
	Columns    []string  `json:"columns,omitempty"`       // measured columns, with
	Totals     []float64 `json:"totals,omitempty"`        // each column's histogram of kept totals
	Dropped    float64   `json:"dropped"`                 // the sums of what was kept and dropped, all together
}

// planOutputBounds splits eps, the output's share of the estimates,
// over its estimates: one part each, what was dropped three.
func planOutputBounds(o OutputSpec, eps float64) *OutputBoundsPlan {
	ob := &OutputBoundsPlan{Output: o.Name, Share: Share{Epsilon: eps}, Columns: o.MeasuredColumns()}
	units := []float64{1, 3} // partitions, dropped (the corrections rest on it)
	if o.countsRows() {
		units = append(units, 1)
	}
	for range ob.Columns {
		units = append(units, 1)
	}
	parts := splitByWeight(eps, units)
	ob.Partitions, ob.Dropped = parts[0], parts[1]
	next := 2
	if o.countsRows() {
		ob.Rows = parts[next]
		next++
	}
	ob.Totals = parts[next:]
	return ob
}

// collectBounds is the plan of a job's estimates, from its outputs'; nil
// when there are none.
func collectBounds(outs []OutputPlan) *BoundsPlan {
	var bp *BoundsPlan
	var eps []float64
	for _, op := range outs {
		if op.Bounds == nil {
			continue
		}
		if bp == nil {
			bp = &BoundsPlan{}
		}
		bp.Outputs = append(bp.Outputs, *op.Bounds)
		eps = append(eps, op.Bounds.Share.Epsilon)
	}
	if bp != nil {
		bp.Share = Share{Epsilon: ceilFloat(exactSum(eps))}
	}
	return bp
}

// leaves are the epsilons the estimates spend.
func (bp *BoundsPlan) leaves() []Share {
	var out []Share
	for i := range bp.Outputs {
		out = append(out, bp.Outputs[i].leaves()...)
	}
	return out
}

// leaves are the epsilons the output's estimates spend.
func (o *OutputBoundsPlan) leaves() []Share {
	out := []Share{{Epsilon: o.Partitions}, {Epsilon: o.Dropped}}
	if o.Rows > 0 {
		out = append(out, Share{Epsilon: o.Rows})
	}
	for _, t := range o.Totals {
		out = append(out, Share{Epsilon: t})
	}
	return out
}

// Histogram is the exact number of people (or kept pairs) per bucket, as an
// engine counts them: CountBucket or ValueBucket of each value.
type Histogram map[int64]int64

// Count buckets: every integer up to CountExact, then eight per doubling.
const (
	// CountExact is the largest count with a bucket of its own.
	CountExact = 32
	// CountBucketsPerOctave is the number of count buckets per doubling
	// above CountExact.
	CountBucketsPerOctave = 8
	// CountBucketMax is the last count bucket; larger counts fall in it.
	CountBucketMax = CountExact + 1 + CountBucketsPerOctave*25
)

// CountBucket is the histogram bucket of a count n >= 1: n itself up to
// CountExact, then 33 + floor(8 log2(n / 33)), at most CountBucketMax.
// Engines compute the same (their tests compare).
func CountBucket(n int64) int64 {
	if n <= CountExact {
		return max(n, 1)
	}
	b := CountExact + 1 + int64(math.Floor(CountBucketsPerOctave*math.Log2(float64(n)/(CountExact+1))))
	return min(b, CountBucketMax)
}

// countBucketTop is the largest count in bucket b (the last bucket's is
// that of its first octave: the bucket holds every larger count too).
func countBucketTop(b int64) int64 {
	if b <= CountExact {
		return b
	}
	top := int64(math.Ceil((CountExact+1)*math.Exp2(float64(b-CountExact)/CountBucketsPerOctave))) - 1
	for CountBucket(top) > b { // float rounding at a bucket's edge
		top--
	}
	for CountBucket(top+1) == b && b < CountBucketMax {
		top++
	}
	return top
}

// Value buckets: 0 for zero, else the sign times 1 + the octave of |x|
// (from 2^-20 to 2^40), so ValueBucketMax on either side.
const (
	// ValueBucketsPerOctave is the number of value buckets per doubling.
	ValueBucketsPerOctave = 1
	valuePerOctave        = ValueBucketsPerOctave
	valueLowest           = -20 * valuePerOctave
	// ValueBucketMax is the largest |bucket| of a value.
	ValueBucketMax = 60 * valuePerOctave
)

// ValueBucket is the histogram bucket of a per-person total x.
func ValueBucket(x float64) int64 {
	if x == 0 || math.IsNaN(x) {
		return 0
	}
	if math.IsInf(x, 0) {
		return int64(math.Copysign(ValueBucketMax, x))
	}
	k := int64(math.Floor(valuePerOctave * math.Log2(math.Abs(x))))
	k = min(max(k, valueLowest), valueLowest+ValueBucketMax-1)
	b := k - valueLowest + 1 // in [1, ValueBucketMax]
	if x < 0 {
		return -b
	}
	return b
}

// valueBucketTop is the upper end of value bucket b != 0: every |x| in it is
// below it.
func valueBucketTop(b int64) float64 {
	k := abs64(b) - 1 + valueLowest
	return math.Exp2(float64(k+1) / valuePerOctave)
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// noisyHist is a histogram with Laplace noise on every bucket of its
// domain: raw, the unbiased noisy counts (quantiles read their cumulative
// sums, where the noise of empty buckets cancels out), and threshold, the
// count above which a bucket holds people but with probability below
// histogramFalseBucket (the top of a distribution is read above it).
type noisyHist struct {
	raw       map[int64]float64
	threshold float64
	sd        float64 // of each bucket's noise
}

// noisyHistogram noises every bucket in [lo, hi] of h with Laplace noise for
// one person changing the buckets by sens in total.
func (e *estimator) noisyHistogram(h Histogram, lo, hi int64, sens, eps float64) (noisyHist, error) {
	if eps <= 0 {
		return noisyHist{}, errors.New("histogram: no budget")
	}
	scale := sens / eps
	out := noisyHist{raw: map[int64]float64{}, threshold: scale * math.Log(float64(hi-lo+1)/(2*histogramFalseBucket)), sd: math.Sqrt2 * scale}
	for b := lo; b <= hi; b++ {
		v, err := e.nz.AddNoiseFloat64(float64(h[b]), 1, sens, eps, 0)
		if err != nil {
			return noisyHist{}, err
		}
		out.raw[b] = v
	}
	return out, nil
}

// quantileBucket is the first bucket (in the order of buckets) at which the
// noisy counts reach q of their total; ok is false when the total is not
// clearly above the noise (fewer people than the noise of the sum could
// invent).
func (h noisyHist) quantileBucket(buckets []int64, q float64) (int64, bool) {
	total := 0.0
	for _, b := range buckets {
		total += h.raw[b]
	}
	if total <= 2*h.sd*math.Sqrt(float64(len(buckets))) {
		return 0, false
	}
	top, ok := h.topBucket(buckets)
	if !ok {
		return 0, false
	}
	acc := 0.0
	for _, b := range buckets {
		acc += h.raw[b]
		if acc >= q*total || b == top {
			return b, true
		}
	}
	return top, true
}

// topBucket is the last bucket at or above which the noisy counts add up
// to clearly more than their noise: more than three standard deviations of
// the sum of the buckets added, and more than the threshold of one bucket.
// Scanning the cumulative sums from the top lets the noise of empty buckets
// cancel out, so a single noisy bucket far out does not move it.
func (h noisyHist) topBucket(buckets []int64) (int64, bool) {
	acc := 0.0
	for i := len(buckets) - 1; i >= 0; i-- {
		acc += h.raw[buckets[i]]
		n := float64(len(buckets) - i)
		if acc >= h.threshold && acc >= 3*h.sd*math.Sqrt(n) {
			return buckets[i], true
		}
	}
	return 0, false
}

func bucketRange(lo, hi int64) []int64 {
	out := make([]int64, 0, hi-lo+1)
	for b := lo; b <= hi; b++ {
		out = append(out, b)
	}
	return out
}
