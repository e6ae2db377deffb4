package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
)

// The bounding oracle (--oracle): how much bias L0 bounding alone leaves when
// exactly the N partitions with the most people are selected, with no noise
// and no selection error. It is the best case for any selection of N
// partitions made on people counts, so it shows which targets a plan can
// reach at a given L0 before any epsilon is spent.

// oracleSizes and oracleL0s are the selections and L0 bounds the oracle
// tabulates.
var (
	oracleSizes = []int{20, 100, 300, 500, 700, 1000}
	oracleL0s   = []int{5, 8, 10, 15}
)

// oracleSQL gives, for the N largest partitions by people (%[1]d) and L0
// (%[2]d): the mean bias of people over the 20 largest partitions (people
// expected to be cut: each person keeps min(1, L0/n) of each of their n
// selected partitions), the median relative bias of people over the N, and
// the share of people with more than L0 selected partitions. It reads the
// table pp of perPersonSQL.
const oracleSQL = `WITH part AS (SELECT campaign, channel, week, count(*) AS people,
                     row_number() OVER (ORDER BY count(*) DESC, campaign, channel, week) AS r FROM pp GROUP BY campaign, channel, week),
s AS (SELECT pp.u, part.r, part.people FROM pp JOIN part USING (campaign, channel, week) WHERE part.r <= %[1]d),
per AS (SELECT u, count(*) AS np FROM s GROUP BY u),
b AS (SELECT r, people, sum(greatest(0, 1 - %[2]d / np)) AS bias FROM s JOIN per USING (u) GROUP BY r, people)
SELECT avg(bias) FILTER (WHERE r <= 20), median(bias / people), (SELECT avg((np > %[2]d)::INT) FROM per) FROM b`

// writeOracle prints the oracle table for the data in pp.
func writeOracle(ctx context.Context, db *sql.DB, w io.Writer) error {
	fmt.Fprintln(w, "| partitions selected (the largest) | L0 | people: bias, mean over the 20 largest | people: median relative bias | people cut (more than L0 selected partitions) |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|")
	for _, n := range oracleSizes {
		for _, l0 := range oracleL0s {
			var top, med, cut float64
			if err := db.QueryRowContext(ctx, fmt.Sprintf(oracleSQL, n, l0)).Scan(&top, &med, &cut); err != nil {
				return fmt.Errorf("oracle N=%d L0=%d: %w", n, l0, err)
			}
			fmt.Fprintf(w, "| %d | %d | %.1f | %.1f%% | %.1f%% |\n", n, l0, top, 100*med, 100*cut)
		}
	}
	return nil
}
