package release

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/privagg/privagg/privacy"
)

// csvSink writes <dir>/<output>.csv per output: a header line, then one line
// per row in the release's order, LF line endings. Fields are quoted as RFC
// 4180 says (when they hold a comma, a double quote, CR or LF, doubling inner
// quotes), and also when they are an empty string or start or end with a space,
// so that NULL (an empty unquoted field) and "" stay apart. Floats are in the
// shortest form that reads back to the same float64.
type csvSink struct {
	ops fsOps // zero value: defaultFSOps
}

func (s *csvSink) format() string { return FormatCSV }

// Write implements Sink.
func (s *csvSink) Write(ctx context.Context, rel *privacy.Release, dir string) ([]WrittenFile, error) {
	tables, err := tablesOf(rel)
	if err != nil {
		return nil, err
	}
	return writeRelease(ctx, s, tables, rel.Metadata(), dir, opsOrDefault(s.ops))
}

func (s *csvSink) stageData(ctx context.Context, dir *atomicDir, tables []outTable, _ privacy.Metadata) ([]stagedData, error) {
	locs := make([]stagedData, len(tables))
	for i, t := range tables {
		name := t.name + ".csv"
		info, err := dir.stage(name, false, func(w io.Writer) error { return writeCSV(ctx, w, t.record) })
		if err != nil {
			return nil, err
		}
		locs[i] = stagedData{file: name, info: info}
	}
	return locs, nil
}

// csvCheckEvery is how many rows writeCSV writes between checks of ctx.
const csvCheckEvery = 4096

// writeCSV writes rec as CSV. Column types must be utf8, int64 or float64.
func writeCSV(ctx context.Context, w io.Writer, rec arrow.RecordBatch) error {
	ncol := int(rec.NumCols())
	buf := make([]byte, 0, 4096)
	for j := 0; j < ncol; j++ {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = appendCSVString(buf, rec.ColumnName(j))
	}
	buf = append(buf, '\n')

	type column struct {
		str *array.String
		i64 *array.Int64
		f64 *array.Float64
	}
	cols := make([]column, ncol)
	for j := range cols {
		switch c := rec.Column(j).(type) {
		case *array.String:
			cols[j].str = c
		case *array.Int64:
			cols[j].i64 = c
		case *array.Float64:
			cols[j].f64 = c
		default:
			return fmt.Errorf("column %q: type %s is not supported in csv", rec.ColumnName(j), c.DataType())
		}
	}
	nrows := int(rec.NumRows())
	for i := 0; i < nrows; i++ {
		if i%csvCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		for j, c := range cols {
			if j > 0 {
				buf = append(buf, ',')
			}
			switch {
			case c.str != nil:
				if c.str.IsValid(i) {
					buf = appendCSVString(buf, c.str.Value(i))
				}
			case c.i64 != nil:
				if c.i64.IsValid(i) {
					buf = strconv.AppendInt(buf, c.i64.Value(i), 10)
				}
			default:
				if c.f64.IsValid(i) {
					buf = appendCSVFloat(buf, c.f64.Value(i))
				}
			}
		}
		buf = append(buf, '\n')
		if len(buf) >= 64<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// appendCSVString appends s as a CSV field, quoted when needed.
func appendCSVString(buf []byte, s string) []byte {
	if s != "" && !strings.ContainsAny(s, ",\"\r\n") && s[0] != ' ' && s[len(s)-1] != ' ' {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		buf = append(buf, s[:i+1]...)
		buf = append(buf, '"')
		s = s[i+1:]
	}
	buf = append(buf, s...)
	return append(buf, '"')
}

// appendCSVFloat appends v in the shortest form that parses back to v: plain
// decimal for magnitudes in [1e-6, 1e21), exponent form otherwise (as
// JavaScript prints numbers). NaN and infinities, which a release should not
// hold, are written as DuckDB reads them.
func appendCSVFloat(buf []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(buf, "NaN"...)
	case math.IsInf(v, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(v, -1):
		return append(buf, "-Infinity"...)
	}
	if a := math.Abs(v); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.AppendFloat(buf, v, 'f', -1, 64)
	}
	return strconv.AppendFloat(buf, v, 'e', -1, 64)
}

func opsOrDefault(ops fsOps) fsOps {
	if ops.rename == nil {
		ops.rename = defaultFSOps.rename
	}
	return ops
}
