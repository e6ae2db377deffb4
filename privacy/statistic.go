package privacy

import (
	"fmt"
	"math"
)

// Statistic is a per-partition aggregate of the bounded per-person data: the
// true value that one part of a metric adds noise to. Metrics declare the
// statistics they need (Metric.Parts); engines compute each statistic of an
// output once (see StatLayout), whichever metrics share it, and never per
// metric kind.
//
// Every statistic but a stream is a sum over the people of a partition of
// one value per person (PerPerson), which lies in Range: that range is the
// statistic's whole privacy contract, and its Linf sensitivity is
// max(|lo|, |hi|). A stream hands every person's value (in Range) to a
// library aggregation, to which each person adds one value per partition.
type Statistic int

// Statistics a metric can need. Names are the statistic's Go name, its
// String (in plans and column names) and what it sums per partition.
const (
	// RowCount ("rows", BIGINT): each person's rows, at most max_per_unit.
	RowCount Statistic = iota + 1
	// UnitCount ("units", BIGINT): 1 per person in the partition after bounding.
	UnitCount
	// ValueCount ("count", BIGINT): 1 per person with a value in the metric's
	// column.
	ValueCount
	// ClampedSum ("sum", DOUBLE): each person's partition total clamped to
	// [min, max].
	ClampedSum
	// CenteredSum ("csum", DOUBLE): clamped total minus the midpoint
	// (min+max)/2, as in the library's BoundedMean and BoundedVariance.
	CenteredSum
	// CenteredSumSquares ("csumsq", DOUBLE): (clamped total - midpoint)².
	CenteredSumSquares
	// ClampedValues ("values", a stream): not a sum but every person's
	// clamped total, one row per (person, partition), for a library
	// aggregation that draws its own noise (the quantile tree).
	ClampedValues
)

// statistics lists every Statistic; the registry test walks it.
var statistics = []Statistic{RowCount, UnitCount, ValueCount, ClampedSum, CenteredSum, CenteredSumSquares, ClampedValues}

var statNames = map[Statistic]string{
	RowCount: "rows", UnitCount: "units", ValueCount: "count", ClampedSum: "sum",
	CenteredSum: "csum", CenteredSumSquares: "csumsq", ClampedValues: "values",
}

func (s Statistic) String() string {
	if n, ok := statNames[s]; ok {
		return n
	}
	return fmt.Sprintf("statistic(%d)", int(s))
}

// Integer reports whether the statistic is a count (BIGINT, noised with the
// library's integer mechanism).
func (s Statistic) Integer() bool { return s == RowCount || s == UnitCount || s == ValueCount }

// Stream reports whether the statistic is a stream of per-person values
// rather than one value per partition.
func (s Statistic) Stream() bool { return s == ClampedValues }

// UsesColumn reports whether the statistic reads the metric's input column.
func (s Statistic) UsesColumn() bool {
	switch s {
	case ValueCount, ClampedSum, CenteredSum, CenteredSumSquares, ClampedValues:
		return true
	}
	return false
}

// UsesBounds reports whether the statistic clamps to the metric's [min, max].
func (s Statistic) UsesBounds() bool {
	switch s {
	case ClampedSum, CenteredSum, CenteredSumSquares, ClampedValues:
		return true
	}
	return false
}

// Midpoint is the centre of a metric's bounds, computed as the library does.
func Midpoint(min, max float64) float64 { return min + (max-min)/2 }

// Range is the interval holding one person's contribution to the statistic
// in one partition, given the metric's fields.
func (s Statistic) Range(n StatNeed) (lo, hi float64) {
	half := (n.Max - n.Min) / 2
	switch s {
	case RowCount:
		return 0, float64(n.MaxPerUnit)
	case UnitCount, ValueCount:
		return 0, 1
	case ClampedSum, ClampedValues:
		return n.Min, n.Max
	case CenteredSum:
		return -half, half
	case CenteredSumSquares:
		return 0, half * half
	}
	return 0, 0
}

// Sensitivity is the Linf bound of the statistic: the most one person
// changes it in one partition. For a stream it is the number of values one
// person adds per partition, 1 (the quantile tree's MaxContributionsPerPartition).
func (s Statistic) Sensitivity(n StatNeed) float64 {
	if s.Stream() {
		return 1
	}
	lo, hi := s.Range(n)
	return math.Max(math.Abs(lo), math.Abs(hi))
}

// PerPerson is the reference definition of the statistic: one person's
// contribution in one partition, from the person's bounded rows there and,
// when has is true, the total of the person's values in the metric's
// column. It returns ok false when the person contributes nothing. Engines
// compute the same in their own language (SQL, Beam); tests compare them.
func (s Statistic) PerPerson(n StatNeed, rows int64, total float64, has bool) (v float64, ok bool) {
	switch s {
	case RowCount:
		return float64(min(rows, n.MaxPerUnit)), true
	case UnitCount:
		return 1, true
	}
	if !has {
		return 0, false
	}
	c := math.Min(math.Max(total, n.Min), n.Max)
	mid := Midpoint(n.Min, n.Max)
	switch s {
	case ValueCount:
		return 1, true
	case ClampedSum, ClampedValues:
		return c, true
	case CenteredSum:
		return c - mid, true
	case CenteredSumSquares:
		return (c - mid) * (c - mid), true
	}
	return 0, false
}

// StatNeed is a statistic as one output computes it: the statistic and the
// metric fields it depends on (the others are zero). Metrics of an output
// whose needs are equal share one computed statistic.
type StatNeed struct {
	Stat       Statistic
	Column     string  // the metric's input column, for statistics of values
	Min, Max   float64 // the metric's bounds, for clamped statistics
	MaxPerUnit int64   // RowCount: rows per person and partition
}

// needOf is what statistic s of metric ms depends on.
func needOf(s Statistic, ms MetricSpec) StatNeed {
	n := StatNeed{Stat: s}
	if s == RowCount {
		n.MaxPerUnit = ms.MaxPerUnit
	}
	if s.UsesColumn() {
		n.Column = ms.Column
	}
	if s.UsesBounds() {
		n.Min, n.Max = ms.Min, ms.Max
	}
	return n
}

// StatLayout says which statistics an output's engine computes and where a
// metric finds them: every distinct StatNeed once, in the order the metrics
// first need them. Each one that is not a stream is a column of the
// aggregate batches, StatColumn(k, need.Stat); streams are the columns of
// the value stream (see QuantileSource), named the same way.
type StatLayout struct {
	Needs []StatNeed
	parts [][]int // [metric][part] -> index into Needs
}

// Layout is the statistics layout of o's metrics.
func (o OutputSpec) Layout() (StatLayout, error) {
	l := StatLayout{parts: make([][]int, len(o.Metrics))}
	for i, ms := range o.Metrics {
		m, ok := LookupMetric(ms.Kind)
		if !ok {
			return StatLayout{}, fmt.Errorf("metric %q: unknown metric type %q", ms.Name, ms.Kind)
		}
		for _, p := range m.Parts(ms) {
			n := needOf(p.Stat, ms)
			k := -1
			for j, have := range l.Needs {
				if have == n {
					k = j
					break
				}
			}
			if k < 0 {
				k = len(l.Needs)
				l.Needs = append(l.Needs, n)
			}
			l.parts[i] = append(l.parts[i], k)
		}
	}
	return l, nil
}

// Need is the index in Needs of part p of metric i.
func (l StatLayout) Need(i, p int) int { return l.parts[i][p] }

// Column names need k in an aggregate batch or a value stream.
func (l StatLayout) Column(k int) string { return StatColumn(k, l.Needs[k].Stat) }

// HasStreams reports whether any need is a stream.
func (l StatLayout) HasStreams() bool {
	for _, n := range l.Needs {
		if n.Stat.Stream() {
			return true
		}
	}
	return false
}

// StatColumn names statistic k (index in StatLayout.Needs) of an output.
func StatColumn(k int, s Statistic) string { return fmt.Sprintf("__s%d_%s", k, s) }
