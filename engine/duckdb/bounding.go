package duckdb

// Contribution bounding: the window that keeps each person's first L0
// partitions in a keyed random order (pairsSQL), and the relations built on
// its pairs.

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/privagg/privagg/job"
)

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
