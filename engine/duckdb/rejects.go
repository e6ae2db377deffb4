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
// row (or consent record) was rejected, as queries of their own (a clean
// input pays nothing), and reads no value: it names the line (CSV,
// newline-delimited JSON) or row index (Parquet), the column and the rule
// (malformedRules, consentRules).
//
//	__rejected          one row per (input row, rule broken): the file, the
//	                    row's position __n and the rule's index
//	__consent_rejected  the same for the consent table's records
//
// Positions. Parquet rows have their index in the file (file_row_number,
// from 0). CSV and JSON rows are numbered in read order (row_number() OVER
// (), which follows the file while insertion order is preserved, DuckDB's
// default); with several files each file's first row is found by a second
// scan. Both readers skip blank lines without numbering them, so after a
// blank line the number is that many lines short. A JSON row's line is its
// record number. A CSV row's line is its record number plus the header,
// plus, for the input, the lines the CSV reader itself rejected before it
// (the rejects table has their lines); a quoted value holding line breaks
// counts as one line. The rejects table's csv_line and error_message
// columns quote the input and are never read.

const (
	tabRejected        = "__rejected"
	tabConsentRejected = "__consent_rejected"
	colFile            = "__file" // the reader's filename column, in the listing only
)

// rejectScan is what a rejects listing scans: a table's reader and the
// rules its rows must keep.
type rejectScan struct {
	table   string          // the temp table of rejected rows
	rules   []malformedRule // the rules, over columns
	columns []string        // the select list over the reader that the rules read
	where   string          // the rows the rules judge; "" for all
	// reader is the table function with the reader options extra
	// (", name=value...") added.
	reader func(extra string) string
	format job.InputFormat
	header int64 // CSV lines before the first record
	// csvErrors adds the lines the CSV reader itself rejected (the input's
	// reader, which skips them).
	csvErrors bool
	// files is how many files the reader reads; with one, rows name no
	// file unless nameFile.
	files    int
	nameFile bool
}

// inputRejects is the input's rejects scan.
func (p *queryPlan) inputRejects() rejectScan {
	header := int64(0)
	if h := p.job.Input.CSV.Header; p.job.Input.Format == job.InputCSV && (h == nil || *h) {
		header = 1
	}
	return rejectScan{table: tabRejected, rules: p.malformedRules(), columns: p.sourceColumns(), reader: p.reader,
		format: p.job.Input.Format, header: header, csvErrors: p.job.Input.Format == job.InputCSV, files: p.in.files}
}

// consentRejects is the consent table's rejects scan: the records that
// count (consentForPurpose), each row naming the consent table's file.
func (p *queryPlan) consentRejects() rejectScan {
	path, names := p.job.Consent.Table.Path, p.in.consentNames
	format := job.ConsentFormat(path)
	header := int64(0)
	if format == job.InputCSV {
		header = 1
	}
	return rejectScan{table: tabConsentRejected, rules: p.consentRules(), columns: p.consentColumns(names), where: p.consentForPurpose(),
		reader: func(extra string) string { return consentReader(path, names, extra) }, format: format, header: header, nameFile: true}
}

// rejectedSQL creates the scan's table: a scan of the reader with each
// row's file and position, keeping the rows that break a rule with the
// rules they broke.
func (s rejectScan) rejectedSQL() string {
	hits := make([]string, len(s.rules))
	for i, r := range s.rules {
		hits[i] = fmt.Sprintf("CASE WHEN coalesce(%s, false) THEN %d END", r.sql, i)
	}
	pos := "row_number() OVER ()"
	extra := fmt.Sprintf(", filename=%s", lit(colFile))
	if s.format == job.InputParquet {
		pos, extra = "file_row_number", extra+", file_row_number=true"
	}
	where := badSQL(s.rules)
	if s.where != "" {
		where = "(" + s.where + ") AND " + where
	}
	return fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %s AS
SELECT %s, __n, unnest(list_filter([%s], x -> x IS NOT NULL)) AS __rule FROM (
  SELECT %s, %s, %s AS __n FROM %s
) WHERE %s`,
		s.table, colFile, strings.Join(hits, ", "),
		strings.Join(s.columns, ", "), colFile, pos, s.reader(extra), where)
}

// listRejects locates the scan's malformed rows: the first
// engine.MaxRejectedRows (row, column, rule) entries in input order and the
// totals per (column, rule). Call it only when some row was rejected.
func listRejects(ctx context.Context, eng *DB, s rejectScan) (*engine.Rejects, error) {
	var rows []engine.RejectedRow
	totals := map[[2]string]int64{}
	if len(s.rules) > 0 {
		if err := eng.Exec(ctx, s.rejectedSQL()); err != nil {
			return nil, scrub(err)
		}
		tot, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT __rule, count(*)::BIGINT FROM %s GROUP BY __rule", s.table))
		if err != nil {
			return nil, scrub(err)
		}
		for _, t := range tot {
			r := s.rules[toInt64(t[0])]
			totals[[2]string{r.column, r.rule}] += toInt64(t[1])
		}
		first, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT %s, __n::BIGINT, __rule FROM %s ORDER BY %s, __n, __rule LIMIT %d",
			colFile, s.table, colFile, engine.MaxRejectedRows))
		if err != nil {
			return nil, scrub(err)
		}
		if rows, err = s.locate(ctx, eng, first); err != nil {
			return nil, err
		}
	}
	if s.csvErrors {
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
	if s.files <= 1 && !s.nameFile {
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

// locate turns the scan table's first rows (file, __n, rule index) into
// report entries: a Parquet row index, or a CSV or JSON line.
func (s rejectScan) locate(ctx context.Context, eng *DB, first [][]any) ([]engine.RejectedRow, error) {
	offsets := map[string]int64{}
	if s.format != job.InputParquet && (s.files > 1 || s.nameFile) {
		// Each file's first row number, in a scan numbered as rejectedSQL's.
		res, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT %s, min(__n)::BIGINT - 1 FROM (SELECT %s, row_number() OVER () AS __n FROM %s) GROUP BY ALL",
			colFile, colFile, s.reader(", filename="+lit(colFile))))
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
		n, rule := toInt64(f[1]), s.rules[toInt64(f[2])]
		rows[i] = engine.RejectedRow{File: file, Column: rule.column, Rule: rule.rule}
		switch s.format {
		case job.InputParquet:
			rows[i].Row = &n
		default:
			rows[i].Line = n - offsets[file] + s.header // the record number in its file, after the header
		}
	}
	if s.csvErrors {
		if err := csvLines(ctx, eng, rows, s.header); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// csvLines adds to the CSV lines of rows (record number plus header) the
// lines the reader rejected before the record. The i-th rejected line r_i
// of a file (in order) has r_i - header - i records before it; record k
// comes after it when that is less than k.
func csvLines(ctx context.Context, eng *DB, rows []engine.RejectedRow, header int64) error {
	if len(rows) == 0 {
		return nil
	}
	vals := make([]string, len(rows))
	for i, r := range rows {
		vals[i] = fmt.Sprintf("(%d, %s, %d)", i, lit(r.File), r.Line-header)
	}
	res, err := eng.QueryRows(ctx, fmt.Sprintf(`WITH l AS (%s),
s AS (SELECT f, line - %d - row_number() OVER (PARTITION BY f ORDER BY line) AS before FROM (SELECT DISTINCT f, line FROM l))
SELECT v.i, (SELECT count(*) FROM s WHERE s.f = v.f AND s.before < v.k)::BIGINT FROM (VALUES %s) v(i, f, k)`,
		csvRejectedLinesSQL(), header, strings.Join(vals, ", ")))
	if err != nil {
		return scrub(err)
	}
	for _, r := range res {
		rows[toInt64(r[0])].Line += toInt64(r[1])
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
		totals[[2]string{col, engine.CSVRule(typ)}] += toInt64(t[2])
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
		rows[i] = engine.RejectedRow{File: f, Line: toInt64(r[1]), Column: col, Rule: engine.CSVRule(typ)}
	}
	return rows, nil
}
