package duckdb

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/transforms"
)

// The SQL of a job, built from the validated Job. Stages are temp views over
// DuckDB's own readers, so DuckDB plans the whole job at once and reads only
// the declared columns:
//
//	__src     the reader, projecting Job.InputColumns()
//	__events  privacy unit as __unit, group-by keys (raw or derived) in their
//	          native types, measures as DOUBLE (__v<j>), and the row flags
//	          __bad and __consent
//	__clean   rows that are neither malformed nor without consent
//
// Per output, a small dictionary table maps each partition's keys to a
// dense integer id (dictSQL; the first output's also counts the rows read
// and malformed, and checks the person ids). One query then bounds and
// aggregates (pairsSQL, statsSQL); with a consent column it also decides
// consent per person (foldsConsent), so the run reads the input once per
// dictionary and once per bounding. Each clean row is joined to its
// partition id, each
// unit keeps the rows of at most L0 of its partitions, ranked by a keyed hash
// of (unit, partition keys, secret per-run seed), which is a uniformly random
// choice per unit that no one without the seed can predict or steer; the
// kept rows are summed per (unit, partition), then per partition.
//
// An output whose keys come from the data is released in two phases
// (docs/two-phase.md). Phase 1 keeps the bounded pairs in a table
// (pairsTable) and counts the distinct bounded units per partition for DP
// partition selection. Phase 2 bounds again among the selected partitions
// (selectedTable): a unit whose kept partitions were all selected keeps the
// same pairs, read from the table; only the other units (affectedTable) are
// bounded again from the input (reboundSQL).
type queryPlan struct {
	job      *job.Job
	derived  map[string]transforms.Derived
	measures []string // metric columns, index j -> __v<j>
	seed     uint64
	prepared map[int]bool // outputs whose dictionary and statistics tables exist
	// unitExact marks outputs whose bounding window partitions by the unit
	// itself, after a hash collision of two units (see unitKey).
	unitExact map[int]bool
	// unitHash is the window key of a non-integer unit (see unitKey).
	unitHash string
	// partitions is the number of rows of each output's dictionary.
	partitions map[int]int64
	// l0 holds the L0 of outputs whose bounds were estimated (bounds.go);
	// the others bound with their job's value.
	l0 map[int]int64
	// rebound marks two-phase outputs whose phase 2 bounds some units
	// again (affectedTable is not empty).
	rebound map[int]bool
	// types are the DuckDB types of the input columns, by name, once
	// prepareInput has described the input.
	types map[string]string
	// in is what prepareInput learned about the input (input.go).
	in inputPlan
	// layouts are the statistics each output computes (privacy.StatLayout):
	// one SQL column per distinct statistic, shared by the metrics that
	// need it.
	layouts []privacy.StatLayout
	// needClean is set when a reader other than the bounding windows reads
	// the consented rows (__clean): staging, bound estimates, or a RawInput.
	// Otherwise the bounding windows decide consent (foldsConsent).
	needClean bool
	// excluded counts the well-formed rows of people who refused, once the
	// counted output's statistics exist, when the bounding windows decide
	// consent (its dictionary counts them otherwise).
	excluded int64
}

const (
	viewSource     = "__src"
	viewEvents     = "__events"
	viewClean      = "__clean"
	colUnit        = "__unit"
	colBad         = "__bad"
	colConsent     = "__consent"
	colRows        = "__rows"
	tabRejects     = "__rejects"
	tabRejectScans = "__rejects_scans"
)

func newQueryPlan(j *job.Job, seed uint64) (*queryPlan, error) {
	q := &queryPlan{job: j, derived: map[string]transforms.Derived{}, seed: seed, prepared: map[int]bool{}, unitExact: map[int]bool{}, partitions: map[int]int64{}, l0: map[int]int64{}, rebound: map[int]bool{}, unitHash: "hash(" + colUnit + ")"}
	q.needClean = j.Staging != nil || q.estimates()
	names := make([]string, 0, len(j.Columns))
	for n := range j.Columns {
		names = append(names, n)
	}
	slices.Sort(names)
	var problems []job.Problem
	for _, n := range names {
		d, err := j.Columns[n].Transform(n)
		if err != nil {
			problems = append(problems, job.Problem{Key: "columns." + n, Rule: err.Error()})
			continue
		}
		q.derived[n] = d
	}
	if len(problems) > 0 {
		return nil, &job.ConfigError{File: j.File, Problems: problems}
	}
	for o, os := range j.PrivacySpec().Outputs {
		l, err := os.Layout()
		if err != nil {
			return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: fmt.Sprintf("outputs[%d].metrics", o), Rule: err.Error()}}}
		}
		for k, n := range l.Needs {
			if !sqlStatistics[n.Stat] {
				return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{
					Key:  fmt.Sprintf("outputs[%d].metrics", o),
					Rule: fmt.Sprintf("need statistic %s (%s), which the embedded engine cannot compute", n.Stat, l.Column(k))}}}
			}
		}
		q.layouts = append(q.layouts, l)
	}
	seen := map[string]bool{}
	for _, o := range j.Outputs {
		for _, m := range o.Metrics {
			if m.Column != "" && !seen[m.Column] {
				seen[m.Column] = true
				q.measures = append(q.measures, m.Column)
			}
		}
	}
	return q, nil
}

var q = transforms.QuoteIdent
var lit = transforms.QuoteString

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

// twoPhase reports whether output o is released in two phases: its keys
// come from the data (at least one group-by column has no public list).
func (p *queryPlan) twoPhase(o int) bool {
	out := p.job.Outputs[o]
	return !out.PublicKeysOnly() && out.Selection != privacy.SelectCountThreshold
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

// dictTable names the temp table of output o's partition dictionary.
func dictTable(o int) string { return fmt.Sprintf("__dict_%d", o) }

// pairsTable names the temp table of a two-phase output's phase-1 bounded
// pairs (pairsSQL).
func pairsTable(o int) string { return fmt.Sprintf("__pairs_%d", o) }

// selectedTable names the temp table of the partition ids (__pid) that
// passed DP partition selection.
func selectedTable(o int) string { return fmt.Sprintf("__selected_%d", o) }

// affectedTable names the temp table of the units (__ukey) that phase 2
// bounds again from the input (affectedSQL).
func affectedTable(o int) string { return fmt.Sprintf("__affected_%d", o) }

// selectedStatsTable names the temp table of phase 2's per-partition
// statistics when some units were bounded again.
func selectedStatsTable(o int) string { return fmt.Sprintf("__stats_selected_%d", o) }

// selectionView names the Arrow view of the selected keys.
func selectionView(o int) string { return fmt.Sprintf("__selection_%d", o) }

// outputTables are the temp tables of output o, dropped once it is released.
func outputTables(o int) []string {
	return []string{selectedStatsTable(o), affectedTable(o), selectedTable(o), statsTable(o), pairsTable(o), unitPartsTable(o), dictTable(o)}
}

// counted reports whether output o also counts the rows read, rejected and
// excluded by consent. The first output does, in its dictionary query.
func counted(o int) bool { return o == 0 }

// Columns of the partition dictionary and of the bounding queries.
const (
	colPid     = "__pid"     // dense partition id, from the dictionary
	colPh      = "__ph"      // hash of the partition's keys: its label in the L0 ranking
	colPub     = "__pub"     // the partition is on the output's public lists (or it has none)
	colUkey    = "__ukey"    // the key the L0 window partitions by (see unitKey)
	colRk      = "__rk"      // a partition's rank key in the L0 window (see pairsSQL)
	colCollide = "__collide" // two units share one __ukey (see unitKey)
	colRead    = "__read"    // rows read
	colRej     = "__rej"     // malformed rows
	colExcl    = "__excl"    // well-formed rows without consent
)

// dictSQL creates output o's partition dictionary from the input: one row
// per distinct key tuple (in the keys' native types) of any row, clean or
// not, with a dense id __pid, the hash of its keys __ph and whether it is on
// the public lists __pub. The counted output's dictionary also counts the
// rows read, malformed (__rej) and without consent (__excl) per key tuple.
//
// Ids follow key order, so two partitions compare the same way whatever
// other partitions exist: where two keys' hashes tie in the L0 ranking (see
// pairsSQL), the tie breaks the same way with or without any one person.
//
// The dictionary is small (one row per partition) and turns the partition
// keys into one integer, so the bounding window and the pairs aggregation
// carry 8 bytes per row instead of every key column.
func (p *queryPlan) dictSQL(o int) string {
	keys := quoteAll(p.job.Outputs[o].GroupBy)
	sel := append([]string{}, keys...)
	if counted(o) {
		sel = append(sel,
			"count(*) AS "+colRead,
			fmt.Sprintf("count(*) FILTER (WHERE %s) AS %s", colBad, colRej))
		if p.checksIds() {
			sel = append(sel, fmt.Sprintf("bool_and(%s) AS %s", colCanon, colCanon))
		}
		if !p.foldsConsent() {
			sel = append(sel, fmt.Sprintf("count(*) FILTER (WHERE NOT %s AND NOT %s) AS %s", colBad, colConsent, colExcl))
		}
	}
	pub := p.publicCond(o)
	if pub == "" {
		pub = "true"
	}
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT row_number() OVER (ORDER BY %s) AS %s, hash(%s) AS %s, %s AS %s, * FROM (SELECT %s FROM %s GROUP BY ALL)",
		dictTable(o), orderBy(keys), colPid, strings.Join(keys, ", "), colPh, pub, colPub, strings.Join(sel, ", "), viewEvents)
}

// publicCond is the condition that a partition's keys are on output o's
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

// integerUnits are the DuckDB types of a privacy unit column that the
// bounding window can partition by directly (fixed width, cheap to sort).
var integerUnits = map[string]bool{
	"TINYINT": true, "SMALLINT": true, "INTEGER": true, "BIGINT": true, "HUGEINT": true,
	"UTINYINT": true, "USMALLINT": true, "UINTEGER": true, "UBIGINT": true, "UHUGEINT": true,
}

// preparedStatsSQL creates output o's statistics table from the input: one
// scan, one join with the dictionary, one window, two small aggregates. A
// two-phase output keeps its bounded pairs in pairsTable first (phase 1);
// its statistics table then holds the phase-1 statistics, of which
// selection reads the unit counts.
func (p *queryPlan) preparedStatsSQL(o int) []string {
	if !p.twoPhase(o) {
		return []string{fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS %s", statsTable(o), p.statsSQL(o, "("+p.pairsSQL(o, bounding{})+")"))}
	}
	return []string{
		fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS %s", pairsTable(o), p.pairsSQL(o, bounding{})),
		fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS %s", statsTable(o), p.statsSQL(o, pairsTable(o))),
	}
}

// selectionSQL is the phase-1 batch of a two-phase output for
// privacy.Releaser.SelectPartitions: the keys as text and the distinct
// bounded units of every partition with data, ordered by key.
func (p *queryPlan) selectionSQL(o int) string {
	out := p.job.Outputs[o]
	return fmt.Sprintf("SELECT * FROM (SELECT %s, s.%s FROM %s s JOIN %s d USING (%s) WHERE s.%s > 0) ORDER BY %s",
		strings.Join(p.formattedKeys(o, "d."), ", "), q(privacy.UnitsColumn), statsTable(o), dictTable(o), colPid, q(privacy.UnitsColumn),
		orderBy(quoteAll(out.GroupBy)))
}

// formattedKeys are output o's key columns of dictionary alias prefix,
// formatted as the released text and named as in the job.
func (p *queryPlan) formattedKeys(o int, prefix string) []string {
	out := p.job.Outputs[o]
	keys := make([]string, len(out.GroupBy))
	for i, g := range out.GroupBy {
		keys[i] = fmt.Sprintf("%s AS %s", p.formatKey(g, prefix+q(g)), q(g))
	}
	return keys
}

// selectedSQL creates output o's table of selected partition ids from view,
// which holds the selected keys as released text.
func (p *queryPlan) selectedSQL(o int, view string) string {
	out := p.job.Outputs[o]
	on := make([]string, len(out.GroupBy))
	for i, g := range out.GroupBy {
		on[i] = fmt.Sprintf("%s IS NOT DISTINCT FROM k.%s", p.formatKey(g, "d."+q(g)), q(g))
	}
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT d.%s FROM %s d JOIN %s k ON %s",
		selectedTable(o), colPid, dictTable(o), view, strings.Join(on, " AND "))
}

// emptySelectedSQL creates output o's table of selected partition ids, empty.
func emptySelectedSQL(o int) string {
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT %s FROM %s WHERE false", selectedTable(o), colPid, dictTable(o))
}

// affectedSQL creates the table of the units that phase 2 must bound again:
// those that kept a partition in phase 1 that was not selected. Every other
// unit keeps its phase-1 pairs: all its kept partitions were selected, so
// they are still its first L0 among the selected ones (or all of them, if
// it has no more than L0).
//
// The pairs of people who refused (partition id 0, pairsSQL) were never
// kept: those people are not bounded again.
func (p *queryPlan) affectedSQL(o int) string {
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT DISTINCT %s FROM (SELECT * FROM %s WHERE %s <> %d) ANTI JOIN %s USING (%s)",
		affectedTable(o), colUkey, pairsTable(o), colPid, excludedPid, selectedTable(o), colPid)
}

// reboundSQL is the query of a two-phase output's phase-2 pairs, bounded
// among the selected partitions, in pairsSQL's columns: the phase-1 pairs
// of units not affected (affectedSQL), in selected partitions, and, if
// rebound, the affected units bounded again from the input among the
// selected partitions.
func (p *queryPlan) reboundSQL(o int, rebound bool) string {
	cols := []string{colUkey, colRk, colPid, colRows}
	for _, j := range p.outputMeasures(o) {
		cols = append(cols, fmt.Sprintf("__t%d", j))
	}
	cols = append(cols, colCollide)
	kept := fmt.Sprintf("SELECT %s FROM %s SEMI JOIN %s USING (%s)", strings.Join(cols, ", "), pairsTable(o), selectedTable(o), colPid)
	if !rebound {
		return kept
	}
	again := p.pairsSQL(o, bounding{units: affectedTable(o), parts: selectedTable(o)})
	return fmt.Sprintf("SELECT * FROM (%s) ANTI JOIN %s USING (%s) UNION ALL SELECT %s FROM (%s)",
		kept, affectedTable(o), colUkey, strings.Join(cols, ", "), again)
}

// selectedStatsSQL creates a two-phase output's phase-2 statistics table.
func (p *queryPlan) selectedStatsSQL(o int) string {
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS %s", selectedStatsTable(o), p.statsSQL(o, "("+p.reboundSQL(o, true)+")"))
}

// selectedStats names the table of a two-phase output's phase-2
// statistics: the phase-1 table when no unit was bounded again (its rows of
// selected partitions are then phase 2's).
func (p *queryPlan) selectedStats(o int) string {
	if p.rebound[o] {
		return selectedStatsTable(o)
	}
	return statsTable(o)
}

// countsSQL sums the row counts in the counted output's dictionary: rows
// read, malformed and, unless the bounding windows decide consent
// (excludedSQL), excluded by consent.
func (p *queryPlan) countsSQL() string {
	excl := fmt.Sprintf("coalesce(sum(%s), 0)::BIGINT", colExcl)
	if p.foldsConsent() {
		excl = "0::BIGINT"
	}
	return fmt.Sprintf("SELECT coalesce(sum(%s), 0)::BIGINT, coalesce(sum(%s), 0)::BIGINT, %s FROM %s",
		colRead, colRej, excl, dictTable(0))
}

// partitionsSQL counts the partitions in output o's dictionary.
func partitionsSQL(o int) string { return "SELECT count(*)::BIGINT FROM " + dictTable(o) }

// collisionSQL reports whether output o's statistics saw two units share a
// window key.
func collisionSQL(o int) string {
	return fmt.Sprintf("SELECT coalesce(bool_or(%s), false) FROM %s", colCollide, statsTable(o))
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

// clampSQL is a unit's partition total of need's column clamped to need's
// bounds.
func (p *queryPlan) clampSQL(n privacy.StatNeed) string {
	j := slices.Index(p.measures, n.Column)
	// DuckDB's least/greatest skip NULLs; a unit without a value stays NULL.
	return fmt.Sprintf("(CASE WHEN __t%d IS NULL THEN NULL ELSE least(greatest(__t%d, %s), %s) END)", j, j, fmtFloat(n.Min), fmtFloat(n.Max))
}

// sqlStatistics are the statistics statSQL and streamSQL compute.
var sqlStatistics = map[privacy.Statistic]bool{
	privacy.RowCount: true, privacy.UnitCount: true, privacy.ValueCount: true, privacy.ClampedSum: true,
	privacy.CenteredSum: true, privacy.CenteredSumSquares: true, privacy.ClampedValues: true,
}

// statSQL is the aggregate over a partition's bounded (unit, partition)
// pairs that computes statistic n: the sum of every unit's contribution
// (privacy.Statistic.PerPerson).
func (p *queryPlan) statSQL(n privacy.StatNeed) string {
	mid := fmtFloat(privacy.Midpoint(n.Min, n.Max))
	switch n.Stat {
	case privacy.RowCount:
		return fmt.Sprintf("coalesce(sum(least(%s, %d)), 0)::BIGINT", colRows, n.MaxPerUnit)
	case privacy.UnitCount:
		return "count(*)::BIGINT"
	case privacy.ValueCount:
		return fmt.Sprintf("count(%s)::BIGINT", p.clampSQL(n))
	case privacy.ClampedSum:
		return fmt.Sprintf("coalesce(sum(%s), 0)::DOUBLE", p.clampSQL(n))
	case privacy.CenteredSum:
		return fmt.Sprintf("coalesce(sum(%s - %s), 0)::DOUBLE", p.clampSQL(n), mid)
	case privacy.CenteredSumSquares:
		return fmt.Sprintf("coalesce(sum(power(%s - %s, 2)), 0)::DOUBLE", p.clampSQL(n), mid)
	}
	panic(fmt.Sprintf("statSQL: statistic %s (newQueryPlan refuses jobs that need it)", n.Stat))
}

// aggregateSQL is the per-partition aggregate query of output o over the
// bounded pairs in relation bounded (boundedSQL), in the column layout
// privacy.Releaser reads (docs/ARCHITECTURE.md).
func (p *queryPlan) aggregateSQL(o int, bounded string) string {
	return p.releaseSQL(o, "("+p.statsSQL(o, bounded)+")")
}

// statsSQL aggregates a relation of bounded pairs (pairsSQL, boundedSQL)
// into one row per partition: __pid, then the statistics of
// docs/ARCHITECTURE.md, then __collide.
func (p *queryPlan) statsSQL(o int, pairs string) string {
	l := p.layouts[o]
	sel := []string{colPid, fmt.Sprintf("count(*)::BIGINT AS %s", privacy.UnitsColumn)}
	for k, n := range l.Needs {
		if !n.Stat.Stream() {
			sel = append(sel, fmt.Sprintf("%s AS %s", p.statSQL(n), q(l.Column(k))))
		}
	}
	sel = append(sel, fmt.Sprintf("coalesce(bool_or(%s), false) AS %s", colCollide, colCollide))
	if p.foldsConsent() && counted(o) {
		// The well-formed rows of people who refused (pairsSQL), in the
		// row of partition id 0.
		sel = append(sel, fmt.Sprintf("coalesce(sum(%s) FILTER (WHERE %s = %d), 0)::BIGINT AS %s", colRows, colPid, excludedPid, colExcl))
	}
	return fmt.Sprintf("SELECT %s FROM %s GROUP BY %s", strings.Join(sel, ", "), pairs, colPid)
}

// unranked is the rank key of the rows a bounding window that decides
// consent does not rank (pairsSQL): the largest UBIGINT, which no ranked
// partition's key equals.
var unranked = fmt.Sprintf("%d::UBIGINT", ^uint64(0))

// excludedPid is the partition id of the pairs that hold the well-formed
// rows of people who refused, when the bounding windows decide consent
// (pairsSQL). Dictionary ids start at 1.
const excludedPid = 0

// excludedSQL reads the counted output's count of the well-formed rows of
// people who refused (statsSQL).
func excludedSQL() string {
	return fmt.Sprintf("SELECT coalesce(sum(%s), 0)::BIGINT FROM %s", colExcl, statsTable(0))
}

// dropExcludedSQL deletes the statistics of output o's partition id 0 (the
// people who refused, pairsSQL), which no release reads.
func dropExcludedSQL(o int) string {
	return fmt.Sprintf("DELETE FROM %s WHERE %s = %d", statsTable(o), colPid, excludedPid)
}

// statColumns are the statistics columns of output o, in layout order.
func (p *queryPlan) statColumns(o int) []string {
	stats := []string{privacy.UnitsColumn}
	l := p.layouts[o]
	for k, n := range l.Needs {
		if !n.Stat.Stream() {
			stats = append(stats, l.Column(k))
		}
	}
	return stats
}

// releaseSQL reads output o's statistics relation (statsSQL) in the layout
// privacy.Releaser reads: keys from the dictionary, formatted as text,
// ordered by key; with public partitions every listed key, in two phases
// every selected key (selectedTable), zero where there is no data; with
// count_threshold every partition with data.
func (p *queryPlan) releaseSQL(o int, stats string) string {
	out := p.job.Outputs[o]
	keys := quoteAll(out.GroupBy)
	statCols := quoteAll(p.statColumns(o))
	if p.twoPhase(o) {
		zeroed := make([]string, len(statCols))
		for i, z := range statCols {
			zeroed[i] = fmt.Sprintf("coalesce(s.%s, 0) AS %s", z, z)
		}
		return fmt.Sprintf("SELECT * FROM (SELECT %s, %s FROM %s k JOIN %s d USING (%s) LEFT JOIN %s s USING (%s)) ORDER BY %s",
			strings.Join(p.formattedKeys(o, "d."), ", "), strings.Join(zeroed, ", "), selectedTable(o), dictTable(o), colPid, stats, colPid, orderBy(keys))
	}
	agg := fmt.Sprintf("SELECT %s, %s FROM %s s JOIN %s d USING (%s) WHERE s.%s > 0",
		strings.Join(p.formattedKeys(o, "d."), ", "), strings.Join(prefixAll("s.", statCols), ", "), stats, dictTable(o), colPid, q(privacy.UnitsColumn))
	if !out.PublicKeysOnly() {
		// Selection through the count (count_threshold): every partition
		// with data; the releaser keeps those whose noised count passes.
		return fmt.Sprintf("SELECT * FROM (%s) ORDER BY %s", agg, orderBy(keys))
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
