package tune

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
)

// Temp tables of one output's raw study; each output replaces them.
const (
	tabPairs = "__tune_pairs" // (person, partition) pairs: u, p, r, t<i>
	tabPD    = "__tune_pd"    // partitions by people's number of partitions: p, d, c
)

// rawOutput is what the raw data says about one output, at aggregate scale:
// histograms and per-partition figures, never a person.
type rawOutput struct {
	people, pairs, partitions int64
	degrees                   []Count // people by number of partitions
	rows                      []Count // pairs by number of rows
	// parts are, per L0 candidate (same order as l0s), every partition's
	// people and expected people after bounding.
	l0s   []int64
	parts [][]partition
	// columns are the output's metric columns, in first-use order.
	columns []string
	// typical values of a partition (medians over partitions).
	medPeople, medRows float64
	meanRows           float64   // rows per partition, on average
	medSum, medMean    []float64 // per column
	meanAbsSum         []float64 // per column: mean over partitions of |sum|
	medVar             []float64 // per column: population variance of people's totals
	// quantiles of people's partition totals, per column (see clampLevels).
	lowQ, highQ [][]float64
	minT, maxT  []float64
}

// partition is one partition's true people n, expected people after
// bounding each person to L0 of all their partitions (e1, which selection
// sees) and, where selection will likely keep it, among the partitions
// likely kept (e2, which the released values see; e1 elsewhere).
type partition struct {
	n      int64
	e1, e2 float64
}

// clampLevels are the quantile levels of people's partition totals offered
// as clamp bounds (upper; the lower bound uses 1 − level).
var clampLevels = []float64{0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999}

// studyOutput computes rawOutput for output o, with the L0 candidates
// l0s(largest number of partitions of a person). threshold(l0) is the number
// of bounded people a partition needs to be kept with probability >= 1/2
// at the output's current selection share (0: every partition is kept).
func studyOutput(ctx context.Context, in *duckdb.RawInput, j *job.Job, o int, l0s func(top int64) []int64, threshold func(int64) (int64, error)) (*rawOutput, error) {
	r := &rawOutput{}
	for _, m := range j.Outputs[o].Metrics {
		if m.Column != "" && !slices.Contains(r.columns, m.Column) {
			r.columns = append(r.columns, m.Column)
		}
	}
	pairs, err := in.PairsSQL(ctx, o, r.columns)
	if err != nil {
		return nil, err
	}
	stmts := []string{
		fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS %s", tabPairs, pairs),
		fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %s AS
SELECT p, d, count(*)::BIGINT AS c FROM %s JOIN (SELECT u, count(*)::BIGINT AS d FROM %s GROUP BY u) USING (u) GROUP BY p, d`, tabPD, tabPairs, tabPairs),
	}
	for _, s := range stmts {
		if err := in.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("study output %q: %w", j.Outputs[o].Name, err)
		}
	}
	rows, err := in.QueryRows(ctx, fmt.Sprintf("SELECT count(DISTINCT u)::BIGINT, count(*)::BIGINT, count(DISTINCT p)::BIGINT FROM %s", tabPairs))
	if err != nil {
		return nil, err
	}
	r.people, r.pairs, r.partitions = toInt(rows[0][0]), toInt(rows[0][1]), toInt(rows[0][2])
	if r.pairs == 0 {
		return nil, fmt.Errorf("output %q: %w", j.Outputs[o].Name, errNoData)
	}
	if r.degrees, err = histogram(ctx, in, fmt.Sprintf("SELECT d, (sum(c) / d)::BIGINT FROM %s GROUP BY d", tabPD)); err != nil {
		return nil, err
	}
	if r.rows, err = histogram(ctx, in, fmt.Sprintf("SELECT r, count(*)::BIGINT FROM %s GROUP BY r", tabPairs)); err != nil {
		return nil, err
	}
	r.l0s = l0s(r.degrees[len(r.degrees)-1].Value)
	if err := r.studyL0(ctx, in, threshold); err != nil {
		return nil, err
	}
	if err := r.studyValues(ctx, in); err != nil {
		return nil, err
	}
	return r, nil
}

// studyL0 fills parts: per L0 candidate L, a partition's expected people
// after bounding are Σ over its people of min(1, L / d), d being the
// person's number of partitions (each keeps a uniformly random L of them).
// Among the partitions likely kept (e1 >= threshold(L)), e2 bounds each
// person again among those partitions only, as phase 2 of a two-phase
// release does (docs/two-phase.md).
func (r *rawOutput) studyL0(ctx context.Context, in *duckdb.RawInput, threshold func(int64) (int64, error)) error {
	var cands []string
	for _, l := range r.l0s {
		t, err := threshold(l)
		if err != nil {
			return err
		}
		cands = append(cands, fmt.Sprintf("(%d, %d)", l, t))
	}
	q := fmt.Sprintf(`WITH c(l, t) AS (VALUES %s),
e AS (SELECT l, t, p, sum(pd.c)::BIGINT AS n, sum(pd.c * least(1.0, l / pd.d)) AS e1 FROM %s pd, c GROUP BY l, t, p),
s AS (SELECT l, p FROM e WHERE t > 0 AND round(e1) >= t),
su AS (SELECT s.l, x.u, count(*) AS k FROM %s x JOIN s USING (p) GROUP BY s.l, x.u),
e2 AS (SELECT s.l, x.p, sum(least(1.0, s.l / su.k)) AS e2 FROM %s x JOIN s USING (p) JOIN su ON su.l = s.l AND su.u = x.u GROUP BY s.l, x.p)
SELECT e.l, e.n, e.e1, coalesce(e2.e2, e.e1) FROM e LEFT JOIN e2 ON e2.l = e.l AND e2.p = e.p ORDER BY e.l, e.p`,
		strings.Join(cands, ", "), tabPD, tabPairs, tabPairs)
	rows, err := in.QueryRows(ctx, q)
	if err != nil {
		return fmt.Errorf("study L0: %w", err)
	}
	r.parts = make([][]partition, len(r.l0s))
	for _, row := range rows {
		i := slices.Index(r.l0s, toInt(row[0]))
		r.parts[i] = append(r.parts[i], partition{n: toInt(row[1]), e1: toFloat(row[2]), e2: toFloat(row[3])})
	}
	return nil
}

// studyValues fills the typical values of a partition and the quantiles
// of people's partition totals.
func (r *rawOutput) studyValues(ctx context.Context, in *duckdb.RawInput) error {
	sel := []string{"median(n)::DOUBLE", "median(rows)::DOUBLE", "avg(rows)::DOUBLE"}
	inner := []string{"p", "count(*) AS n", "sum(r) AS rows"}
	for i := range r.columns {
		inner = append(inner, fmt.Sprintf("sum(t%d) AS s%d, avg(t%d) AS a%d, var_pop(t%d) AS v%d", i, i, i, i, i, i))
		sel = append(sel, fmt.Sprintf("median(s%d)::DOUBLE, median(a%d)::DOUBLE, median(v%d)::DOUBLE, avg(abs(s%d))::DOUBLE", i, i, i, i))
	}
	rows, err := in.QueryRows(ctx, fmt.Sprintf("SELECT %s FROM (SELECT %s FROM %s GROUP BY p)", strings.Join(sel, ", "), strings.Join(inner, ", "), tabPairs))
	if err != nil {
		return fmt.Errorf("study values: %w", err)
	}
	row := rows[0]
	r.medPeople, r.medRows, r.meanRows = toFloat(row[0]), toFloat(row[1]), toFloat(row[2])
	for i := range r.columns {
		r.medSum = append(r.medSum, toFloat(row[3+4*i]))
		r.medMean = append(r.medMean, toFloat(row[4+4*i]))
		r.medVar = append(r.medVar, toFloat(row[5+4*i]))
		r.meanAbsSum = append(r.meanAbsSum, toFloat(row[6+4*i]))
	}
	levels := make([]string, len(clampLevels))
	lows := make([]string, len(clampLevels))
	for i, l := range clampLevels {
		levels[i] = strconv.FormatFloat(l, 'g', -1, 64)
		lows[i] = strconv.FormatFloat(1-l, 'g', -1, 64)
	}
	for i := range r.columns {
		rows, err := in.QueryRows(ctx, fmt.Sprintf("SELECT min(t%d)::DOUBLE, max(t%d)::DOUBLE, quantile_cont(t%d, [%s]), quantile_cont(t%d, [%s]) FROM %s",
			i, i, i, strings.Join(lows, ", "), i, strings.Join(levels, ", "), tabPairs))
		if err != nil {
			return fmt.Errorf("study values: %w", err)
		}
		r.minT = append(r.minT, toFloat(rows[0][0]))
		r.maxT = append(r.maxT, toFloat(rows[0][1]))
		r.lowQ = append(r.lowQ, toFloats(rows[0][2]))
		r.highQ = append(r.highQ, toFloats(rows[0][3]))
	}
	return nil
}

// clampLoss is, per candidate [lo, hi], the share of the absolute value
// mass of people's partition totals of column i that the clamp removes:
// Σ |t − clamp(t, lo, hi)| / Σ |t|.
func clampLoss(ctx context.Context, in *duckdb.RawInput, i int, cands [][2]float64) ([]float64, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	t := fmt.Sprintf("t%d", i)
	sel := []string{fmt.Sprintf("sum(abs(%s))::DOUBLE", t)}
	for _, c := range cands {
		sel = append(sel, fmt.Sprintf("sum(abs(%s - least(greatest(%s, %s), %s)))::DOUBLE", t, t, fmtF(c[0]), fmtF(c[1])))
	}
	rows, err := in.QueryRows(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), tabPairs))
	if err != nil {
		return nil, fmt.Errorf("clamp loss: %w", err)
	}
	total := toFloat(rows[0][0])
	out := make([]float64, len(cands))
	for k := range cands {
		if total > 0 {
			out[k] = toFloat(rows[0][k+1]) / total
		}
	}
	return out, nil
}

func histogram(ctx context.Context, in *duckdb.RawInput, q string) ([]Count, error) {
	rows, err := in.QueryRows(ctx, q+" ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	out := make([]Count, len(rows))
	for i, r := range rows {
		out[i] = Count{Value: toInt(r[0]), Count: toInt(r[1])}
	}
	return out, nil
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) + "::DOUBLE" }

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	}
	return math.NaN()
}

func toFloats(v any) []float64 {
	xs, _ := v.([]any)
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = toFloat(x)
	}
	return out
}
