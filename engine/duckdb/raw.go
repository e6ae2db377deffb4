package duckdb

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
)

// RawInput is a job's input as the engine reads it (readers, consent per
// person, derived columns, malformed rows dropped), for tools that study
// raw data before any release: `privagg tune` in its non-private mode. It
// draws no noise and charges nothing; what it computes is not DP and must
// never be released or written to output.dir.
type RawInput struct {
	db *DB
	qp *queryPlan
}

// OpenRawInput reads j's input with the embedded engine's views (input.go).
// Errors are *engine.InputError or *job.ConfigError as for a release.
func OpenRawInput(ctx context.Context, j *job.Job) (*RawInput, error) {
	qp, err := newQueryPlan(j, 0)
	if err != nil {
		return nil, err
	}
	qp.needClean = true // PairsSQL reads the consented rows
	db, err := OpenDB(ctx, DBOptions{MemoryLimit: j.Privacy.MemoryLimit, TempDir: j.Privacy.TempDir, Threads: j.Privacy.Threads})
	if err != nil {
		return nil, err
	}
	if err := prepareInput(ctx, db, qp); err != nil {
		db.Close()
		return nil, err
	}
	return &RawInput{db: db, qp: qp}, nil
}

// PairsSQL creates output o's public-partition tables and returns a query
// of its (person, partition) pairs before any bounding, one row per person
// and partition with clean rows on the output's public lists:
//
//	u   the canonical person id
//	p   the partition's dense id (1, 2, ... in key order)
//	r   the person's rows in the partition (BIGINT)
//	t<i> the person's partition total of columns[i] (DOUBLE; NULL when
//	     the person has no value there)
//
// columns must be metric columns of the job.
func (r *RawInput) PairsSQL(ctx context.Context, o int, columns []string) (string, error) {
	out := r.qp.job.Outputs[o]
	for _, s := range r.qp.publicSQL(o) {
		if err := r.db.Exec(ctx, s); err != nil {
			return "", &engine.InputError{Reason: fmt.Sprintf("cannot read the public partitions of output %q", out.Name), Err: scrub(err)}
		}
	}
	keys := quoteAll(out.GroupBy)
	sel := []string{colUnit + " AS u"}
	sel = append(sel, keys...)
	sel = append(sel, "count(*)::BIGINT AS r")
	var ts []string
	for i, c := range columns {
		j := slices.Index(r.qp.measures, c)
		if j < 0 {
			return "", fmt.Errorf("pairs of output %q: %q is not a metric column", out.Name, c)
		}
		sel = append(sel, fmt.Sprintf("sum(__v%d)::DOUBLE AS t%d", j, i))
		ts = append(ts, fmt.Sprintf("t%d", i))
	}
	where := ""
	if pub := r.qp.publicCond(o); pub != "" {
		where = " WHERE " + pub
	}
	cols := append([]string{"u", fmt.Sprintf("dense_rank() OVER (ORDER BY %s)::BIGINT AS p", orderBy(keys)), "r"}, ts...)
	return fmt.Sprintf("SELECT %s FROM (SELECT %s FROM %s%s GROUP BY %s)",
		strings.Join(cols, ", "), strings.Join(sel, ", "), viewClean, where, strings.Join(append([]string{colUnit}, keys...), ", ")), nil
}

// Exec runs statements that return no rows; errors are scrubbed of values.
func (r *RawInput) Exec(ctx context.Context, query string) error {
	if err := r.db.Exec(ctx, query); err != nil {
		return scrub(err)
	}
	return nil
}

// QueryRows runs a small query; errors are scrubbed of values.
func (r *RawInput) QueryRows(ctx context.Context, query string) ([][]any, error) {
	rows, err := r.db.QueryRows(ctx, query)
	if err != nil {
		return nil, scrub(err)
	}
	return rows, nil
}

// Close closes the database.
func (r *RawInput) Close() error { return r.db.Close() }
