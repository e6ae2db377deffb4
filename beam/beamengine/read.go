package beamengine

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/transforms"
)

// source says how to turn one input line or file into rows of the projected
// columns. It is part of DoFns, so its fields are exported and serialize to
// JSON for remote workers.
type source struct {
	Format    job.InputFormat
	Columns   []string          // projected columns, in row order
	Delim     string            // csv
	Header    []string          // csv: column names of the files (from the first file's header)
	HasHeader bool              // csv: every file starts with a header line
	Types     map[string]string // csv: DuckDB's sniffed type per column (BIGINT, DOUBLE, ...); missing = text
	// Text are the columns read as text whatever they hold (the privacy
	// unit, the consent column, a consent table's columns), as DuckDB reads
	// a VARCHAR column: see jsonText.
	Text map[string]bool
	// Names are the files' spelling of the columns, lower-cased name ->
	// spelling (duckdb.Spelling, from duckdb.CheckInput): a job column is
	// read under the file's spelling, as the embedded engine compares names
	// without case. Nil when the driver cannot read the files' schema
	// (remote input): then names are looked up as the job spells them.
	Names map[string]string
}

// name is the files' spelling of projected column c.
func (s *source) name(c string) string { return duckdb.Spelling(s.Names).Of(c) }

// csvProblem is one reason DuckDB's CSV reader rejects a line: an error
// type of its rejects table (engine.CSVCast, ...) and the column it names
// ("" for too many columns). It never holds the value.
type csvProblem struct{ Column, ErrorType string }

// badLine is a CSV line that DuckDB's CSV reader (ignore_errors) would
// reject, with its problems sorted as the embedded engine lists them (by
// column, then error type).
type badLine struct{ Problems []csvProblem }

func (e *badLine) Error() string { return "malformed row" }

// errNotJSON marks an NDJSON line that is not a JSON object. DuckDB's JSON
// reader (ignore_errors) reads it as a record of NULLs, which parseLine
// returns with it.
var errNotJSON = errors.New("not a JSON object")

// header reports whether the line at pos is a header line: a CSV file's
// first line that is not blank, when the files have a header.
func (s *source) header(pos linePos) bool {
	return s.Format == job.InputCSV && s.HasHeader && pos.first()
}

func (s *source) splitCSV(line string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(line))
	if s.Delim != "" {
		r.Comma = []rune(s.Delim)[0]
	}
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	return r.Read()
}

// parseLine parses one CSV or NDJSON line (not blank, not a header) into
// the projected columns. A CSV line that DuckDB's reader would reject (a
// projected value that does not fit the column's sniffed type, missing or
// extra columns) returns a *badLine; an NDJSON line that is not an object
// returns a record of NULLs with errNotJSON.
func (s *source) parseLine(line string) ([]transforms.Value, error) {
	vals := make([]transforms.Value, len(s.Columns))
	switch s.Format {
	case job.InputCSV:
		rec, err := s.splitCSV(line)
		if err != nil {
			return nil, &badLine{Problems: []csvProblem{{ErrorType: engine.CSVUnquotedValue}}}
		}
		var bad []csvProblem
		for i, c := range s.Columns {
			idx := indexOf(s.Header, s.name(c))
			if idx < 0 || idx >= len(rec) {
				continue // NULL, or a missing column (below)
			}
			typ := s.Types[s.name(c)]
			if s.Text[c] {
				typ = "" // text
			}
			v, ok := csvValue(rec[idx], typ)
			if !ok {
				bad = append(bad, csvProblem{s.name(c), engine.CSVCast})
				continue
			}
			vals[i] = v
		}
		for _, c := range s.Header[min(len(rec), len(s.Header)):] {
			bad = append(bad, csvProblem{c, engine.CSVMissingColumns})
		}
		if len(rec) > len(s.Header) {
			bad = append(bad, csvProblem{"", engine.CSVTooManyColumns})
		}
		if len(bad) > 0 {
			slices.SortFunc(bad, func(a, b csvProblem) int {
				return cmp.Or(cmp.Compare(a.Column, b.Column), cmp.Compare(a.ErrorType, b.ErrorType))
			})
			return nil, &badLine{Problems: bad}
		}
		return vals, nil
	case job.InputJSON:
		var obj map[string]json.RawMessage
		if err := json.NewDecoder(strings.NewReader(line)).Decode(&obj); err != nil || obj == nil {
			return vals, errNotJSON
		}
		for i, c := range s.Columns {
			raw, ok := obj[s.name(c)]
			if !ok {
				continue // NULL
			}
			if s.Text[c] {
				vals[i] = jsonText(raw)
				continue
			}
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err == nil {
				vals[i] = jsonValue(v)
			}
		}
		return vals, nil
	}
	return nil, fmt.Errorf("input format %q is not read line by line", s.Format)
}

// csvValue types a CSV field like DuckDB's reader with the sniffed type: an
// empty field is NULL; BIGINT and DOUBLE fields must parse.
func csvValue(f, typ string) (transforms.Value, bool) {
	if f == "" {
		return transforms.Value{}, true
	}
	switch typ {
	case "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER":
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return transforms.Value{}, false
		}
		return transforms.Value{Kind: transforms.KindInt, I: n}, true
	case "DOUBLE", "FLOAT":
		x, ok := transforms.ParseDouble(f)
		if !ok {
			return transforms.Value{}, false
		}
		return transforms.Value{Kind: transforms.KindFloat, F: x}, true
	case "BOOLEAN":
		b, ok := transforms.ParseBool(strings.TrimSpace(f))
		if !ok {
			return transforms.Value{}, false
		}
		return transforms.Value{Kind: transforms.KindBool, B: b}, true
	}
	return transforms.Value{Kind: transforms.KindText, S: f}, true
}

// intLiteral is a JSON number without fraction or exponent.
var intLiteral = regexp.MustCompile(`^-?[0-9]+$`)

// jsonText is a JSON value read as DuckDB's JSON reader reads it into a
// VARCHAR column: a string as itself, an integer literal digit for digit
// (however long: a 20-digit id is never rounded through a float), another
// number as DuckDB prints the DOUBLE (1.50 -> 1.5, 1e3 -> 1000.0), true and
// false as text, null as NULL, an array or object as its compact JSON text.
func jsonText(raw json.RawMessage) transforms.Value {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return transforms.Value{}
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return transforms.Value{}
		}
		return transforms.Value{Kind: transforms.KindText, S: s}
	case raw[0] == '{' || raw[0] == '[':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return transforms.Value{}
		}
		return transforms.Value{Kind: transforms.KindText, S: b.String()}
	case string(raw) == "true" || string(raw) == "false":
		return transforms.Value{Kind: transforms.KindText, S: string(raw)}
	case intLiteral.Match(raw):
		return transforms.Value{Kind: transforms.KindText, S: string(raw)}
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || !errors.Is(ne.Err, strconv.ErrRange) {
			return transforms.Value{}
		}
	}
	return transforms.Value{Kind: transforms.KindText, S: transforms.FormatDouble(f)}
}

func jsonValue(v any) transforms.Value {
	switch x := v.(type) {
	case nil:
		return transforms.Value{}
	case string:
		return transforms.Value{Kind: transforms.KindText, S: x}
	case bool:
		return transforms.Value{Kind: transforms.KindBool, B: x}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return transforms.Value{Kind: transforms.KindInt, I: n}
		}
		f, _ := x.Float64()
		return transforms.Value{Kind: transforms.KindFloat, F: f}
	default:
		b, _ := json.Marshal(x)
		return transforms.Value{Kind: transforms.KindText, S: string(b)}
	}
}

// parquetRow is one row of a Parquet file.
type parquetRow struct {
	Index int64              // the row's index in the file, from 0
	Vals  []transforms.Value // the projected columns
	// Integer marks the projected columns the file stores as integers.
	Integer []bool
}

// parquetRows reads the projected columns of one Parquet file and calls fn
// per row. A projected column the file lacks reads as NULL.
func (s *source) parquetRows(ctx context.Context, r io.ReadCloser, fn func(parquetRow) error) error {
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return err
	}
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("open parquet: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("open parquet: %w", err)
	}
	schema, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("parquet schema: %w", err)
	}
	var leaves []int
	pos := make([]int, len(s.Columns)) // projected column -> field index in the read record, or -1
	integer := make([]bool, len(s.Columns))
	for i, c := range s.Columns {
		pos[i] = -1
		if idx := schema.FieldIndices(s.name(c)); len(idx) == 1 {
			pos[i] = len(leaves)
			leaves = append(leaves, pf.MetaData().Schema.ColumnIndexByName(s.name(c)))
			integer[i] = arrow.IsInteger(schema.Field(idx[0]).Type.ID())
		}
	}
	rr, err := fr.GetRecordReader(ctx, leaves, nil)
	if err != nil {
		return fmt.Errorf("read parquet: %w", err)
	}
	defer rr.Release()
	var index int64
	for rr.Next() {
		rec := rr.RecordBatch()
		for row := 0; row < int(rec.NumRows()); row++ {
			vals := make([]transforms.Value, len(s.Columns))
			for i, p := range pos {
				if p >= 0 {
					vals[i] = arrowValue(rec.Column(p), row)
				}
			}
			if err := fn(parquetRow{Index: index, Vals: vals, Integer: integer}); err != nil {
				return err
			}
			index++
		}
	}
	return rr.Err()
}

// arrowValue converts one Arrow cell; types privagg does not group or
// measure by read as their text form.
func arrowValue(col arrow.Array, row int) transforms.Value {
	if col.IsNull(row) {
		return transforms.Value{}
	}
	switch a := col.(type) {
	case *array.String:
		return transforms.Value{Kind: transforms.KindText, S: a.Value(row)}
	case *array.LargeString:
		return transforms.Value{Kind: transforms.KindText, S: a.Value(row)}
	case *array.Int64:
		return transforms.Value{Kind: transforms.KindInt, I: a.Value(row)}
	case *array.Int32:
		return transforms.Value{Kind: transforms.KindInt, I: int64(a.Value(row))}
	case *array.Int16:
		return transforms.Value{Kind: transforms.KindInt, I: int64(a.Value(row))}
	case *array.Int8:
		return transforms.Value{Kind: transforms.KindInt, I: int64(a.Value(row))}
	case *array.Float64:
		return transforms.Value{Kind: transforms.KindFloat, F: a.Value(row)}
	case *array.Float32:
		return transforms.Value{Kind: transforms.KindFloat, F: float64(a.Value(row))}
	case *array.Boolean:
		return transforms.Value{Kind: transforms.KindBool, B: a.Value(row)}
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return transforms.Value{Kind: transforms.KindTime, T: a.Value(row).ToTime(unit)}
	case *array.Date32:
		return transforms.Value{Kind: transforms.KindTime, T: a.Value(row).ToTime()}
	case *array.Date64:
		return transforms.Value{Kind: transforms.KindTime, T: a.Value(row).ToTime()}
	}
	return transforms.Value{Kind: transforms.KindText, S: col.ValueStr(row)}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// unixNanos is the serializable form of a consent timestamp.
func unixNanos(t time.Time) int64 { return t.UnixNano() }
