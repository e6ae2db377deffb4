package duckdb

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
)

// Column is one column of a data file: its name and the type DuckDB's
// reader gives it.
type Column struct {
	Name string
	Type string
}

// DescribeFile returns the columns of the data file at path, read as a run
// reads input of that format (CSV with a header, Parquet, newline-delimited
// JSON). It reads the schema only: Parquet metadata or a CSV/JSON sample,
// and never returns a value. A missing or unreadable file, or one whose
// format the extension does not tell, is an *engine.InputError.
func DescribeFile(ctx context.Context, path string, format job.InputFormat) (cols []Column, err error) {
	if format == "" {
		format = job.FormatFromExtension(path)
	}
	var reader string
	switch format {
	case job.InputCSV:
		reader = fmt.Sprintf("read_csv(%s, header=true, %s)", lit(path), CSVReadOptions)
	case job.InputParquet:
		reader = fmt.Sprintf("read_parquet(%s)", lit(path))
	case job.InputJSON:
		reader = fmt.Sprintf("read_json(%s, format='newline_delimited')", lit(path))
	default:
		return nil, &engine.InputError{Reason: fmt.Sprintf("%s: the extension does not tell the format (csv, parquet or json)", path)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &engine.InputError{Reason: "cannot open " + path, Err: err}
	}
	f.Close()
	db, err := OpenDB(ctx, DBOptions{Threads: 1})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	rows, err := db.QueryRows(ctx, fmt.Sprintf("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM %s)", reader))
	if err != nil {
		return nil, &engine.InputError{Reason: "cannot read the columns of " + path, Err: scrub(err)}
	}
	for _, r := range rows {
		name, _ := r[0].(string)
		typ, _ := r[1].(string)
		cols = append(cols, Column{Name: name, Type: typ})
	}
	return cols, nil
}
