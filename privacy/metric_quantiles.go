package privacy

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/google/differential-privacy/go/v3/dpagg"
	"github.com/google/differential-privacy/go/v3/noise"
)

// Quantiles are quantiles of per-person partition totals clamped to
// [min, max], one column per rank.
const Quantiles MetricKind = "quantiles"

func init() { register(quantilesMetric{}) }

type quantilesMetric struct{}

var _ streamMetric = quantilesMetric{}

func (quantilesMetric) Kind() MetricKind { return Quantiles }

func (quantilesMetric) Doc() string {
	return "quantiles of per-person partition totals clamped to [min, max], one column per rank"
}

func (quantilesMetric) Fields() Fields { return Fields{Measure: true, Ranks: true} }

func (quantilesMetric) Check(ms MetricSpec) []FieldProblem {
	var out []FieldProblem
	if len(ms.Ranks) == 0 {
		out = append(out, FieldProblem{Field: "ranks", Rule: "is required for quantiles: list at least one rank in [0, 1]"})
	}
	cols := map[string]bool{}
	for r, rank := range ms.Ranks {
		field := fmt.Sprintf("ranks[%d]", r)
		if !(rank >= 0 && rank <= 1) {
			out = append(out, FieldProblem{Field: field, Value: rank, Rule: "must be in [0, 1]"})
			continue
		}
		col := QuantileColumn(ms.Name, rank)
		if cols[col] {
			out = append(out, FieldProblem{Field: field, Value: rank, Rule: fmt.Sprintf("is listed twice (column %s)", col)})
		}
		cols[col] = true
	}
	return out
}

func (quantilesMetric) Columns(ms MetricSpec) []Column {
	cols := make([]Column, len(ms.Ranks))
	for i, r := range ms.Ranks {
		cols[i] = Column{Name: QuantileColumn(ms.Name, r)}
	}
	return cols
}

func (quantilesMetric) Meaning(_, column string) string {
	if i := strings.LastIndex(column, "_p"); i >= 0 {
		return fmt.Sprintf("noisy percentile p%s of %s", column[i+2:], perPerson)
	}
	return "noisy quantile of " + perPerson
}

// Parts: the library's quantile tree adds noise to every node count with
// Linf 1 (one clamped total per person and partition).
func (quantilesMetric) Parts(MetricSpec) []Part {
	return []Part{{Stat: ClampedValues, Weight: 1, Comment: "noisy counts of the quantile tree nodes"}}
}

func (quantilesMetric) Error(mp *MetricPlan) ErrorModel {
	return ErrorModel{Note: "tree noise sd " + strconv.FormatFloat(mp.Components[0].StdDev, 'g', 4, 64) + " per node count"}
}

func (quantilesMetric) release(ms MetricSpec, in Noised, out []Cell) error {
	vals := in.Values(0)
	if len(vals) != len(ms.Ranks) {
		return fmt.Errorf("has %d quantiles, want %d", len(vals), len(ms.Ranks))
	}
	for i, v := range vals {
		if math.IsNaN(v) {
			return fmt.Errorf("quantile %v is NaN", ms.Ranks[i])
		}
		out[i].Float = clamp(v, ms.Min, ms.Max)
	}
	return nil
}

// newAggregator is a dpagg.BoundedQuantiles for one partition.
func (quantilesMetric) newAggregator(mp *MetricPlan, part int, nz noise.Noise) (aggregator, error) {
	c := mp.Components[part]
	t, err := dpagg.NewBoundedQuantiles(&dpagg.BoundedQuantilesOptions{
		Epsilon:                      c.Share.Epsilon,
		Delta:                        c.Share.Delta,
		MaxPartitionsContributed:     c.L0,
		MaxContributionsPerPartition: int64(c.LInf),
		Lower:                        mp.Spec.Min,
		Upper:                        mp.Spec.Max,
		Noise:                        nz,
	})
	if err != nil {
		return nil, err
	}
	return quantileTree{t: t, ranks: mp.Spec.Ranks}, nil
}

type quantileTree struct {
	t     *dpagg.BoundedQuantiles
	ranks []float64
}

func (q quantileTree) Add(v float64) error { return q.t.Add(v) }

func (q quantileTree) Result() ([]float64, error) {
	out := make([]float64, len(q.ranks))
	for i, r := range q.ranks {
		v, err := q.t.Result(r)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// QuantileColumn names the released column of rank r of quantile metric name:
// 0.5 -> name_p50, 0.9 -> name_p90, 0.995 -> name_p99_5.
func QuantileColumn(name string, r float64) string {
	s := strconv.FormatFloat(math.Round(r*1e6)/1e4, 'f', -1, 64)
	return name + "_p" + strings.ReplaceAll(s, ".", "_")
}
