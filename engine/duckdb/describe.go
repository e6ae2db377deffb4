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

// FileSchema is what DescribeFile reads of a data file.
type FileSchema struct {
	Columns []Column
	// Delimiter is a CSV file's delimiter, as DuckDB's sniffer detects it;
	// "" for the other formats.
	Delimiter string
}

// DescribeFile returns the columns of the data file at path, read as a run
// reads input of that format (CSV with a header, Parquet, newline-delimited
// JSON), and a CSV file's delimiter. It reads the schema only: Parquet
// metadata or a CSV/JSON sample, and never returns a value. A missing or
// unreadable file, or one whose format the extension does not tell, is an
// *engine.InputError; so is a CSV file the sniffer cannot read, or one where
// it finds a single column although the header line holds a delimiter (a
// line with more or fewer fields than the header confuses it): the error
// names the first such line and the kind of problem (CSVLineError), never a
// value.
func DescribeFile(ctx context.Context, path string, format job.InputFormat) (_ *FileSchema, err error) {
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
	unreadable := func(err error) error {
		if format == job.InputCSV {
			if p, perr := locateCSVProblem(ctx, []string{path}, guessDelimiter(path), true); perr == nil && p != nil {
				err = p
			}
		}
		return &engine.InputError{Reason: "cannot read the columns of " + path, Err: err}
	}
	rows, err := db.QueryRows(ctx, fmt.Sprintf("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM %s)", reader))
	if err != nil {
		return nil, unreadable(scrub(err))
	}
	s := &FileSchema{}
	for _, r := range rows {
		name, _ := r[0].(string)
		typ, _ := r[1].(string)
		s.Columns = append(s.Columns, Column{Name: name, Type: typ})
	}
	if format != job.InputCSV {
		return s, nil
	}
	rows, err = db.QueryRows(ctx, fmt.Sprintf("SELECT Delimiter FROM sniff_csv(%s, header=true, %s)", lit(path), CSVReadOptions))
	if err != nil {
		return nil, unreadable(scrub(err))
	}
	if len(rows) != 1 {
		return nil, unreadable(errors.New("the CSV sniffer found no dialect"))
	}
	s.Delimiter, _ = rows[0][0].(string)
	if d := guessDelimiter(path); len(s.Columns) == 1 && d != "" && d != s.Delimiter {
		// One column, but the header line holds a delimiter: the sniffer
		// gave up on the delimiter (a ragged line), or a column name holds
		// the character. Only a problem found settles it.
		if p, perr := locateCSVProblem(ctx, []string{path}, d, true); perr == nil && p != nil {
			return nil, &engine.InputError{Reason: "cannot read the columns of " + path, Err: p}
		}
	}
	return s, nil
}
