package pipeline

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/transforms"
)

// The SQL of a job, built from the validated Job. Stages are temp views over
// DuckDB's own readers, so DuckDB plans the whole job at once and reads only
// the declared columns:
//
//	__src     the reader, projecting Job.InputColumns()
//	__events  privacy unit as __unit, group-by keys (raw or derived) as VARCHAR,
//	          measures as DOUBLE (__v<j>), and the row flags __bad and __consent
//	__clean   rows that are neither malformed nor without consent
//
// Per output, bounding runs in two steps: rows are first reduced to one row
// per (unit, partition) holding the row count and the per-unit totals; then
// each unit keeps at most L0 of its partitions, ranked by a keyed hash of
// (unit, partition, secret per-run seed), which is a uniformly random choice
// per unit that no one without the seed can predict or steer.
type queryPlan struct {
	job      *Job
	derived  map[string]transforms.Derived
	measures []string // metric columns, index j -> __v<j>
	seed     uint64
	prepared map[int]bool // outputs whose pairs table exists
	// types are the DuckDB types of the input columns, by name, once
	// prepareInput has described the input.
	types map[string]string
}

const (
	viewSource = "__src"
	viewEvents = "__events"
	viewClean  = "__clean"
	colUnit    = "__unit"
	colBad     = "__bad"
	colConsent = "__consent"
	colRows    = "__rows"
	colRank    = "__rank"
	tabConsent = "__consent_granted"
	tabRejects = "__rejects"
)

func newQueryPlan(job *Job, seed uint64) (*queryPlan, error) {
	q := &queryPlan{job: job, derived: map[string]transforms.Derived{}, seed: seed, prepared: map[int]bool{}}
	names := make([]string, 0, len(job.Columns))
	for n := range job.Columns {
		names = append(names, n)
	}
	slices.Sort(names)
	var problems []Problem
	for _, n := range names {
		d, err := newDerived(n, job.Columns[n])
		if err != nil {
			problems = append(problems, Problem{Key: "columns." + n, Rule: err.Error()})
			continue
		}
		q.derived[n] = d
	}
	if len(problems) > 0 {
		return nil, &ConfigError{File: job.File, Problems: problems}
	}
	seen := map[string]bool{}
	for _, o := range job.Outputs {
		for _, m := range o.Metrics {
			if m.Column != "" && !seen[m.Column] {
				seen[m.Column] = true
				q.measures = append(q.measures, m.Column)
			}
		}
	}
	return q, nil
}

// newDerived builds the transform of one derived column.
func newDerived(name string, c DerivedColumn) (transforms.Derived, error) {
	switch {
	case len(c.Bins) > 0:
		return transforms.NewBins(name, c.From, c.Bins)
	case c.Truncate != "":
		return transforms.NewTruncate(name, c.From, c.Truncate)
	case c.Prefix > 0:
		return transforms.NewPrefix(name, c.From, c.Prefix)
	case c.Map != nil:
		return transforms.NewMap(name, c.From, c.Map.File, c.Map.Default)
	}
	return nil, fmt.Errorf("one of bins, truncate, prefix or map is required")
}

var q = transforms.QuoteIdent
var lit = transforms.QuoteString

// readerSQL is the DuckDB table function reading the job's input.
func (p *queryPlan) readerSQL() string {
	in := p.job.Input
	path := lit(in.Path)
	switch in.Format {
	case "csv":
		header := in.CSV.Header == nil || *in.CSV.Header
		delim := in.CSV.Delimiter
		if delim == "" {
			delim = ","
		}
		return fmt.Sprintf("read_csv(%s, delim=%s, header=%t, ignore_errors=true, store_rejects=true, rejects_table=%s, rejects_scan=%s)",
			path, lit(delim), header, lit(tabRejects), lit(tabRejects+"_scans"))
	case "json":
		return fmt.Sprintf("read_json(%s, format='newline_delimited', ignore_errors=true)", path)
	default:
		return fmt.Sprintf("read_parquet(%s)", path)
	}
}

// viewsSQL creates the stage views. Each statement is returned separately.
func (p *queryPlan) viewsSQL() []string {
	j := p.job
	cols := j.InputColumns()
	proj := make([]string, len(cols))
	for i, c := range cols {
		proj[i] = q(c)
	}
	stmts := []string{fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS SELECT %s FROM %s", viewSource, strings.Join(proj, ", "), p.readerSQL())}

	var sel []string
	if j.PrivacyUnit == RowUnit {
		sel = append(sel, fmt.Sprintf("row_number() OVER () AS %s", colUnit))
	} else {
		sel = append(sel, fmt.Sprintf("%s AS %s", q(j.PrivacyUnit), colUnit))
	}
	for _, k := range p.keyColumns() {
		switch d := p.derived[k].(type) {
		case *transforms.Truncate:
			sel = append(sel, fmt.Sprintf("%s AS %s", d.NativeSQLTyped(q(d.Source()), p.types[d.Source()]), q(k)))
		case transforms.Native:
			sel = append(sel, fmt.Sprintf("%s AS %s", d.NativeSQL(q(d.Source())), q(k)))
		case transforms.Derived:
			sel = append(sel, fmt.Sprintf("%s AS %s", d.SQL(q(d.Source())), q(k)))
		default:
			sel = append(sel, q(k)) // raw: grouped in its own type, formatted per partition
		}
	}
	bad := []string{fmt.Sprintf("%s IS NULL", q(j.PrivacyUnit))}
	switch {
	case j.PrivacyUnit == RowUnit:
		bad = bad[:0]
	case p.types[j.PrivacyUnit] == "VARCHAR" || p.types[j.PrivacyUnit] == "":
		bad = append(bad, fmt.Sprintf("trim(%s) = ''", q(j.PrivacyUnit)))
	}
	for i, m := range p.measures {
		v := fmt.Sprintf("TRY_CAST(%s AS DOUBLE)", q(m))
		if p.types[m] == "DOUBLE" {
			v = q(m)
		}
		sel = append(sel, fmt.Sprintf("%s AS __v%d", v, i))
		// Present but not a finite number (unparsable, NaN, ±Inf): malformed.
		bad = append(bad, fmt.Sprintf("(%s IS NOT NULL AND NOT coalesce(isfinite(%s), false))", q(m), v))
	}
	badExpr := "false"
	if len(bad) > 0 {
		badExpr = "coalesce(" + strings.Join(bad, " OR ") + ", false)"
	}
	sel = append(sel, badExpr+" AS "+colBad)
	switch {
	case j.Consent.Column != "":
		sel = append(sel, fmt.Sprintf("coalesce(TRY_CAST(%s AS BOOLEAN), false) AS %s", q(j.Consent.Column), colConsent))
	case j.Consent.Table != nil:
		sel = append(sel, fmt.Sprintf("coalesce(CAST(%s AS VARCHAR) IN (SELECT u FROM %s), false) AS %s", q(j.PrivacyUnit), tabConsent, colConsent))
	default:
		sel = append(sel, "true AS "+colConsent)
	}
	stmts = append(stmts,
		fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS SELECT %s FROM %s", viewEvents, strings.Join(sel, ",\n  "), viewSource),
		fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS SELECT * FROM %s WHERE NOT %s AND %s", viewClean, viewEvents, colBad, colConsent))
	return stmts
}

// consentSQL materializes the units whose latest consent record for the
// job's purpose grants it. On a tie in time, a refusal wins.
func (p *queryPlan) consentSQL() string {
	t := p.job.Consent.Table
	if t == nil {
		return ""
	}
	return fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %s AS
SELECT u FROM (
  SELECT CAST(%s AS VARCHAR) AS u,
         arg_max(coalesce(TRY_CAST(%s AS BOOLEAN), false), struct_pack(t := TRY_CAST(%s AS TIMESTAMP), r := NOT coalesce(TRY_CAST(%s AS BOOLEAN), false))) AS g
  FROM %s
  WHERE CAST(%s AS VARCHAR) = %s AND %s IS NOT NULL
  GROUP BY 1
) WHERE g`,
		tabConsent, q(t.Unit), q(t.Granted), q(t.At), q(t.Granted),
		consentReader(t.Path), q(t.Purpose), lit(p.job.Purpose), q(t.Unit))
}

func consentReader(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet":
		return fmt.Sprintf("read_parquet(%s)", lit(path))
	case ".json", ".jsonl", ".ndjson":
		return fmt.Sprintf("read_json(%s, format='newline_delimited')", lit(path))
	}
	return fmt.Sprintf("read_csv(%s, header=true)", lit(path))
}

// keyColumns are the group-by columns of all outputs, sorted.
func (p *queryPlan) keyColumns() []string {
	var out []string
	for _, o := range p.job.Outputs {
		for _, g := range o.GroupBy {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (p *queryPlan) measure(col string) string {
	return fmt.Sprintf("__v%d", slices.Index(p.measures, col))
}

// publicTable names the temp table holding the public values of group-by
// column g of output o.
func publicTable(o, g int) string { return fmt.Sprintf("__public_%d_%d", o, g) }

// publicSQL creates the public-partition value tables of output o.
func (p *queryPlan) publicSQL(o int) []string {
	var stmts []string
	out := p.job.Outputs[o]
	for gi, g := range out.GroupBy {
		pp, ok := out.PublicPartitions[g]
		if !ok {
			continue
		}
		var src string
		if pp.File != "" {
			src = fmt.Sprintf("SELECT DISTINCT trim(CAST(column0 AS VARCHAR)) AS v FROM read_csv(%s, header=true, all_varchar=true, columns={'column0': 'VARCHAR'}) WHERE column0 IS NOT NULL", lit(pp.File))
		} else {
			vals := make([]string, len(pp.Values))
			for i, v := range pp.Values {
				vals[i] = "(" + lit(v) + ")"
			}
			src = "SELECT DISTINCT v FROM (VALUES " + strings.Join(vals, ", ") + ") t(v)"
		}
		stmts = append(stmts, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS %s", publicTable(o, gi), src))
	}
	return stmts
}

// allPublic reports whether every group-by column of output o has a public
// list, so keys come from the lists alone and need no DP selection.
func (p *queryPlan) allPublic(o int) bool {
	out := p.job.Outputs[o]
	for _, g := range out.GroupBy {
		if _, ok := out.PublicPartitions[g]; !ok {
			return false
		}
	}
	return true
}

// formatKey renders key column k of a pairs/bounded relation as the
// released text.
func (p *queryPlan) formatKey(k, expr string) string {
	switch d := p.derived[k].(type) {
	case transforms.Native:
		return d.FormatSQL(expr)
	case transforms.Derived:
		return expr // already text
	}
	return "CAST(" + expr + " AS VARCHAR)"
}

// statsTable names the temp table of output o's per-partition statistics.
func statsTable(o int) string { return fmt.Sprintf("__stats_%d", o) }

// counted reports whether output o also counts the rows read, rejected and
// excluded by consent. The first output does, so the input is scanned once.
func counted(o int) bool { return o == 0 }

// pairsSQL is the query of output o's (unit, partition) pairs: the row count
// __rows, per measure the unit's partition total __t<j>, and the keyed hash
// __h = hash(unit, partition, secret seed) that decides which partitions a
// unit keeps. The hash is computed per pair, after grouping.
//
// The counted output groups every row, clean or not: rows that are malformed
// or without consent get a NULL __unit, so they fold into at most one group
// per partition and carry the counts (__rej: malformed rows). They never
// reach an aggregate (see statsSQL). With public partitions its pairs carry
// __pub (the partition is listed) instead of being filtered, so rows in
// unlisted partitions are still counted.
func (p *queryPlan) pairsSQL(o int) string {
	out := p.job.Outputs[o]
	keys := quoteAll(out.GroupBy)
	unit, from := colUnit, viewClean
	if counted(o) {
		unit = fmt.Sprintf("CASE WHEN NOT %s AND %s THEN %s END AS %s", colBad, colConsent, colUnit, colUnit)
		from = viewEvents
	}
	sel := append([]string{unit}, keys...)
	sel = append(sel, "count(*) AS "+colRows)
	for _, j := range p.outputMeasures(o) {
		sel = append(sel, fmt.Sprintf("sum(__v%d) AS __t%d", j, j))
	}
	if counted(o) {
		sel = append(sel, fmt.Sprintf("count(*) FILTER (WHERE %s) AS __rej", colBad))
	}
	hashArgs := append([]string{colUnit}, keys...)
	hashArgs = append(hashArgs, fmt.Sprintf("%d::UBIGINT", p.seed))
	extra, where := "", ""
	if pub := p.publicCond(o); pub != "" {
		if counted(o) {
			extra = ", " + pub + " AS __pub"
		} else {
			where = " WHERE " + pub
		}
	}
	return fmt.Sprintf("SELECT *, hash(%s) AS __h%s FROM (SELECT %s FROM %s GROUP BY ALL)%s",
		strings.Join(hashArgs, ", "), extra, strings.Join(sel, ", "), from, where)
}

// publicCond is the condition that a pair's partition is on output o's
// public lists, or "" if it has none.
func (p *queryPlan) publicCond(o int) string {
	out := p.job.Outputs[o]
	var where []string
	for gi, g := range out.GroupBy {
		if _, ok := out.PublicPartitions[g]; ok {
			where = append(where, fmt.Sprintf("%s IN (SELECT v FROM %s)", p.formatKey(g, q(g)), publicTable(o, gi)))
		}
	}
	return strings.Join(where, " AND ")
}

// rankedSQL ranks each unit's partitions by the keyed hash and keeps the
// first L0: a uniformly random choice per unit that nobody without the
// per-run seed can predict or steer. One streaming window over the pairs
// (no temp table, no join): DuckDB partitions by unit and sorts by hash.
// row_number numbers a unit's partitions 1, 2, 3, ... even where two hashes
// are equal (a 64-bit collision), so a unit never keeps more than L0
// partitions, whatever the input; it is also cheaper than rank() over a
// wider sort key.
//
// For the counted output, rows without a unit (not clean) pass through, and
// __urows is the unit's clean row total, read once per unit (at rank 1). With
// public lists, units are ranked among their listed partitions only.
func (p *queryPlan) rankedSQL(o int) string {
	out := p.job.Outputs[o]
	part := colUnit
	if counted(o) && p.publicCond(o) != "" {
		part += ", __pub"
	}
	win := fmt.Sprintf("PARTITION BY %s ORDER BY __h", part)
	if !counted(o) {
		return fmt.Sprintf("SELECT * FROM (%s) QUALIFY row_number() OVER (%s) <= %d", p.pairsSQL(o), win, out.MaxPartitionsPerUnit)
	}
	return fmt.Sprintf(`SELECT *, row_number() OVER w AS %s, sum(%s) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS __urows
FROM (%s) WINDOW w AS (%s) QUALIFY %s IS NULL OR %s <= %d`,
		colRank, colRows, p.pairsSQL(o), win, colUnit, colRank, out.MaxPartitionsPerUnit)
}

// boundedSQL is the query of output o's bounded (unit, partition) pairs:
// __unit, the group-by columns, __rows and the totals __t<j>; each unit keeps
// at most L0 partitions (see rankedSQL).
func (p *queryPlan) boundedSQL(o int) string {
	cols := append([]string{colUnit}, quoteAll(p.job.Outputs[o].GroupBy)...)
	cols = append(cols, colRows)
	for _, j := range p.outputMeasures(o) {
		cols = append(cols, fmt.Sprintf("__t%d", j))
	}
	where := colUnit + " IS NOT NULL"
	if counted(o) && p.publicCond(o) != "" {
		where += " AND __pub"
	}
	return fmt.Sprintf("SELECT %s FROM (%s) WHERE %s", strings.Join(cols, ", "), p.rankedSQL(o), where)
}

// Row count columns of the counted output's statistics.
const (
	colCleanRows = "__clean_rows" // rows of units with consent, well formed
	colOtherRows = "__other_rows" // rows malformed or without consent
	colRejRows   = "__rej_rows"   // malformed rows
)

// preparedStatsSQL creates output o's statistics table from the input: one
// scan, one aggregation into pairs, one window, one small aggregate.
func (p *queryPlan) preparedStatsSQL(o int) string {
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS %s", statsTable(o), p.statsSQL(o, "("+p.rankedSQL(o)+")", counted(o)))
}

// countsSQL sums the row counts in the counted output's statistics.
func countsSQL() string {
	return fmt.Sprintf("SELECT coalesce(sum(%s + %s), 0)::BIGINT, coalesce(sum(%s), 0)::BIGINT, coalesce(sum(%s - %s), 0)::BIGINT FROM %s",
		colCleanRows, colOtherRows, colRejRows, colOtherRows, colRejRows, statsTable(0))
}

// outputMeasures are the measure indexes output o uses.
func (p *queryPlan) outputMeasures(o int) []int {
	var js []int
	for _, m := range p.job.Outputs[o].Metrics {
		if m.Column == "" {
			continue
		}
		j := slices.Index(p.measures, m.Column)
		if !slices.Contains(js, j) {
			js = append(js, j)
		}
	}
	slices.Sort(js)
	return js
}

func (p *queryPlan) clampSQL(m Metric) string {
	j := slices.Index(p.measures, m.Column)
	// DuckDB's least/greatest skip NULLs; a unit without a value stays NULL.
	return fmt.Sprintf("(CASE WHEN __t%d IS NULL THEN NULL ELSE least(greatest(__t%d, %s), %s) END)", j, j, fmtFloat(*m.Min), fmtFloat(*m.Max))
}

// aggregateSQL is the per-partition aggregate query of output o over the
// bounded rows in relation bounded, in the column layout privacy.Releaser
// reads (docs/ARCHITECTURE.md).
func (p *queryPlan) aggregateSQL(o int, bounded string) string {
	return p.releaseSQL(o, "("+p.statsSQL(o, bounded, false)+")")
}

// statsSQL aggregates a bounded or ranked relation into one row per
// partition: the group-by columns in their native types, then the
// statistics of docs/ARCHITECTURE.md. Rows without a unit, or (for the
// counted output with public lists) in unlisted partitions, feed no
// statistic; with withCounts they are counted in the row count columns.
func (p *queryPlan) statsSQL(o int, rel string, withCounts bool) string {
	out := p.job.Outputs[o]
	keep := colUnit + " IS NOT NULL"
	if withCounts && p.publicCond(o) != "" {
		keep += " AND __pub"
	}
	f := func(agg string) string { return agg + " FILTER (WHERE " + keep + ")" }
	sel := quoteAll(out.GroupBy)
	sel = append(sel, fmt.Sprintf("%s::BIGINT AS %s", f("count(*)"), privacy.UnitsColumn))
	for i, m := range out.Metrics {
		col := func(stat string) string { return q(privacy.StatColumn(i, stat)) }
		switch privacy.MetricKind(m.Type) {
		case privacy.Count:
			sel = append(sel, fmt.Sprintf("coalesce(%s, 0)::BIGINT AS %s", f(fmt.Sprintf("sum(least(%s, %d))", colRows, m.MaxPerUnit)), col(privacy.StatN)))
		case privacy.Sum:
			sel = append(sel, fmt.Sprintf("coalesce(%s, 0)::DOUBLE AS %s", f(fmt.Sprintf("sum(%s)", p.clampSQL(m))), col(privacy.StatSum)))
		case privacy.Mean, privacy.Variance:
			mid := fmtFloat(*m.Min + (*m.Max-*m.Min)/2)
			sel = append(sel,
				fmt.Sprintf("%s::BIGINT AS %s", f(fmt.Sprintf("count(%s)", p.clampSQL(m))), col(privacy.StatN)),
				fmt.Sprintf("coalesce(%s, 0)::DOUBLE AS %s", f(fmt.Sprintf("sum(%s - %s)", p.clampSQL(m), mid)), col(privacy.StatSum)))
			if privacy.MetricKind(m.Type) == privacy.Variance {
				sel = append(sel, fmt.Sprintf("coalesce(%s, 0)::DOUBLE AS %s", f(fmt.Sprintf("sum(power(%s - %s, 2))", p.clampSQL(m), mid)), col(privacy.StatSumSq)))
			}
		}
	}
	if withCounts {
		sel = append(sel,
			fmt.Sprintf("coalesce(sum(__urows) FILTER (WHERE %s IS NOT NULL AND %s = 1), 0)::BIGINT AS %s", colUnit, colRank, colCleanRows),
			fmt.Sprintf("coalesce(sum(%s) FILTER (WHERE %s IS NULL), 0)::BIGINT AS %s", colRows, colUnit, colOtherRows),
			fmt.Sprintf("coalesce(sum(__rej), 0)::BIGINT AS %s", colRejRows))
	}
	return fmt.Sprintf("SELECT %s FROM %s GROUP BY ALL", strings.Join(sel, ", "), rel)
}

// statColumns are the statistics columns of output o, in layout order.
func (p *queryPlan) statColumns(o int) []string {
	stats := []string{privacy.UnitsColumn}
	for i, m := range p.job.Outputs[o].Metrics {
		switch privacy.MetricKind(m.Type) {
		case privacy.Count:
			stats = append(stats, privacy.StatColumn(i, privacy.StatN))
		case privacy.Sum:
			stats = append(stats, privacy.StatColumn(i, privacy.StatSum))
		case privacy.Mean:
			stats = append(stats, privacy.StatColumn(i, privacy.StatN), privacy.StatColumn(i, privacy.StatSum))
		case privacy.Variance:
			stats = append(stats, privacy.StatColumn(i, privacy.StatN), privacy.StatColumn(i, privacy.StatSum), privacy.StatColumn(i, privacy.StatSumSq))
		}
	}
	return stats
}

// releaseSQL reads output o's statistics relation (statsSQL) in the layout
// privacy.Releaser reads: keys formatted as text, partitions with at least
// one unit, ordered by key; with public partitions, every listed key.
func (p *queryPlan) releaseSQL(o int, stats string) string {
	out := p.job.Outputs[o]
	keys := quoteAll(out.GroupBy)
	statCols := quoteAll(p.statColumns(o))
	// Group natively, then format the keys of each partition as text.
	formatted := make([]string, len(out.GroupBy))
	for i, g := range out.GroupBy {
		formatted[i] = fmt.Sprintf("%s AS %s", p.formatKey(g, q(g)), q(g))
	}
	agg := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s > 0",
		strings.Join(formatted, ", "), strings.Join(statCols, ", "), stats, q(privacy.UnitsColumn))
	if !p.allPublic(o) {
		return agg + " ORDER BY " + orderBy(keys)
	}
	// Public partitions: every listed key, zero where there is no data.
	var cross []string
	for i, g := range out.GroupBy {
		cross = append(cross, fmt.Sprintf("(SELECT v AS %s FROM %s) p%d", q(g), publicTable(o, i), i))
	}
	outer := append([]string{}, prefixAll("k.", keys)...)
	for _, z := range statCols {
		outer = append(outer, fmt.Sprintf("coalesce(a.%s, 0) AS %s", z, z))
	}
	return fmt.Sprintf("SELECT %s FROM (SELECT * FROM %s) k LEFT JOIN (%s) a USING (%s) ORDER BY %s",
		strings.Join(outer, ", "), strings.Join(cross, " CROSS JOIN "), agg, strings.Join(keys, ", "), orderBy(prefixAll("k.", keys)))
}

// hasQuantiles reports whether output o has quantile metrics.
func (p *queryPlan) hasQuantiles(o int) bool {
	for _, m := range p.job.Outputs[o].Metrics {
		if privacy.MetricKind(m.Type) == privacy.Quantiles {
			return true
		}
	}
	return false
}

// quantileSQL streams one clamped per-unit total per bounded (unit,
// partition) row for the quantile metrics of output o.
func (p *queryPlan) quantileSQL(o int, bounded string) string {
	out := p.job.Outputs[o]
	keys := quoteAll(out.GroupBy)
	var sel []string
	for _, g := range out.GroupBy {
		sel = append(sel, fmt.Sprintf("%s AS %s", p.formatKey(g, q(g)), q(g)))
	}
	for i, m := range out.Metrics {
		if privacy.MetricKind(m.Type) == privacy.Quantiles {
			sel = append(sel, fmt.Sprintf("%s AS %s", p.clampSQL(m), q(privacy.StatColumn(i, privacy.StatValue))))
		}
	}
	return fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(sel, ", "), bounded, orderBy(keys))
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = q(n)
	}
	return out
}

func prefixAll(prefix string, s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = prefix + v
	}
	return out
}

// orderBy sorts keys like privacy's key comparison: binary collation, NULLs last.
func orderBy(keys []string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + " ASC NULLS LAST"
	}
	return strings.Join(out, ", ")
}

func fmtFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	return "CAST(" + lit(s) + " AS DOUBLE)"
}
