package privacy

import (
	"errors"
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
)

// estimator draws the noise of the bound estimates: always the library's
// Laplace noise (pure epsilon), whatever the job's noise kind.
type estimator struct{ nz noise.Noise }

// Bound is one contribution bound as the release used it.
type Bound struct {
	Value float64 `json:"value"`
	// Auto says the value was estimated privately from the data; Quantile
	// is then the quantile it took (0 when too few people passed the
	// histogram's threshold and the fallback was used).
	Auto     bool    `json:"auto"`
	Quantile float64 `json:"quantile,omitempty"`
}

// MetricBounds are the bounds of one metric (zero Bound where the kind has
// none).
type MetricBounds struct {
	Metric     string `json:"metric"`
	MaxPerUnit *Bound `json:"max_per_unit,omitempty"`
	Min        *Bound `json:"min,omitempty"`
	Max        *Bound `json:"max,omitempty"`
}

// Dropped is a DP estimate of what contribution bounding removed from an
// output: shares in [0, 1] of what the released partitions had before
// bounding, each up to the cap its estimate counted to (what lies beyond a
// cap is not seen).
type Dropped struct {
	// Pairs is the share of (person, partition) pairs that L0 removed.
	Pairs float64 `json:"pairs"`
	// Rows is the share of rows that L0 and max_per_unit removed (with a
	// count metric).
	Rows *float64 `json:"rows,omitempty"`
	// Mass is, per measured column, the share of the value mass (sum of
	// |total|) that L0 and the clamp removed.
	Mass map[string]float64 `json:"mass,omitempty"`
	// Caps are the largest partitions per person, rows per pair and |total|
	// counted.
	PairsCap int64              `json:"pairs_cap"`
	RowsCap  int64              `json:"rows_cap,omitempty"`
	MassCap  map[string]float64 `json:"mass_cap,omitempty"`
}

// OutputBounds is what an output's estimates chose and found.
type OutputBounds struct {
	Epsilon float64        `json:"epsilon"` // what the estimates of this output spent
	L0      Bound          `json:"max_partitions_per_unit"`
	Metrics []MetricBounds `json:"metrics"`
	Dropped *Dropped       `json:"dropped,omitempty"`
}

// Bias is how a released metric was corrected for what bounding removed.
type Bias struct {
	// DroppedShare is the estimated share of the metric's true value that
	// bounding removed.
	DroppedShare float64 `json:"dropped_share"`
	// Corrected says the released values were divided by (1 -
	// DroppedShare), and Margin (relative to the corrected value) added to
	// the half-width of their interval: BiasMarginShare of the correction
	// plus twice the relative standard deviation of the estimate. It is
	// false when the estimate was too noisy to correct with (its relative
	// standard deviation above 0.5): the value is then as bounded, and
	// its interval covers the noise only.
	Corrected bool    `json:"corrected"`
	Margin    float64 `json:"margin,omitempty"`
}

// outputEstimates is the Releaser's state of one output's estimates.
type outputEstimates struct {
	partitions noisyHist // of partitions per person
	caps       DroppedCaps
	bounds     OutputBounds
	bias       []*Bias // per metric; nil where not estimated or not corrected
}

// DroppedCaps are what an engine needs to compute DroppedSums: the bounds in
// force and the caps up to which the sums count.
type DroppedCaps struct {
	L0, PairsCap      int64
	MaxPerUnit        int64 // the row bound of the output's count metrics (0 without)
	RowsCap           int64
	Columns           []string
	Min, Max, MassCap []float64 // per column: the clamp of its first metric, the cap of |total|
}

// DroppedSums are the exact sums an engine computes over the released
// partitions of an output (the selected ones in two phases). Per person, m
// is the number of its partitions among them, and the person is heavy when
// m > L0 (bounding dropped some of its pairs); per kept (person, partition)
// pair, n is its rows and t its total of each measured column.
//
// A heavy person's dropped pairs are a uniformly random subset of its pairs
// (the bounding's order is random per person), so their rows and values
// are, on average, those of its kept pairs: what L0 dropped is estimated as
// the dropped pairs times the heavy people's rows (or value) per kept pair.
type DroppedSums struct {
	PairsKept    float64 // Σ min(m, L0)
	PairsDropped float64 // Σ min(m, PairsCap) − min(m, L0)
	HeavyPairs   float64 // Σ over heavy people of their kept pairs (L0 each)
	RowsKept     float64 // Σ over kept pairs min(n, MaxPerUnit)
	RowsClamped  float64 // Σ over kept pairs min(n, RowsCap) − min(n, MaxPerUnit)
	HeavyRows    float64 // Σ over heavy people's kept pairs min(n, RowsCap)
	// Per measured column:
	MassKept    []float64 // Σ over kept pairs |clamp(t, Min, Max)|
	MassClamped []float64 // Σ over kept pairs max(min(|t|, MassCap) − |clamp(t, Min, Max)|, 0)
	HeavyMass   []float64 // Σ over heavy people's kept pairs min(|t|, MassCap)
}

// EstimatePartitions takes output name's exact histogram of partitions per
// person (CountBucket of each person's number of partitions of the output,
// all of them) and returns the L0 to bound with: the auto estimate, or the
// job's value. It must be called first for an output with estimates.
func (r *Releaser) EstimatePartitions(name string, h Histogram) (int64, error) {
	i, ob, err := r.boundsOf(name)
	if err != nil {
		return 0, err
	}
	if r.estimates[name] != nil {
		return 0, fmt.Errorf("estimate output %q: partitions already estimated", name)
	}
	noisy, err := r.est.noisyHistogram(h, 1, CountBucketMax, 1, ob.Partitions)
	if err != nil {
		return 0, fmt.Errorf("estimate output %q: partitions per person: %w", name, err)
	}
	spec := r.plan.Outputs[i].Spec
	st := &outputEstimates{partitions: noisy, bias: make([]*Bias, len(spec.Metrics))}
	st.bounds.Epsilon = ob.Share.Epsilon
	l0 := Bound{Value: float64(spec.MaxPartitionsPerUnit)}
	buckets := bucketRange(1, CountBucketMax)
	if spec.AutoL0 {
		l0 = Bound{Value: 1, Auto: true}
		if b, ok := noisy.quantileBucket(buckets, AutoL0Quantile); ok {
			l0 = Bound{Value: float64(countBucketTop(b)), Auto: true, Quantile: AutoL0Quantile}
		}
	}
	st.bounds.L0 = l0
	st.caps.L0 = int64(l0.Value)
	st.caps.PairsCap = dropCap(st.caps.L0, noisy, buckets, pairsCapFactor)
	r.estimates[name] = st
	return st.caps.L0, nil
}

// EstimateValues takes output name's exact histograms over the people's
// kept (person, partition) pairs after L0 bounding, one value per person:
// its largest number of rows in a pair (CountBucket; nil without a count
// metric) and, per measured column, its largest |total| in a pair, with
// its sign (ValueBucket; people without a value left out). It chooses the auto max_per_unit, min and max, plans the
// output with the bounds in force and returns that plan: the engine
// computes the output's statistics in its Layout.
func (r *Releaser) EstimateValues(name string, rows Histogram, totals map[string]Histogram) (*OutputPlan, error) {
	i, ob, err := r.boundsOf(name)
	if err != nil {
		return nil, err
	}
	st := r.estimates[name]
	if st == nil || st.bounds.Metrics != nil {
		return nil, fmt.Errorf("estimate output %q: values must be estimated once, after the partitions", name)
	}
	spec := r.plan.Outputs[i].Spec
	countBuckets := bucketRange(1, CountBucketMax)
	var linf *Bound
	var rowsNoisy noisyHist
	if ob.Rows > 0 {
		if rowsNoisy, err = r.est.noisyHistogram(rows, 1, CountBucketMax, 1, ob.Rows); err != nil {
			return nil, fmt.Errorf("estimate output %q: rows per pair: %w", name, err)
		}
		linf = &Bound{Value: 1, Auto: true}
		if b, ok := rowsNoisy.quantileBucket(countBuckets, AutoMaxPerUnitQuantile); ok {
			linf = &Bound{Value: float64(countBucketTop(b)), Auto: true, Quantile: AutoMaxPerUnitQuantile}
		}
	}
	type clamp struct{ lo, hi *Bound }
	clamps := map[string]clamp{}
	st.caps.Columns = ob.Columns
	for c, col := range ob.Columns {
		noisy, err := r.est.noisyHistogram(totals[col], -ValueBucketMax, ValueBucketMax, 1, ob.Totals[c])
		if err != nil {
			return nil, fmt.Errorf("estimate output %q: totals of %q: %w", name, col, err)
		}
		pos, neg := bucketRange(1, ValueBucketMax), bucketRange(1, ValueBucketMax)
		for k := range neg {
			neg[k] = -neg[k]
		}
		hi := &Bound{Value: 1, Auto: true}
		if b, ok := noisy.quantileBucket(pos, AutoValueQuantile); ok {
			hi = &Bound{Value: roundBound(valueBucketTop(b)), Auto: true, Quantile: AutoValueQuantile}
		}
		lo := &Bound{Value: 0, Auto: true}
		if b, ok := noisy.quantileBucket(neg, AutoValueQuantile); ok {
			lo = &Bound{Value: -roundBound(valueBucketTop(b)), Auto: true, Quantile: AutoValueQuantile}
		}
		capped := math.Max(hi.Value, -lo.Value)
		for _, side := range [][]int64{pos, neg} {
			if b, ok := noisy.topBucket(side); ok {
				capped = math.Max(capped, valueBucketTop(b))
			}
		}
		st.caps.MassCap = append(st.caps.MassCap, massCapFactor*capped)
		clamps[col] = clamp{lo, hi}
	}
	resolved := spec
	resolved.MaxPartitionsPerUnit = st.caps.L0
	resolved.Metrics = append([]MetricSpec(nil), spec.Metrics...)
	st.caps.Min = make([]float64, len(ob.Columns))
	st.caps.Max = make([]float64, len(ob.Columns))
	seen := map[string]bool{}
	for j := range resolved.Metrics {
		ms := &resolved.Metrics[j]
		mb := MetricBounds{Metric: ms.Name}
		kind, ok := LookupMetric(ms.Kind)
		if !ok {
			return nil, fmt.Errorf("estimate output %q: metric %q: unknown type %q", name, ms.Name, ms.Kind)
		}
		fields := kind.Fields()
		if fields.MaxPerUnit {
			b := Bound{Value: float64(ms.MaxPerUnit)}
			if ms.Auto.MaxPerUnit && linf != nil {
				b = *linf
				ms.MaxPerUnit = int64(b.Value)
			}
			mb.MaxPerUnit = &b
			if st.caps.MaxPerUnit == 0 {
				st.caps.MaxPerUnit = ms.MaxPerUnit
			}
		}
		if fields.Measure {
			cl := clamps[ms.Column]
			lo, hi := Bound{Value: ms.Min}, Bound{Value: ms.Max}
			if ms.Auto.Min && cl.lo != nil {
				lo = *cl.lo
			}
			if ms.Auto.Max && cl.hi != nil {
				hi = *cl.hi
			}
			if !(hi.Value > lo.Value) {
				hi.Value = lo.Value + 1
			}
			ms.Min, ms.Max = lo.Value, hi.Value
			mb.Min, mb.Max = &lo, &hi
			if c := indexOf(ob.Columns, ms.Column); c >= 0 && !seen[ms.Column] {
				seen[ms.Column] = true
				st.caps.Min[c], st.caps.Max[c] = ms.Min, ms.Max
			}
		}
		st.bounds.Metrics = append(st.bounds.Metrics, mb)
	}
	if st.caps.MaxPerUnit > 0 {
		st.caps.RowsCap = dropCap(st.caps.MaxPerUnit, rowsNoisy, countBuckets, rowsCapFactor)
	}
	if err := r.replan(i, resolved); err != nil {
		return nil, fmt.Errorf("estimate output %q: %w", name, err)
	}
	return &r.plan.Outputs[i], nil
}

// DroppedCaps returns what the engine needs for output name's DroppedSums,
// after EstimateValues (and, in two phases, SelectPartitions: a person has
// no more partitions than were selected).
func (r *Releaser) DroppedCaps(name string) (DroppedCaps, error) {
	selected := -1
	if sel := r.selected[name]; sel != nil {
		selected = sel.Len()
	}
	return r.droppedCaps(name, selected)
}

// DroppedCapsAmong is DroppedCaps for an external engine that selected
// output name's partitions itself and released partitions of them. It may
// compute the DroppedSums with the caps DroppedCaps gave before the
// selection: no person has more partitions than were released, so the sums
// are the same; only their noise, calibrated to the caps returned here, is
// smaller.
func (r *Releaser) DroppedCapsAmong(name string, partitions int) (DroppedCaps, error) {
	if partitions < 0 {
		return DroppedCaps{}, fmt.Errorf("dropped caps of output %q: %d partitions released", name, partitions)
	}
	return r.droppedCaps(name, partitions)
}

// droppedCaps are output name's caps, with its pairs capped at selected
// partitions (none when selected < 0).
func (r *Releaser) droppedCaps(name string, selected int) (DroppedCaps, error) {
	st := r.estimates[name]
	if st == nil || st.bounds.Metrics == nil {
		return DroppedCaps{}, fmt.Errorf("dropped caps of output %q: values not estimated", name)
	}
	if selected >= 0 {
		st.caps.PairsCap = max(min(st.caps.PairsCap, int64(selected)), st.caps.L0)
	}
	return st.caps, nil
}

// dropCap is how far the sums of what bounding dropped count a person's
// partitions (or a pair's rows) above the bound: factor times the larger of
// the bound and the top of the noisy histogram. A larger cap sees more of
// the heaviest people but noises the sums more.
func dropCap(bound int64, h noisyHist, buckets []int64, factor int64) int64 {
	top := bound
	if b, ok := h.topBucket(buckets); ok {
		top = max(top, countBucketTop(b))
	}
	return factor * top
}

// The caps' factors (dropCap), measured on the demo and utility data
// (benchmarks/UTILITY.md, "Auto bounds"): partitions per person has a long
// tail that the histogram's top does not see; rows and values per pair
// enter the sums multiplied by L0, so their caps cost more noise.
const (
	pairsCapFactor = 8
	rowsCapFactor  = 4
	massCapFactor  = 4
)

// EstimateDropped noises output name's DroppedSums and derives the shares
// bounding removed and the corrections of its count, count_units and
// non-negative sum metrics, which ReleaseOutput then applies.
func (r *Releaser) EstimateDropped(name string, s DroppedSums) error {
	_, ob, err := r.boundsOf(name)
	if err != nil {
		return err
	}
	st := r.estimates[name]
	if st == nil || st.bounds.Metrics == nil || st.bounds.Dropped != nil {
		return fmt.Errorf("estimate output %q: what bounding dropped is estimated once, after the values", name)
	}
	c := st.caps
	n := len(c.Columns)
	if len(s.MassKept) != n || len(s.MassClamped) != n || len(s.HeavyMass) != n {
		return fmt.Errorf("estimate output %q: %d columns of sums, want %d", name, len(s.MassKept), n)
	}
	l0 := float64(c.L0)
	// The budget follows the metrics the sums serve: the pairs every
	// corrected metric, rows the counts, each column's value mass its
	// sums; within a group, what was dropped by L0 weighs most.
	i := r.outputIndex(name)
	metrics := r.plan.Outputs[i].Spec.Metrics
	var all, rowsW float64
	massW := make([]float64, n)
	for _, m := range metrics {
		switch m.Kind {
		case CountUnits:
			all += m.Weight
		case Count:
			all += m.Weight
			rowsW += m.Weight
		case Sum:
			if k := indexOf(c.Columns, m.Column); k >= 0 {
				all += m.Weight
				massW[k] += m.Weight
			}
		}
	}
	all = max(all, 1e-9) // an output of means alone: the sums only report
	floor := func(w float64) float64 { return max(w, all/20) }
	// Each sum with its sensitivity (the most one person adds) and weight.
	type sum struct{ x, sens, weight float64 }
	sums := []sum{{s.PairsKept, l0, all}, {s.PairsDropped, float64(c.PairsCap - c.L0), 3 * all}, {s.HeavyPairs, l0, all}}
	if c.MaxPerUnit > 0 {
		w := floor(rowsW)
		sums = append(sums, sum{s.RowsKept, l0 * float64(c.MaxPerUnit), w}, sum{s.RowsClamped, l0 * float64(c.RowsCap-c.MaxPerUnit), w},
			sum{s.HeavyRows, l0 * float64(c.RowsCap), w})
	}
	for k := range c.Columns {
		reach := math.Max(math.Abs(c.Min[k]), math.Abs(c.Max[k]))
		w := floor(massW[k])
		sums = append(sums, sum{s.MassKept[k], l0 * reach, w}, sum{s.MassClamped[k], l0 * c.MassCap[k], w}, sum{s.HeavyMass[k], l0 * c.MassCap[k], w})
	}
	weights := make([]float64, len(sums))
	for k, x := range sums {
		weights[k] = x.weight
	}
	eps := splitByWeight(ob.Dropped, weights)
	noisy := make([]estimate, len(sums))
	for k, x := range sums {
		if x.sens <= 0 { // nothing can be dropped: known without noise
			continue
		}
		v, err := r.est.nz.AddNoiseFloat64(x.x, 1, x.sens, eps[k], 0)
		if err != nil {
			return fmt.Errorf("estimate output %q: dropped: %w", name, err)
		}
		noisy[k] = estimate{v: max(v, 0), sd: math.Sqrt2 * x.sens / eps[k]}
	}
	pairsKept, pairsDropped, heavyPairs := noisy[0], noisy[1], noisy[2]
	dr := &Dropped{Mass: map[string]float64{}, PairsCap: c.PairsCap, MassCap: map[string]float64{}}
	pairs := keptShare(pairsKept, pairsDropped)
	dr.Pairs = 1 - pairs.v
	// What L0 dropped of a per-pair quantity: the dropped pairs times the
	// heavy people's quantity per kept pair.
	droppedByL0 := func(heavy estimate) estimate {
		per := ratio(heavy, heavyPairs)
		return product(per, pairsDropped)
	}
	next := 3
	var rows estimate
	if c.MaxPerUnit > 0 {
		kept, clamped, heavy := noisy[3], noisy[4], noisy[5]
		rows = keptShare(kept, add(clamped, droppedByL0(heavy)))
		d := 1 - rows.v
		dr.Rows, dr.RowsCap = &d, c.RowsCap
		next = 6
	}
	mass := make([]estimate, n)
	for k, col := range c.Columns {
		kept, clamped, heavy := noisy[next+3*k], noisy[next+3*k+1], noisy[next+3*k+2]
		mass[k] = keptShare(kept, add(clamped, droppedByL0(heavy)))
		dr.Mass[col] = 1 - mass[k].v
		dr.MassCap[col] = c.MassCap[k]
	}
	st.bounds.Dropped = dr
	for j, mp := range r.plan.Outputs[i].Metrics {
		var kept estimate
		switch mp.Spec.Kind {
		case CountUnits:
			kept = pairs
		case Count:
			kept = rows
		case Sum:
			k := indexOf(c.Columns, mp.Spec.Column)
			if k < 0 || mp.Spec.Min < 0 || mp.Spec.Min != c.Min[k] || mp.Spec.Max != c.Max[k] {
				continue
			}
			kept = mass[k]
		default:
			continue
		}
		if kept.sd > maxKeptSD*kept.v {
			// The estimate is mostly noise: no correction, and the
			// interval says it covers the noise only.
			st.bias[j] = &Bias{DroppedShare: 1 - kept.v}
			continue
		}
		b := &Bias{DroppedShare: 1 - kept.v, Corrected: true}
		b.Margin = BiasMarginShare*(1-kept.v) + 2*kept.sd/kept.v
		st.bias[j] = b
	}
	return nil
}

// maxKeptSD is the largest relative standard deviation of a kept share
// that still corrects the released values.
const maxKeptSD = 0.5

// estimate is a noisy value and its standard deviation.
type estimate struct{ v, sd float64 }

func add(a, b estimate) estimate { return estimate{a.v + b.v, math.Hypot(a.sd, b.sd)} }

// ratio is a/b, with the delta method's standard deviation; 0 when b is not
// clearly positive.
func ratio(a, b estimate) estimate {
	if b.v < 1 {
		return estimate{}
	}
	v := a.v / b.v
	return estimate{v, math.Abs(v) * math.Hypot(a.sd/math.Max(a.v, 1), b.sd/b.v)}
}

func product(a, b estimate) estimate {
	return estimate{a.v * b.v, math.Hypot(a.sd*b.v, a.v*b.sd)}
}

// keptShare is kept / (kept + dropped), at least 1%, with its standard
// deviation. A dropped estimate within two standard deviations of zero is
// taken as zero: the correction is then none, and the deviation still
// widens the interval.
func keptShare(kept, dropped estimate) estimate {
	k := math.Max(kept.v, 1)
	d := math.Max(dropped.v, 0)
	if d < 2*dropped.sd {
		d = 0
	}
	total := k + d
	v := math.Max(k/total, 0.01)
	// d(k/(k+d)) = (d·dk − k·dd) / (k+d)²
	sd := math.Hypot(d*kept.sd, k*dropped.sd) / (total * total)
	return estimate{v, sd}
}

// correct applies metric j's bias correction to its released cells (value,
// then its _ci95 half-width).
func (b *Bias) correct(out []Cell, intValue bool) {
	if b == nil || !b.Corrected || len(out) < 2 {
		return
	}
	f := 1 / (1 - b.DroppedShare)
	if intValue {
		v := math.Round(float64(out[0].Int) * f)
		out[0].Int = int64(v)
		out[1].Float = out[1].Float*f + math.Abs(v)*b.Margin
		return
	}
	out[0].Float *= f
	out[1].Float = out[1].Float*f + math.Abs(out[0].Float)*b.Margin
}

// Plan is the plan the Releaser releases with: the job's, with the bounds
// estimated so far in place of the auto ones. The caller must not modify it.
func (r *Releaser) Plan() *Plan { return r.plan }

// Bounds returns what the estimates of output name chose and found; nil
// when the output had none.
func (r *Releaser) Bounds(name string) *OutputBounds {
	if st := r.estimates[name]; st != nil {
		b := st.bounds
		return &b
	}
	return nil
}

// boundsOf is output name's index and estimate budget.
func (r *Releaser) boundsOf(name string) (int, OutputBoundsPlan, error) {
	i := r.outputIndex(name)
	if i < 0 {
		return 0, OutputBoundsPlan{}, fmt.Errorf("estimate output %q: not in the plan", name)
	}
	if r.plan.Outputs[i].Bounds == nil {
		return 0, OutputBoundsPlan{}, fmt.Errorf("estimate output %q: the plan has no bounds share", name)
	}
	if r.done[name] {
		return 0, OutputBoundsPlan{}, fmt.Errorf("estimate output %q: already released", name)
	}
	return i, *r.plan.Outputs[i].Bounds, nil
}

// outputIndex is the index of output name in the plan, or -1.
func (r *Releaser) outputIndex(name string) int {
	for i := range r.plan.Outputs {
		if r.plan.Outputs[i].Spec.Name == name {
			return i
		}
	}
	return -1
}

// replan plans the job again with output i's spec replaced by resolved: the
// budget split depends on weights only, so every other output keeps its
// plan, and the charge stays the same.
func (r *Releaser) replan(i int, resolved OutputSpec) error {
	spec := r.plan.Spec
	spec.Outputs = append([]OutputSpec(nil), spec.Outputs...)
	spec.Outputs[i] = resolved
	p, err := NewPlan(spec)
	if err != nil {
		return err
	}
	if p.Total.Epsilon > r.plan.Total.Epsilon || p.Total.Delta > r.plan.Total.Delta {
		return errors.New("the plan with the estimated bounds spends more than the reservation")
	}
	r.plan = p
	return nil
}

// roundBound rounds an estimated value bound up to two significant digits,
// so that a manifest never shows a value read off the data to full
// precision.
func roundBound(x float64) float64 {
	if x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	p := math.Pow(10, math.Floor(math.Log10(x))-1)
	return math.Ceil(x/p) * p
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
