package duckdb

import (
	"fmt"
	"math/bits"
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

// unitKey is the expression the L0 window of output o partitions by, and
// whether the query must check it for collisions.
//
// DuckDB partitions and sorts a window far faster by a fixed-width integer
// than by text, so a text (or other non-integer) unit is partitioned by its
// 64-bit hash. Two units with the same hash would be bounded jointly, which
// is not the bound the noise assumes; the query therefore compares every row's
// unit with the first unit of its window partition and flags any difference
// (__collide), and prepareOutput recomputes the output with the unit itself
// as key (unitExact) if any flag is set. Integer units (and the row unit) are
// their own key.
func (p *queryPlan) unitKey(o int) (expr string, check bool) {
	if p.job.PrivacyUnit == job.RowUnit || integerUnits[p.types[p.job.PrivacyUnit]] || p.unitExact[o] {
		return colUnit, false
	}
	return p.unitHash, true
}

// bounding says which rows a bounding query (pairsSQL) reads and what it
// returns. The zero value bounds every unit among all its partitions.
type bounding struct {
	// withUnit also returns the unit itself.
	withUnit bool
	// units, if set, is a table of window keys (__ukey): only these units
	// are bounded. Phase 2 of a two-phase output; no collision check (phase
	// 1 checked every row under the same key) and no consent decision (these
	// units kept pairs in phase 1, so they consented on every row).
	units string
	// parts, if set, is a table of partition ids (__pid): only rows of
	// these partitions are read, so units are ranked among them.
	parts string
}

// pairsSQL is the query of output o's bounded (unit, partition) pairs:
// __ukey, __rk, __pid, the row count __rows, per measure the unit's
// partition total __t<j>, and __collide (see unitKey); with b.withUnit also
// the unit itself.
//
// Bounding is one window over the rows, each joined to its partition's
// dictionary entry: per unit, partitions are ranked by a keyed hash of (unit,
// partition keys, secret per-run seed), a uniformly random order per unit
// that nobody without the seed can predict or steer, and the rows of the
// first L0 partitions are kept. The rank key replaces the hash's low bits
// with the partition id (at most bits.Len(partitions) bits, so at least 40
// random bits remain below 16M partitions): every partition of a unit has
// its own dense_rank even if two hashes are equal, so a unit never keeps more
// than L0 partitions, whatever the input. The kept rows are then aggregated
// per (unit, partition). With public lists, rows in unlisted partitions are
// not ranked, so units are ranked among their listed partitions only.
//
// When the window decides consent (foldsConsent) it reads every row with a
// person id, not only the clean ones: a person is consented when every one
// of their rows grants consent (bool_and over the window partition), and
// only a consented person's clean rows are ranked and kept. Rows that are
// not ranked (malformed, or in an unlisted partition) sort after every
// ranked partition, so they never take a rank from one. The well-formed
// rows of each person who refused leave the window as one pair with
// partition id 0 (__rows counts them): statsSQL counts them for the run
// report, and prepareOutput drops that pair's statistics (excludedPid).
// The same window also flags hash collisions, so two people who share a
// window key are bounded again apart before any consent decision counts.
func (p *queryPlan) pairsSQL(o int, b bounding) string {
	out := p.job.Outputs[o]
	ukey, check := p.unitKey(o)
	check = check && b.units == ""
	// The window decides consent unless the units are given: they kept
	// pairs in phase 1, so each of them consented on every row.
	fold := p.foldsConsent() && b.units == ""
	js := p.outputMeasures(o)
	var vs []string
	for _, j := range js {
		vs = append(vs, fmt.Sprintf("__v%d", j))
	}

	// Each row with its window key, its partition's rank key and its
	// measures. The rank key holds the keyed hash in the high bits and the
	// partition id in the low bits: unique per partition, and one 8-byte
	// sort key that also carries the partition id through the window.
	//
	// DuckDB's hash(a, b, seed) folds the seed in with a final XOR, so on its
	// own it only flips bits of a public hash: the order of a unit's
	// partitions would follow a fixed binary trie, and some of its partitions
	// would be kept far more often than others (one in two instead of one in
	// three). Hashing it again mixes the seed into every bit, so each unit's
	// order is a fresh random one per seed
	// (TestBoundingChoiceIsUniformPerPerson).
	//
	// The partition id never has all its bits set (pidBits leaves room for
	// one more id), so no rank key is unranked, the largest UBIGINT.
	pidBits := bits.Len64(uint64(p.partitions[o]) + 1)
	on := make([]string, len(out.GroupBy))
	for i, g := range out.GroupBy {
		on[i] = fmt.Sprintf("c.%s IS NOT DISTINCT FROM d.%s", q(g), q(g))
	}
	dict := dictTable(o)
	pub := p.publicCond(o) != ""
	rk := fmt.Sprintf("(hash(hash(%s, %s, %d::UBIGINT)) & %d::UBIGINT) | %s::UBIGINT", colUkey, colPh, p.seed, ^uint64(0)<<pidBits, colPid)
	cols := []string{colUnit, fmt.Sprintf("%s AS %s", ukey, colUkey), "d." + colPid, "d." + colPh}
	cols = append(cols, prefixAll("c.", vs)...)
	var flags []string // the window's row flags, after the measures
	var joined string
	if fold {
		// Every row with a person id. Rows the window does not rank
		// (malformed, unlisted, or outside b.parts) get the rank key
		// unranked, which sorts after every ranked partition, and still
		// count for their person's consent.
		skipIf := []string{"c." + colBad}
		if pub {
			skipIf = append(skipIf, "NOT d."+colPub)
		}
		if b.parts != "" {
			dict = fmt.Sprintf("(SELECT *, %s IN (SELECT %s FROM %s) AS __in FROM %s)", colPid, colPid, b.parts, dictTable(o))
			skipIf = append(skipIf, "NOT d.__in")
		}
		cols = append(cols, "c."+colBad, "c."+colConsent, strings.Join(skipIf, " OR ")+" AS __skip")
		flags = []string{colBad, colConsent}
		rk = fmt.Sprintf("CASE WHEN __skip THEN %s ELSE %s END", unranked, rk)
		joined = fmt.Sprintf("SELECT %s FROM %s c JOIN %s d ON %s WHERE %s",
			strings.Join(cols, ", "), viewEvents, dict, strings.Join(on, " AND "), p.usableUnitSQL())
	} else {
		if b.parts != "" {
			dict = fmt.Sprintf("(SELECT * FROM %s SEMI JOIN %s USING (%s))", dictTable(o), b.parts, colPid)
		}
		clean := viewClean
		if p.foldsConsent() {
			// Consented units only (b.units): the rows that are clean.
			clean = fmt.Sprintf("(SELECT * FROM %s WHERE NOT %s AND %s)", viewEvents, colBad, colConsent)
		}
		joined = fmt.Sprintf("SELECT %s FROM %s c JOIN %s d ON %s", strings.Join(cols, ", "), clean, dict, strings.Join(on, " AND "))
		if pub {
			joined += " WHERE d." + colPub
		}
	}
	if b.units != "" {
		joined = fmt.Sprintf("SELECT * FROM (%s) SEMI JOIN %s USING (%s)", joined, b.units, colUkey)
	}
	rows := fmt.Sprintf("SELECT %s, %s, %s AS %s, %s FROM (%s)",
		colUnit, colUkey, rk, colRk, strings.Join(append(append([]string{}, vs...), flags...), ", "), joined)

	group := []string{colUkey, colRk}
	if b.withUnit && ukey != colUnit {
		group = append(group, colUnit)
	}
	l0 := out.MaxPartitionsPerUnit
	if v, ok := p.l0[o]; ok {
		l0 = v
	}
	ranked := append(append([]string{}, group...), vs...)
	windows := fmt.Sprintf("w AS (PARTITION BY %s ORDER BY %s)", colUkey, colRk)
	var window string
	if !fold {
		keep := fmt.Sprintf("dense_rank() OVER w <= %d", l0)
		if check {
			ranked = append(ranked, fmt.Sprintf("%s <> first_value(%s) OVER w AS %s", colUnit, colUnit, colCollide))
			keep += " OR " + colCollide
		}
		window = fmt.Sprintf("SELECT %s FROM (%s) WINDOW %s QUALIFY %s", strings.Join(ranked, ", "), rows, windows, keep)
	} else {
		// A refused person's well-formed rows keep rank key 0: one pair
		// with partition id 0.
		ranked[1] = fmt.Sprintf("CASE WHEN __ok THEN %s ELSE 0::UBIGINT END AS %s", colRk, colRk)
		inner := append(append([]string{}, group...), vs...)
		inner = append(inner, flags...)
		inner = append(inner,
			fmt.Sprintf("bool_and(%s) OVER wall AS __ok", colConsent),
			"dense_rank() OVER w AS __dr")
		windows += fmt.Sprintf(", wall AS (PARTITION BY %s ORDER BY %s ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)", colUkey, colRk)
		keep := fmt.Sprintf("(__ok AND %s <> %s AND __dr <= %d) OR NOT (__ok OR %s)", colRk, unranked, l0, colBad)
		if check {
			inner = append(inner, fmt.Sprintf("%s <> first_value(%s) OVER w AS %s", colUnit, colUnit, colCollide))
			ranked = append(ranked, colCollide)
			keep += " OR " + colCollide
		}
		window = fmt.Sprintf("SELECT %s FROM (SELECT %s FROM (%s) WINDOW %s) WHERE %s",
			strings.Join(ranked, ", "), strings.Join(inner, ", "), rows, windows, keep)
	}

	sel := append(append([]string{}, group...), fmt.Sprintf("(%s & %d::UBIGINT)::BIGINT AS %s", colRk, uint64(1)<<pidBits-1, colPid), "count(*) AS "+colRows)
	for _, j := range js {
		sel = append(sel, fmt.Sprintf("sum(__v%d) AS __t%d", j, j))
	}
	if check {
		sel = append(sel, fmt.Sprintf("bool_or(%s) AS %s", colCollide, colCollide))
	} else {
		sel = append(sel, "false AS "+colCollide)
	}
	return fmt.Sprintf("SELECT %s FROM (%s) GROUP BY %s", strings.Join(sel, ", "), window, strings.Join(group, ", "))
}

// boundedSQL is the query of output o's bounded (unit, partition) pairs with
// the unit and the partition's key columns: __unit, __ukey, the group-by
// columns, __pid, __rows, the totals __t<j> and __collide. It reads output
// o's dictionary, so it runs after prepareOutput.
func (p *queryPlan) boundedSQL(o int) string {
	keys := prefixAll("d.", quoteAll(p.job.Outputs[o].GroupBy))
	cols := append([]string{"b.*"}, keys...)
	unit := ""
	if u, _ := p.unitKey(o); u == colUnit {
		unit = fmt.Sprintf("b.%s AS %s, ", colUkey, colUnit) // the window key is the unit
	}
	return fmt.Sprintf("SELECT %s%s FROM (%s) b JOIN %s d USING (%s)", unit, strings.Join(cols, ", "), p.pairsSQL(o, bounding{withUnit: true}), dictTable(o), colPid)
}

// withKeys joins a relation of bounded pairs of output o with the
// partitions' key columns (in their native types).
func (p *queryPlan) withKeys(o int, pairs string) string {
	keys := prefixAll("d.", quoteAll(p.job.Outputs[o].GroupBy))
	return fmt.Sprintf("SELECT b.*, %s FROM (%s) b JOIN %s d USING (%s)", strings.Join(keys, ", "), pairs, dictTable(o), colPid)
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
