package privacy

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/google/differential-privacy/go/v3/noise"
)

// Metric is one metric kind. Each kind lives in its own file,
// metric_<kind>.go, and registers itself from an init function; the rest of
// privagg (job validation, the budget split, the Releaser, plan and report
// text, manifests, both engines) asks the registry (LookupMetric) and never
// switches on a kind. Engines compute Statistics, not kinds.
//
// Only this package implements Metric (release is unexported): released
// values come from here alone.
type Metric interface {
	// Kind is the metric's type in job files.
	Kind() MetricKind
	// Doc says in a few words what the released value is, for validation
	// messages, plans and docs.
	Doc() string
	// Fields says which metric fields of a job file the kind reads.
	Fields() Fields
	// Check validates the kind's own rules on ms, beyond the rules of
	// Fields, which job validation and NewPlan apply to every kind. Field
	// paths are relative to the metric, e.g. "ranks[1]".
	Check(ms MetricSpec) []FieldProblem
	// Columns declares the released columns of ms, in table order.
	Columns(ms MetricSpec) []Column
	// Meaning explains value column column of a metric named name, for
	// manifests. (Every _ci95 column means the same; see CIMeaning.)
	Meaning(name, column string) string
	// Parts declares the statistics the metric adds noise to and how its
	// budget is split between them. The sensitivity of each part is its
	// statistic's (Statistic.Sensitivity).
	Parts(ms MetricSpec) []Part
	// Error is the expected error of the released values, from the plan.
	Error(mp *MetricPlan) ErrorModel
	// release turns one partition's noised parts into the values of
	// Columns: out has one Cell per column. It is post-processing only: it
	// draws no noise and reads nothing but in.
	release(ms MetricSpec, in Noised, out []Cell) error
}

// streamMetric is a Metric with a stream part (a Statistic with Stream
// true): the Releaser feeds each person's value to a library aggregation
// that draws the noise itself, and hands its results to release as that
// part's Values.
type streamMetric interface {
	Metric
	newAggregator(mp *MetricPlan, part int, nz noise.Noise) (aggregator, error)
}

// aggregator is a library aggregation of one partition's values.
type aggregator interface {
	Add(v float64) error
	Result() ([]float64, error)
}

// Fields says which metric fields of a job file a kind reads. The rules of
// each are the same for every kind that reads it.
type Fields struct {
	// Measure: column, min and max are required; each person's partition
	// total of column is clamped to [min, max] (finite, min < max).
	Measure bool
	// MaxPerUnit: max_per_unit, the rows one person counts per partition
	// (>= 1, default 1).
	MaxPerUnit bool
	// Ranks: ranks, checked by the kind's Check.
	Ranks bool
}

// FieldProblem is one rule a metric's fields break. Field is relative to
// the metric ("ranks[2]"); Value is nil when the rule names no value.
type FieldProblem struct {
	Field string
	Value any
	Rule  string
}

// Column is one released column of a metric.
type Column struct {
	Name string
	Int  bool // BIGINT; DOUBLE otherwise
	CI   bool // a 95% confidence half-width (name ends in CISuffix)
}

// CISuffix ends the name of every confidence half-width column.
const CISuffix = "_ci95"

// valueAndCI are the columns of a metric with one value and its _ci95.
func valueAndCI(name string, integer bool) []Column {
	return []Column{{Name: name, Int: integer}, {Name: name + CISuffix, CI: true}}
}

// CIMeaning explains a _ci95 column for manifests.
func CIMeaning(column string, bias *Bias) string {
	v := strings.TrimSuffix(column, CISuffix)
	if bias != nil && bias.Corrected {
		return fmt.Sprintf("half-width of the 95%% confidence interval of %s, which was corrected for the %.0f%% "+
			"that contribution bounding removed: the true value lies within %s ± %s with 95%% probability",
			v, 100*bias.DroppedShare, v, column)
	}
	return fmt.Sprintf("half-width of the 95%% confidence interval of the noise in %s: the bounded value lies within %s ± %s "+
		"with 95%% probability; contribution bounding may have lowered it below the true value", v, v, column)
}

// Part is one noised statistic of a metric, as its kind declares it.
type Part struct {
	Stat    Statistic
	Weight  int    // share of the metric's budget, relative to its other parts
	Comment string // what the statistic is, for plans
}

// Cell is one released value: Int in BIGINT columns, Float in DOUBLE ones.
type Cell struct {
	Int   int64
	Float float64
}

// Noisy is one noised part of a metric in one partition: Int for integer
// statistics, Float for the others, Values for streams (the library
// aggregation's results, e.g. one per quantile rank).
type Noisy struct {
	Int    int64
	Float  float64
	Values []float64
}

// Noised holds the noised parts of one metric in one partition, and the
// noise that drew them, for confidence intervals.
type Noised struct {
	mp    *MetricPlan
	nz    noise.Noise
	parts []Noisy
}

// Int is integer part p.
func (n Noised) Int(p int) int64 { return n.parts[p].Int }

// Float is part p as a float64.
func (n Noised) Float(p int) float64 {
	if n.mp.Components[p].Stat.Integer() {
		return float64(n.parts[p].Int)
	}
	return n.parts[p].Float
}

// Values are the results of stream part p.
func (n Noised) Values(p int) []float64 { return n.parts[p].Values }

// Interval is the library's confidence interval, at level 1 - alpha, of
// part p's true value, around its noisy value.
func (n Noised) Interval(p int, alpha float64) (lo, hi float64, err error) {
	c := n.mp.Components[p]
	ns := c.NoiseShare()
	var ci noise.ConfidenceInterval
	if c.Stat.Integer() {
		ci, err = n.nz.ComputeConfidenceIntervalInt64(n.parts[p].Int, c.L0, int64(c.LInf), ns.Epsilon, ns.Delta, alpha)
	} else {
		ci, err = n.nz.ComputeConfidenceIntervalFloat64(n.parts[p].Float, c.L0, c.LInf, ns.Epsilon, ns.Delta, alpha)
	}
	return ci.LowerBound, ci.UpperBound, err
}

// HalfWidth is half the width of part p's 95% interval.
func (n Noised) HalfWidth(p int) (float64, error) {
	lo, hi, err := n.Interval(p, Alpha)
	return (hi - lo) / 2, err
}

// ErrorModel is the expected error of a metric's released values, from its
// plan alone (no data). One of the three descriptions applies.
type ErrorModel struct {
	// StdDev and CI95: the noise of the released value where it is the same
	// in every row.
	StdDev, CI95 float64
	// CI95At: where the error shrinks with the people in a row, an
	// approximate 95% half-width in a row of n people.
	CI95At func(n float64) float64
	// Note: where neither applies, what the noise is.
	Note string
	// Axis: metrics of an output with the same non-empty Axis are drawn on
	// one scale in the release report, so that their errors compare.
	Axis string
}

// constantError is the error model of a metric released as part 0 plus noise.
func constantError(mp *MetricPlan, axis string) ErrorModel {
	c := mp.Components[0]
	return ErrorModel{StdDev: c.StdDev, CI95: c.CI95, Axis: axis}
}

var registry = map[MetricKind]Metric{}

// register adds m to the registry; each metric file calls it from init.
func register(m Metric) {
	if _, dup := registry[m.Kind()]; dup {
		panic(fmt.Sprintf("privacy: metric kind %q registered twice", m.Kind()))
	}
	registry[m.Kind()] = m
}

// LookupMetric returns the metric of kind k.
func LookupMetric(k MetricKind) (Metric, bool) {
	m, ok := registry[k]
	return m, ok
}

// MetricKinds lists the registered kinds in name order.
func MetricKinds() []MetricKind {
	return MetricKindsWith(func(Fields) bool { return true })
}

// MetricKindsWith lists, in name order, the kinds whose fields satisfy f.
func MetricKindsWith(f func(Fields) bool) []MetricKind {
	var out []MetricKind
	for k, m := range registry {
		if f(m.Fields()) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// MetricColumns declares the released columns of ms.
func MetricColumns(ms MetricSpec) ([]Column, error) {
	m, ok := LookupMetric(ms.Kind)
	if !ok {
		return nil, fmt.Errorf("unknown metric type %q", ms.Kind)
	}
	return m.Columns(ms), nil
}

// ColumnMeaning explains a released column of metric name of kind k, for
// manifests.
func ColumnMeaning(k MetricKind, name, column string) string {
	if strings.HasSuffix(column, CISuffix) {
		return CIMeaning(column, nil)
	}
	if m, ok := LookupMetric(k); ok {
		return m.Meaning(name, column)
	}
	return "noisy " + string(k)
}

// CheckMetric applies the rules of ms's kind: those of its Fields, then its
// Check.
func CheckMetric(ms MetricSpec) []FieldProblem {
	m, ok := LookupMetric(ms.Kind)
	if !ok {
		return []FieldProblem{{Field: "type", Value: fmt.Sprintf("%q", ms.Kind),
			Rule: "is not a metric type: one of " + KindList(MetricKinds())}}
	}
	var out []FieldProblem
	f := m.Fields()
	if f.MaxPerUnit && ms.MaxPerUnit < 1 {
		out = append(out, FieldProblem{Field: "max_per_unit", Value: ms.MaxPerUnit, Rule: "must be >= 1"})
	}
	if f.Measure && !(finite(ms.Min) && finite(ms.Max) && ms.Min < ms.Max) {
		out = append(out, FieldProblem{Rule: fmt.Sprintf("min %v and max %v must be finite with min < max", ms.Min, ms.Max)})
	}
	return append(out, m.Check(ms)...)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// KindList lists kinds as "a, b and c", for messages.
func KindList(ks []MetricKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
