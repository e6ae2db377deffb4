// Package privacy holds everything that touches privacy loss: the budget
// split, the mechanisms (all noise, partition selection and confidence
// intervals come from github.com/google/differential-privacy/go/v3), the
// ledger and Release, the only value a sink accepts.
package privacy

// NoiseKind names a noise distribution.
type NoiseKind string

// Supported noise kinds.
const (
	Laplace  NoiseKind = "laplace"
	Gaussian NoiseKind = "gaussian"
)

// Valid reports whether k is a supported noise kind.
func (k NoiseKind) Valid() bool { return k == Laplace || k == Gaussian }

// MetricKind names a metric kind: its type in job files. Each kind is
// declared and registered in its own file, metric_<kind>.go (see Metric).
type MetricKind string

// MetricSpec is one metric of an output, as the privacy layer sees it.
// Which fields a kind reads is its Metric's Fields.
type MetricSpec struct {
	Name       string
	Kind       MetricKind
	Column     string    // input column of the values (Fields.Measure); names it only, no data is read here
	MaxPerUnit int64     // Fields.MaxPerUnit: Linf rows per (unit, partition)
	Min, Max   float64   // Fields.Measure: bounds of each unit's partition total
	Ranks      []float64 // Fields.Ranks: each in [0, 1]
	// Weight sets the metric's share of its output's metric budget:
	// Weight / (sum of the output's metric weights). Required: > 0 and
	// finite (job files default it to DefaultWeight).
	Weight float64
	// Auto marks the bounds the run estimates privately from the data
	// (bounds.go): until then MaxPerUnit, Min and Max hold placeholders.
	Auto MetricAuto
}

// MetricAuto says which bounds of a metric are "auto" in the job file.
type MetricAuto struct {
	MaxPerUnit, Min, Max bool
}

// Any reports whether some bound is auto.
func (a MetricAuto) Any() bool { return a.MaxPerUnit || a.Min || a.Max }

// OutputSpec is one output table, as the privacy layer sees it.
type OutputSpec struct {
	Name                 string
	GroupBy              []string
	MaxPartitionsPerUnit int64 // L0
	Metrics              []MetricSpec
	// PublicPartitions: keys come from public lists, so no budget goes to
	// partition selection and every listed key is released.
	PublicPartitions bool
	// Weight sets the output's share of the job's budget: Weight / (sum of
	// the job's output weights). Required: > 0 and finite (job files default
	// it to DefaultWeight).
	Weight float64
	// SelectionShare is the fraction of the output's epsilon that DP
	// partition selection gets when keys come from the data; the metrics
	// share the rest. Required then, in (0, 1) (job files default it to
	// DefaultSelectionShare); must be 0 with PublicPartitions.
	SelectionShare float64
	// Selection is how partitions are selected when keys come from the
	// data: "" or SelectTwoPhase, or SelectCountThreshold (then
	// SelectionShare must be 0). Must be "" with PublicPartitions.
	Selection SelectionMethod
	// AutoL0 marks max_partitions_per_unit as "auto": the run estimates it
	// privately (bounds.go); until then MaxPartitionsPerUnit is a
	// placeholder.
	AutoL0 bool
	// Consistency are the constraints imposed on the released values by
	// post-processing (consistency.go); nil for none.
	Consistency *Consistency
}

// JobSpec is the privacy-relevant part of a job.
type JobSpec struct {
	Epsilon float64
	Delta   float64
	Noise   NoiseKind
	K       int64 // pre-threshold: minimum distinct units behind a released row
	Outputs []OutputSpec
	// BoundsShare is the fraction of each output's epsilon spent on
	// private estimates of the contribution bounds and of what bounding
	// removes (bounds.go), taken from the output's metrics, in [0,
	// MaxBoundsShare]; 0 estimates nothing. Required > 0 when a bound is
	// auto.
	BoundsShare float64
}
