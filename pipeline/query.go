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

// pairsTable names the temp table of output o's (unit, partition) pairs.
func pairsTable(o int) string { return fmt.Sprintf("__pairs_%d", o) }

// pairsSQL materializes output o's (unit, partition) pairs: the row count
// __rows, per measure the unit's partition total __t<j>, and the keyed hash
// __h = hash(unit, partition, secret seed) that decides which partitions a
// unit keeps. For the first output it also counts every row read, rejected
// and excluded by consent (__all, __rej, __excl), so the input is scanned
// only once; then rows that are not clean are grouped too, with __rows 0.
func (p *queryPlan) pairsSQL(o int) string {
	out := p.job.Outputs[o]
	keys := quoteAll(out.GroupBy)
	clean := fmt.Sprintf("NOT %s AND %s", colBad, colConsent)
	filter := func(agg string) string {
		if o == 0 {
			return agg + " FILTER (WHERE " + clean + ")"
		}
		return agg
	}
	sel := append([]string{colUnit}, keys...)
	hashArgs := append([]string{colUnit}, keys...)
	hashArgs = append(hashArgs, fmt.Sprintf("%d::UBIGINT", p.seed))
	sel = append(sel, filter("count(*)")+" AS "+colRows)
	for _, j := range p.outputMeasures(o) {
		sel = append(sel, fmt.Sprintf("%s AS __t%d", filter(fmt.Sprintf("sum(__v%d)", j)), j))
	}
	from := viewClean
	if o == 0 {
		from = viewEvents
		sel = append(sel,
			"count(*) AS __all",
			fmt.Sprintf("count(*) FILTER (WHERE %s) AS __rej", colBad),
			fmt.Sprintf("count(*) FILTER (WHERE NOT %s AND NOT %s) AS __excl", colBad, colConsent))
	}
	// The hash is computed per pair, after grouping.
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT *, hash(%s) AS __h FROM (SELECT %s FROM %s GROUP BY ALL)",
		pairsTable(o), strings.Join(hashArgs, ", "), strings.Join(sel, ", "), from)
}

// countsSQL sums the row counts folded into the first output's pairs.
func countsSQL() string {
	return fmt.Sprintf("SELECT coalesce(sum(__all), 0)::BIGINT, coalesce(sum(__rej), 0)::BIGINT, coalesce(sum(__excl), 0)::BIGINT FROM %s", pairsTable(0))
}

// boundedSQL is the query of output o's bounded (unit, partition) pairs: each
// unit keeps at most L0 partitions, those with the smallest keyed hash, i.e.
// a uniformly random choice per unit that nobody without the per-run seed can
// predict. A unit keeps more than L0 partitions only if two of its partitions
// had equal 64-bit hashes, which for a person with n partitions has
// probability below n²/2^65.
func (p *queryPlan) boundedSQL(o int) string {
	out := p.job.Outputs[o]
	where := []string{colRows + " > 0"}
	for gi, g := range out.GroupBy {
		if _, ok := out.PublicPartitions[g]; ok {
			where = append(where, fmt.Sprintf("%s IN (SELECT v FROM %s)", p.formatKey(g, q(g)), publicTable(o, gi)))
		}
	}
	cond := strings.Join(where, " AND ")
	return fmt.Sprintf(`SELECT p.* FROM %s p JOIN (SELECT %s, list_max(min(__h, %d)) AS __tau FROM %s WHERE %s GROUP BY %s) t USING (%s)
WHERE %s AND p.__h <= t.__tau`,
		pairsTable(o), colUnit, out.MaxPartitionsPerUnit, pairsTable(o), cond, colUnit, colUnit, cond)
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
	out := p.job.Outputs[o]
	keys := quoteAll(out.GroupBy)
	sel := append([]string{}, keys...)
	sel = append(sel, fmt.Sprintf("count(*)::BIGINT AS %s", privacy.UnitsColumn))
	stats := []string{privacy.UnitsColumn}
	for i, m := range out.Metrics {
		col := func(stat string) string { return q(privacy.StatColumn(i, stat)) }
		switch privacy.MetricKind(m.Type) {
		case privacy.Count:
			sel = append(sel, fmt.Sprintf("sum(least(%s, %d))::BIGINT AS %s", colRows, m.MaxPerUnit, col(privacy.StatN)))
			stats = append(stats, privacy.StatColumn(i, privacy.StatN))
		case privacy.Sum:
			sel = append(sel, fmt.Sprintf("coalesce(sum(%s), 0)::DOUBLE AS %s", p.clampSQL(m), col(privacy.StatSum)))
			stats = append(stats, privacy.StatColumn(i, privacy.StatSum))
		case privacy.Mean, privacy.Variance:
			mid := fmtFloat(*m.Min + (*m.Max-*m.Min)/2)
			sel = append(sel,
				fmt.Sprintf("count(%s)::BIGINT AS %s", p.clampSQL(m), col(privacy.StatN)),
				fmt.Sprintf("coalesce(sum(%s - %s), 0)::DOUBLE AS %s", p.clampSQL(m), mid, col(privacy.StatSum)))
			stats = append(stats, privacy.StatColumn(i, privacy.StatN), privacy.StatColumn(i, privacy.StatSum))
			if privacy.MetricKind(m.Type) == privacy.Variance {
				sel = append(sel, fmt.Sprintf("coalesce(sum(power(%s - %s, 2)), 0)::DOUBLE AS %s", p.clampSQL(m), mid, col(privacy.StatSumSq)))
				stats = append(stats, privacy.StatColumn(i, privacy.StatSumSq))
			}
		}
	}
	// Group natively, then format the keys of each partition as text.
	formatted := make([]string, len(out.GroupBy))
	for i, g := range out.GroupBy {
		formatted[i] = fmt.Sprintf("%s AS %s", p.formatKey(g, q(g)), q(g))
	}
	agg := fmt.Sprintf("SELECT %s, %s FROM (SELECT %s FROM %s GROUP BY ALL)",
		strings.Join(formatted, ", "), strings.Join(quoteAll(stats), ", "), strings.Join(sel, ", "), bounded)
	if !p.allPublic(o) {
		return agg + " ORDER BY " + orderBy(keys)
	}
	// Public partitions: every listed key, zero where there is no data.
	var cross []string
	for i, g := range out.GroupBy {
		cross = append(cross, fmt.Sprintf("(SELECT v AS %s FROM %s) p%d", q(g), publicTable(o, i), i))
	}
	outer := append([]string{}, prefixAll("k.", keys)...)
	for _, z := range stats {
		outer = append(outer, fmt.Sprintf("coalesce(a.%s, 0) AS %s", q(z), q(z)))
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
