package duckdb

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/privacy"
)

// The private bound estimates of an output (privacy/bounds.go), when the
// job has a bounds share. The engine computes exact histograms and sums in
// SQL and hands them to the Releaser, which noises them and chooses; no
// exact value leaves this file but into the Releaser.
//
// One extra scan of the input per output: the distinct (unit, partition)
// pairs (unitPartsTable), from which the partitions per person are counted
// before bounding and, after selection, among the released partitions. The
// histograms of rows and totals read the bounded pairs (pairsTable), which
// bounding writes anyway.

// unitPartsTable names the temp table of output o's distinct (unit,
// partition) pairs before bounding.
func unitPartsTable(o int) string { return fmt.Sprintf("__unitparts_%d", o) }

// estimates reports whether the job estimates bounds (a bounds share).
func (p *queryPlan) estimates() bool { return p.job.Privacy.BoundsShare > 0 }

// unitPartsSQL creates output o's table of distinct (unit, partition) pairs
// of the clean rows (with public lists, of the listed partitions only).
func (p *queryPlan) unitPartsSQL(o int) string {
	out := p.job.Outputs[o]
	on := make([]string, len(out.GroupBy))
	for i, g := range out.GroupBy {
		on[i] = fmt.Sprintf("c.%s IS NOT DISTINCT FROM d.%s", q(g), q(g))
	}
	where := ""
	if p.publicCond(o) != "" {
		where = " WHERE d." + colPub
	}
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT c.%s, d.%s, count(*) AS %s FROM %s c JOIN %s d ON %s%s GROUP BY ALL",
		unitPartsTable(o), colUnit, colPid, colRows, viewClean, dictTable(o), strings.Join(on, " AND "), where)
}

// countBucketSQL is privacy.CountBucket of the BIGINT expression n >= 1.
func countBucketSQL(n string) string {
	return fmt.Sprintf("(CASE WHEN %s <= %d THEN %s ELSE least(%d + floor(%d * log2(%s / %d.0))::BIGINT, %d) END)",
		n, privacy.CountExact, n, privacy.CountExact+1, privacy.CountBucketsPerOctave, n, privacy.CountExact+1, privacy.CountBucketMax)
}

// valueBucketSQL is privacy.ValueBucket of the DOUBLE expression x.
func valueBucketSQL(x string) string {
	lowest := -20 * privacy.ValueBucketsPerOctave
	return fmt.Sprintf("(CASE WHEN %s = 0 OR isnan(%s) THEN 0 ELSE sign(%s)::BIGINT * (least(greatest(floor(%d * log2(abs(%s)))::BIGINT, %d), %d) - (%d) + 1) END)",
		x, x, x, privacy.ValueBucketsPerOctave, x, lowest, lowest+privacy.ValueBucketMax-1, lowest)
}

// histogram runs a query of (bucket, count) rows.
func histogram(ctx context.Context, eng *DB, query string) (privacy.Histogram, error) {
	rows, err := eng.QueryRows(ctx, query)
	if err != nil {
		return nil, scrub(err)
	}
	h := privacy.Histogram{}
	for _, r := range rows {
		h[toInt64(r[0])] += toInt64(r[1])
	}
	return h, nil
}

// estimateBounds makes output o's bound estimates up to its statistics
// table: partitions per person (the L0 to bound with), then the bounded
// pairs, then rows and totals per pair (the other bounds), then the
// statistics in the layout of the bounds chosen.
func estimateBounds(ctx context.Context, eng *DB, qp *queryPlan, r *privacy.Releaser, o int) error {
	name := qp.job.Outputs[o].Name
	fail := func(what string, err error) error {
		return fmt.Errorf("output %q: estimate bounds: %s: %w", name, what, scrub(err))
	}
	if err := eng.Exec(ctx, qp.unitPartsSQL(o)); err != nil {
		return fail("pairs", err)
	}
	h, err := histogram(ctx, eng, fmt.Sprintf("SELECT %s, count(*)::BIGINT FROM (SELECT count(*) AS n FROM %s GROUP BY %s) GROUP BY ALL",
		countBucketSQL("n"), unitPartsTable(o), colUnit))
	if err != nil {
		return fail("partitions per person", err)
	}
	l0, err := r.EstimatePartitions(name, h)
	if err != nil {
		return err
	}
	qp.l0[o] = l0
	if err := boundPairs(ctx, eng, qp, o); err != nil {
		return err
	}
	// One value per person: its largest over its kept pairs.
	var rows privacy.Histogram
	plan := r.Plan()
	spec := plan.Outputs[o].Spec
	if plan.Outputs[o].Bounds.Rows > 0 {
		if rows, err = histogram(ctx, eng, fmt.Sprintf("SELECT %s, count(*)::BIGINT FROM (SELECT max(%s) AS n FROM %s GROUP BY %s) GROUP BY ALL",
			countBucketSQL("n"), colRows, pairsTable(o), colUkey)); err != nil {
			return fail("rows per pair", err)
		}
	}
	totals := map[string]privacy.Histogram{}
	for _, col := range spec.MeasuredColumns() {
		t := fmt.Sprintf("__t%d", slices.Index(qp.measures, col))
		if totals[col], err = histogram(ctx, eng, fmt.Sprintf("SELECT %s, count(*)::BIGINT FROM (SELECT arg_max(%s, abs(%s)) AS t FROM %s WHERE %s IS NOT NULL GROUP BY %s) GROUP BY ALL",
			valueBucketSQL("t"), t, t, pairsTable(o), t, colUkey)); err != nil {
			return fail("totals", err)
		}
	}
	op, err := r.EstimateValues(name, rows, totals)
	if err != nil {
		return err
	}
	qp.layouts[o] = op.Layout
	if err := eng.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS %s", statsTable(o), qp.statsSQL(o, pairsTable(o)))); err != nil {
		return fail("statistics", err)
	}
	return nil
}

// boundPairs writes output o's bounded pairs to pairsTable, with the unit
// itself as window key if two units share a hashed key.
func boundPairs(ctx context.Context, eng *DB, qp *queryPlan, o int) error {
	create := func() error {
		return eng.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS %s", pairsTable(o), qp.pairsSQL(o, bounding{})))
	}
	fail := func(err error) error {
		return &engine.InputError{Reason: fmt.Sprintf("cannot read the input for output %q", qp.job.Outputs[o].Name), Err: scrub(err)}
	}
	if err := create(); err != nil {
		return fail(err)
	}
	if _, check := qp.unitKey(o); !check {
		return nil
	}
	rows, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT coalesce(bool_or(%s), false) FROM %s", colCollide, pairsTable(o)))
	if err != nil {
		return fail(err)
	}
	if collided, _ := rows[0][0].(bool); collided {
		qp.unitExact[o] = true
		if err := create(); err != nil {
			return fail(err)
		}
	}
	return nil
}

// estimateDropped computes output o's DroppedSums over its released
// partitions (the selected ones in two phases) and hands them to the
// Releaser.
func estimateDropped(ctx context.Context, eng *DB, qp *queryPlan, r *privacy.Releaser, o int) error {
	name := qp.job.Outputs[o].Name
	c, err := r.DroppedCaps(name)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("output %q: estimate what bounding dropped: %w", name, scrub(err))
	}
	parts := unitPartsTable(o)
	pairs := pairsTable(o)
	if qp.twoPhase(o) {
		parts = fmt.Sprintf("(SELECT * FROM %s SEMI JOIN %s USING (%s))", unitPartsTable(o), selectedTable(o), colPid)
		pairs = "(" + qp.reboundSQL(o, qp.rebound[o]) + ")"
	}
	ukey, _ := qp.unitKey(o)
	// Per person: its partitions among the released ones, and whether
	// bounding dropped some (heavy); per kept pair, the heavy flag.
	people := fmt.Sprintf("(SELECT %s AS %s, count(*) AS m FROM %s GROUP BY %s)", ukey, colUkey, parts, colUnit)
	rowsCap, linf := max(c.RowsCap, 1), max(c.MaxPerUnit, 1)
	sel := []string{
		fmt.Sprintf("sum(least(%s, %d))", colRows, linf),
		fmt.Sprintf("sum(least(%s, %d) - least(%s, %d))", colRows, rowsCap, colRows, linf),
		fmt.Sprintf("sum(least(%s, %d)) FILTER (WHERE heavy)", colRows, rowsCap),
	}
	for k, col := range c.Columns {
		t := fmt.Sprintf("k.__t%d", slices.Index(qp.measures, col))
		clamped := fmt.Sprintf("abs(least(greatest(%s, %s), %s))", t, fmtFloat(c.Min[k]), fmtFloat(c.Max[k]))
		capped := fmt.Sprintf("least(abs(%s), %s)", t, fmtFloat(c.MassCap[k]))
		sel = append(sel, fmt.Sprintf("sum(%s)", clamped), fmt.Sprintf("sum(greatest(%s - %s, 0))", capped, clamped),
			fmt.Sprintf("sum(%s) FILTER (WHERE heavy)", capped))
	}
	for i, x := range sel {
		sel[i] = "coalesce(" + x + ", 0)::DOUBLE"
	}
	rows, err := eng.QueryRows(ctx, fmt.Sprintf("WITH p AS %s SELECT coalesce(sum(least(m, %d)), 0)::DOUBLE, coalesce(sum(least(m, %d) - least(m, %d)), 0)::DOUBLE, (%d * count(*) FILTER (WHERE m > %d))::DOUBLE FROM p",
		people, c.L0, c.PairsCap, c.L0, c.L0, c.L0))
	if err != nil {
		return fail(err)
	}
	s := privacy.DroppedSums{PairsKept: toFloat64(rows[0][0]), PairsDropped: toFloat64(rows[0][1]), HeavyPairs: toFloat64(rows[0][2])}
	rows, err = eng.QueryRows(ctx, fmt.Sprintf("WITH p AS %s SELECT %s FROM (SELECT k.*, p.m > %d AS heavy FROM %s k JOIN p USING (%s)) k",
		people, strings.Join(sel, ", "), c.L0, pairs, colUkey))
	if err != nil {
		return fail(err)
	}
	if c.MaxPerUnit > 0 {
		s.RowsKept, s.RowsClamped, s.HeavyRows = toFloat64(rows[0][0]), toFloat64(rows[0][1]), toFloat64(rows[0][2])
	}
	for k := range c.Columns {
		s.MassKept = append(s.MassKept, toFloat64(rows[0][3+3*k]))
		s.MassClamped = append(s.MassClamped, toFloat64(rows[0][4+3*k]))
		s.HeavyMass = append(s.HeavyMass, toFloat64(rows[0][5+3*k]))
	}
	return r.EstimateDropped(name, s)
}

func toFloat64(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	}
	return float64(toInt64(v))
}
