package duckdb

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
)

// The rejects listing: where the malformed rows are, for the internal run
// report and the message when there are too many. It runs only when some
// row was rejected, as queries of their own (a clean input pays nothing),
// and reads no value: it names the line (CSV, newline-delimited JSON) or
// row index (Parquet), the column and the rule (malformedRules).
//
//	__rejected  one row per (row, rule broken): the file, the row's
//	            position __n and the rule's index in malformedRules
//
// Positions. Parquet rows have their index in the file (file_row_number,
// from 0). CSV and JSON rows are numbered in read order (row_number() OVER
// (), which follows the file while insertion order is preserved, DuckDB's
// default); with several files each file's first row is found by a second
// scan. A JSON row's line is its record number: the reader skips blank
// lines, so after a blank line the number is that many lines short. A CSV
// row's line is its record number plus the header, plus the lines the CSV
// reader itself rejected before it (the rejects table has their lines); a
// quoted value holding line breaks counts as one line. The rejects table's
// csv_line and error_message columns quote the input and are never read.

const (
	tabRejected = "__rejected"
	colFile     = "__file" // the reader's filename column, in the listing only
)

// rejectsSQL creates __rejected: a scan of the input with each row's file
// and position, keeping the malformed rows with the rules they broke.
func (p *queryPlan) rejectsSQL(rules []malformedRule) string {
	hits := make([]string, len(rules))
	for i, r := range rules {
		hits[i] = fmt.Sprintf("CASE WHEN coalesce(%s, false) THEN %d END", r.sql, i)
	}
	pos := "row_number() OVER ()"
	extra := fmt.Sprintf(", filename=%s", lit(colFile))
	if p.job.Input.Format == job.InputParquet {
		pos, extra = "file_row_number", extra+", file_row_number=true"
	}
	return fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %s AS
SELECT %s, __n, unnest(list_filter([%s], x -> x IS NOT NULL)) AS __rule FROM (
  SELECT %s, %s, %s AS __n FROM %s
) WHERE %s`,
		tabRejected, colFile, strings.Join(hits, ", "),
		strings.Join(p.sourceColumns(), ", "), colFile, pos, p.reader(extra), badSQL(rules))
}

// listRejects locates the malformed rows: the first engine.MaxRejectedRows
// (row, column, rule) entries in input order and the totals per (column,
// rule). Call it only when some row was rejected.
func listRejects(ctx context.Context, eng *DB, qp *queryPlan) (*engine.Rejects, error) {
	rules := qp.malformedRules()
	var rows []engine.RejectedRow
	totals := map[[2]string]int64{}
	if len(rules) > 0 {
		if err := eng.Exec(ctx, qp.rejectsSQL(rules)); err != nil {
			return nil, scrub(err)
		}
		tot, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT __rule, count(*)::BIGINT FROM %s GROUP BY __rule", tabRejected))
		if err != nil {
			return nil, scrub(err)
		}
		for _, t := range tot {
			r := rules[toInt64(t[0])]
			totals[[2]string{r.column, r.rule}] += toInt64(t[1])
		}
		first, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT %s, __n::BIGINT, __rule FROM %s ORDER BY %s, __n, __rule LIMIT %d",
			colFile, tabRejected, colFile, engine.MaxRejectedRows))
		if err != nil {
			return nil, scrub(err)
		}
		if rows, err = qp.locate(ctx, eng, rules, first); err != nil {
			return nil, err
		}
	}
	if qp.job.Input.Format == job.InputCSV {
		parsed, err := csvParseErrors(ctx, eng, totals)
		if err != nil {
			return nil, err
		}
		rows = append(rows, parsed...)
	}
	// Input order: by file, then line or row; a row's own entries keep the
	// order of their rules.
	slices.SortStableFunc(rows, func(a, b engine.RejectedRow) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(rowIndex(a), rowIndex(b)))
	})
	out := &engine.Rejects{Rows: rows[:min(len(rows), engine.MaxRejectedRows)]}
	for k, n := range totals {
		out.Totals = append(out.Totals, engine.RejectTotal{Column: k[0], Rule: k[1], Rows: n})
	}
	slices.SortFunc(out.Totals, func(a, b engine.RejectTotal) int {
		return cmp.Or(cmp.Compare(a.Column, b.Column), cmp.Compare(a.Rule, b.Rule))
	})
	if qp.in.files <= 1 {
		for i := range out.Rows {
			out.Rows[i].File = ""
		}
	}
	return out, nil
}

func rowIndex(r engine.RejectedRow) int64 {
	if r.Row == nil {
		return 0
	}
	return *r.Row
}

// locate turns __rejected's first rows (file, __n, rule index) into report
// entries: a Parquet row index, or a CSV or JSON line.
func (p *queryPlan) locate(ctx context.Context, eng *DB, rules []malformedRule, first [][]any) ([]engine.RejectedRow, error) {
	format := p.job.Input.Format
	offsets := map[string]int64{}
	if format != job.InputParquet && p.in.files > 1 {
		// Each file's first row number, in a scan numbered as rejectsSQL's.
		res, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT %s, min(__n)::BIGINT - 1 FROM (SELECT %s, row_number() OVER () AS __n FROM %s) GROUP BY ALL",
			colFile, colFile, p.reader(", filename="+lit(colFile))))
		if err != nil {
			return nil, scrub(err)
		}
		for _, r := range res {
			f, _ := r[0].(string)
			offsets[f] = toInt64(r[1])
		}
	}
	rows := make([]engine.RejectedRow, len(first))
	for i, f := range first {
		file, _ := f[0].(string)
		n, rule := toInt64(f[1]), rules[toInt64(f[2])]
		rows[i] = engine.RejectedRow{File: file, Column: rule.column, Rule: rule.rule}
		switch format {
		case job.InputParquet:
			rows[i].Row = &n
		default:
			rows[i].Line = n - offsets[file] // the record number in its file
		}
	}
	if format == job.InputCSV {
		if err := p.csvLines(ctx, eng, rows); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// csvLines turns the record numbers of rows into CSV lines: record number
// plus the header, plus the lines the reader rejected before the record.
// The i-th rejected line r_i of a file (in order) has r_i - header - i
// records before it; record k comes after it when that is less than k.
func (p *queryPlan) csvLines(ctx context.Context, eng *DB, rows []engine.RejectedRow) error {
	header := int64(0)
	if h := p.job.Input.CSV.Header; h == nil || *h {
		header = 1
	}
	if len(rows) == 0 {
		return nil
	}
	vals := make([]string, len(rows))
	for i, r := range rows {
		vals[i] = fmt.Sprintf("(%d, %s, %d)", i, lit(r.File), r.Line)
	}
	res, err := eng.QueryRows(ctx, fmt.Sprintf(`WITH l AS (%s),
s AS (SELECT f, line - %d - row_number() OVER (PARTITION BY f ORDER BY line) AS before FROM (SELECT DISTINCT f, line FROM l))
SELECT v.i, (SELECT count(*) FROM s WHERE s.f = v.f AND s.before < v.k)::BIGINT FROM (VALUES %s) v(i, f, k)`,
		csvRejectedLinesSQL(), header, strings.Join(vals, ", ")))
	if err != nil {
		return scrub(err)
	}
	for _, r := range res {
		rows[toInt64(r[0])].Line += header + toInt64(r[1])
	}
	return nil
}

// csvRejectedLinesSQL lists the lines the CSV reader rejected, once each
// per (file f, line, column, error type), from every scan of the input. It
// reads neither csv_line nor error_message: they quote the input.
func csvRejectedLinesSQL() string {
	return fmt.Sprintf(`SELECT DISTINCT s.file_path AS f, e.line::BIGINT AS line, coalesce(e.column_name, '') AS col, e.error_type::VARCHAR AS typ
FROM %s e JOIN %s s USING (scan_id, file_id)`, tabRejects, tabRejectScans)
}

// csvParseErrors lists the lines the CSV reader rejected (first
// engine.MaxRejectedRows) and adds their totals (lines per column and
// error) to totals.
func csvParseErrors(ctx context.Context, eng *DB, totals map[[2]string]int64) ([]engine.RejectedRow, error) {
	tot, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT col, typ, count(*)::BIGINT FROM (%s) GROUP BY ALL", csvRejectedLinesSQL()))
	if err != nil {
		return nil, scrub(err)
	}
	for _, t := range tot {
		col, _ := t[0].(string)
		typ, _ := t[1].(string)
		totals[[2]string{col, csvRule(typ)}] += toInt64(t[2])
	}
	first, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT f, line, col, typ FROM (%s) ORDER BY f, line, col, typ LIMIT %d", csvRejectedLinesSQL(), engine.MaxRejectedRows))
	if err != nil {
		return nil, scrub(err)
	}
	rows := make([]engine.RejectedRow, len(first))
	for i, r := range first {
		f, _ := r[0].(string)
		col, _ := r[2].(string)
		typ, _ := r[3].(string)
		rows[i] = engine.RejectedRow{File: f, Line: toInt64(r[1]), Column: col, Rule: csvRule(typ)}
	}
	return rows, nil
}

// csvRule states a CSV reader error type (DuckDB's rejects table) as a rule.
func csvRule(errorType string) string {
	if errorType == "CAST" {
		return "csv: value does not fit the column's type"
	}
	return "csv: " + strings.ToLower(errorType)
}
