package privacy

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// UnitsColumn is a column of the per-partition aggregate batches that the
// engine hands to a Releaser (see docs/ARCHITECTURE.md): BIGINT, the distinct
// privacy units in the partition after bounding, which partition selection
// reads. Group-by key columns come first, as strings, named as in the job;
// then UnitsColumn; then the output's statistics (StatLayout), each named
// StatLayout.Column(k).
const UnitsColumn = "__units"

// Metadata describes a release.
type Metadata struct {
	ID      string
	Job     string
	Dataset string
	Purpose string
	// ConsentWaiver is the job's consent.waived reason, or "" when consent
	// was applied.
	ConsentWaiver string
	Epsilon       float64
	Delta         float64
	K             int64
	Noise         NoiseKind
	// Rounding is how the values were rounded (Release.Rounded); "" until
	// they are.
	Rounding Rounding
	Created  time.Time
}

// MetricInfo says how one released metric column was made.
type MetricInfo struct {
	Name      string
	Kind      MetricKind
	Columns   []string // output columns holding this metric (value and _ci95 columns)
	Epsilon   float64
	Delta     float64
	Mechanism string  // e.g. "laplace"
	L0        int64   // partitions per unit
	LInf      float64 // per-partition sensitivity of the noised statistic
	StdDev    float64 // noise standard deviation of the released value where it is the same in every row; 0 otherwise
	// Bias is the correction for what bounding removed; nil when the
	// values are not corrected (their interval then covers the noise only).
	Bias *Bias
	// Consistency says which consistency constraints (consistency.go)
	// adjusted the values; "" for none. Rounding keeps such values exact.
	Consistency string
}

// Table is one released output: group-by columns, noisy metric columns and
// their _ci95 half-widths, rows sorted by key.
type Table struct {
	name    string
	record  arrow.RecordBatch
	metrics []MetricInfo
	groupBy []string
	k       int64
	bounds  *OutputBounds
}

// Bounds are the contribution bounds the table was made with and what the
// estimates found bounding removed; nil when the job estimated nothing.
func (t *Table) Bounds() *OutputBounds { return t.bounds }

// Name is the output name.
func (t *Table) Name() string { return t.name }

// Record returns the released rows. The Table owns the record; callers must
// not Release it and must Retain it if they keep it beyond the Release.
func (t *Table) Record() arrow.RecordBatch { return t.record }

// Metrics describes the metric columns.
func (t *Table) Metrics() []MetricInfo { return t.metrics }

// GroupBy names the key columns.
func (t *Table) GroupBy() []string { return t.groupBy }

// K is the pre-threshold of the DP partition selection every row passed:
// each row stood on at least K people. It is 0 for an output whose keys are
// public lists: every listed key is released, on any number of people
// (zero included), and no threshold applies.
func (t *Table) K() int64 { return t.k }

// Release is a set of differentially private tables. Only this package can
// make one, and a sink accepts nothing else.
type Release struct {
	meta   Metadata
	tables []*Table
}

// Metadata describes the release.
func (r *Release) Metadata() Metadata { return r.meta }

// Tables returns the released tables in job order.
func (r *Release) Tables() []*Table { return r.tables }

// Free releases the Arrow memory of all tables.
func (r *Release) Free() {
	for _, t := range r.tables {
		if t.record != nil {
			t.record.Release()
			t.record = nil
		}
	}
}
