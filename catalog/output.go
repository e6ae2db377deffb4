package catalog

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/privagg/privagg/internal/atomicfile"
	"github.com/privagg/privagg/privacy"
)

// Format is how a query result is written.
type Format string

// Result formats.
const (
	// FormatTable is an aligned text table for a terminal: NULL shown as
	// NULL, floats with about 6 significant digits, numbers right-aligned.
	FormatTable Format = "table"
	// FormatCSV is RFC 4180 CSV with a header line; NULL is an empty field
	// and the empty string is "", floats in full precision.
	FormatCSV Format = "csv"
	// FormatJSON is an array of objects, one per row, keys in column order;
	// floats in full precision, NaN and infinities as the strings "NaN",
	// "Infinity" and "-Infinity".
	FormatJSON Format = "json"
	// FormatParquet is a Parquet file (zstd) with the result's Arrow schema.
	FormatParquet Format = "parquet"
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatTable, FormatCSV, FormatJSON, FormatParquet:
		return f, nil
	}
	return "", fmt.Errorf("format %q must be table, csv, json or parquet", s)
}

// WriteResult writes every batch of rr to w in format f. It does not release
// rr. Errors reading rr pass through QueryErr.
func WriteResult(ctx context.Context, w io.Writer, rr array.RecordReader, f Format) error {
	switch f {
	case FormatTable:
		return writeTable(ctx, w, rr)
	case FormatCSV:
		return writeDelimited(ctx, w, rr)
	case FormatJSON:
		return writeJSON(ctx, w, rr)
	case FormatParquet:
		return writeParquet(ctx, w, rr)
	}
	return fmt.Errorf("format %q must be table, csv, json or parquet", f)
}

// WriteResultFile writes the result to path atomically: through a temporary
// file in the same folder, synced and renamed; on failure path is untouched
// and no temporary file is left.
func WriteResultFile(ctx context.Context, path string, rr array.RecordReader, f Format) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<16)
		if err := WriteResult(ctx, bw, rr, f); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// forEach calls fn for every batch of rr, checking ctx between batches.
func forEach(ctx context.Context, rr array.RecordReader, fn func(arrow.RecordBatch) error) error {
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	return QueryErr(rr.Err())
}

// cellFunc renders row i of one column; ok is false for NULL.
type cellFunc func(i int) (s string, ok bool)

// cells returns the renderer of col, dispatching on its type once. full
// selects round-trip float formatting (CSV) over readable (table).
func cells(col arrow.Array, full bool) cellFunc {
	valid := func(i int) bool { return col.IsValid(i) }
	switch c := col.(type) {
	case *array.String:
		return func(i int) (string, bool) { return c.Value(i), valid(i) }
	case *array.LargeString:
		return func(i int) (string, bool) { return c.Value(i), valid(i) }
	case *array.Int64:
		return func(i int) (string, bool) { return strconv.FormatInt(c.Value(i), 10), valid(i) }
	case *array.Int32:
		return func(i int) (string, bool) { return strconv.FormatInt(int64(c.Value(i)), 10), valid(i) }
	case *array.Float64:
		if full {
			return func(i int) (string, bool) { return fullFloat(c.Value(i)), valid(i) }
		}
		return func(i int) (string, bool) { return ReadableFloat(c.Value(i)), valid(i) }
	case *array.Float32:
		if full {
			return func(i int) (string, bool) { return fullFloat(float64(c.Value(i))), valid(i) }
		}
		return func(i int) (string, bool) { return ReadableFloat(float64(c.Value(i))), valid(i) }
	case *array.Boolean:
		return func(i int) (string, bool) { return strconv.FormatBool(c.Value(i)), valid(i) }
	default:
		return func(i int) (string, bool) { return col.ValueStr(i), valid(i) }
	}
}

// fullFloat is the shortest text that reads back to v, without an exponent
// from 1e-6 to 1e21 (as JavaScript prints numbers).
func fullFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	if a := math.Abs(v); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// ReadableFloat is how a table cell shows a number, in query output and
// in the console alike: about 6 significant digits without an exponent
// for magnitudes from 1e-4 to 1e15 (large values keep all their integer
// digits), trailing zeros dropped.
func ReadableFloat(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fullFloat(v)
	case v == 0:
		return "0"
	case a < 1e-4 || a >= 1e15:
		return strconv.FormatFloat(v, 'g', 6, 64)
	case a < 1:
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	intDigits := int(math.Floor(math.Log10(a))) + 1
	s := strconv.FormatFloat(v, 'f', max(0, 6-intDigits), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// controlChars shows line breaks and tabs inside a table cell as escapes.
var controlChars = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`)

func isNumeric(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256, arrow.DECIMAL32, arrow.DECIMAL64:
		return true
	}
	return false
}

// writeTable buffers the result and writes it as an aligned table.
func writeTable(ctx context.Context, w io.Writer, rr array.RecordReader) error {
	schema := rr.Schema()
	n := schema.NumFields()
	header := make([]string, n)
	widths := make([]int, n)
	right := make([]bool, n)
	for j, f := range schema.Fields() {
		header[j] = f.Name
		widths[j] = utf8.RuneCountInString(f.Name)
		right[j] = isNumeric(f.Type)
	}
	pairs := intervalPairs(schema)
	var rows [][]string
	err := forEach(ctx, rr, func(rec arrow.RecordBatch) error {
		fns := make([]cellFunc, n)
		for j := range fns {
			fns[j] = cells(rec.Column(j), false)
		}
		for j, k := range pairs {
			fns[j], fns[k] = roundedCells(rec.Column(j), rec.Column(k), fns[j], fns[k])
		}
		// Rows outlive the batch, whose buffers the reader reuses: copy.
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, n)
			for j, fn := range fns {
				s, ok := fn(i)
				if !ok {
					s = "NULL"
				}
				s = strings.Clone(controlChars.Replace(s))
				row[j] = s
				widths[j] = max(widths[j], utf8.RuneCountInString(s))
			}
			rows = append(rows, row)
		}
		return nil
	})
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	line := func(cells []string) {
		for j, c := range cells {
			if j > 0 {
				bw.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c))
			if right[j] {
				bw.WriteString(pad + c)
			} else if j < n-1 {
				bw.WriteString(c + pad)
			} else {
				bw.WriteString(c)
			}
		}
		bw.WriteByte('\n')
	}
	line(header)
	sep := make([]string, n)
	for j := range sep {
		sep[j] = strings.Repeat("-", widths[j])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	if len(rows) == 1 {
		bw.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(bw, "(%d rows)\n", len(rows))
	}
	return bw.Flush()
}

// writeDelimited writes CSV: a field is quoted when it holds a comma, a
// double quote, CR or LF, is empty or starts or ends with a space (as the
// csv sink does), so that NULL (empty, unquoted) and "" stay apart.
func writeDelimited(ctx context.Context, w io.Writer, rr array.RecordReader) error {
	bw := bufio.NewWriter(w)
	for j, f := range rr.Schema().Fields() {
		if j > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(csvField(f.Name))
	}
	bw.WriteByte('\n')
	err := forEach(ctx, rr, func(rec arrow.RecordBatch) error {
		fns := make([]cellFunc, rec.NumCols())
		for j := range fns {
			fns[j] = cells(rec.Column(j), true)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			for j, fn := range fns {
				if j > 0 {
					bw.WriteByte(',')
				}
				if s, ok := fn(i); ok {
					bw.WriteString(csvField(s))
				}
			}
			bw.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

func csvField(s string) string {
	if s != "" && !strings.ContainsAny(s, ",\"\r\n") && s[0] != ' ' && s[len(s)-1] != ' ' {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// writeJSON writes an array of objects, keys in column order.
func writeJSON(ctx context.Context, w io.Writer, rr array.RecordReader) error {
	bw := bufio.NewWriter(w)
	fields := rr.Schema().Fields()
	keys := make([][]byte, len(fields))
	for j, f := range fields {
		k, err := json.Marshal(f.Name)
		if err != nil {
			return err
		}
		keys[j] = k
	}
	bw.WriteByte('[')
	first := true
	err := forEach(ctx, rr, func(rec arrow.RecordBatch) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			if !first {
				bw.WriteByte(',')
			}
			first = false
			bw.WriteString("\n  {")
			for j := range fields {
				if j > 0 {
					bw.WriteString(", ")
				}
				bw.Write(keys[j])
				bw.WriteString(": ")
				v, err := jsonValue(rec.Column(j), i)
				if err != nil {
					return fmt.Errorf("column %s: %w", fields[j].Name, err)
				}
				bw.Write(v)
			}
			bw.WriteByte('}')
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !first {
		bw.WriteByte('\n')
	}
	bw.WriteString("]\n")
	return bw.Flush()
}

func jsonValue(col arrow.Array, i int) ([]byte, error) {
	if col.IsNull(i) {
		return []byte("null"), nil
	}
	switch c := col.(type) {
	case *array.Float64:
		return jsonFloat(c.Value(i)), nil
	case *array.Float32:
		return jsonFloat(float64(c.Value(i))), nil
	case *array.Int64:
		return strconv.AppendInt(nil, c.Value(i), 10), nil
	case *array.Decimal128, *array.Decimal256:
		return []byte(col.ValueStr(i)), nil // a JSON number: digits with an optional point
	}
	b, err := json.Marshal(col.GetOneForMarshal(i))
	if err != nil {
		return json.Marshal(col.ValueStr(i))
	}
	return b, nil
}

func jsonFloat(v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte(`"` + fullFloat(v) + `"`)
	}
	return []byte(fullFloat(v))
}

func writeParquet(ctx context.Context, w io.Writer, rr array.RecordReader) error {
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd))
	fw, err := pqarrow.NewFileWriter(rr.Schema(), w, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	err = forEach(ctx, rr, func(rec arrow.RecordBatch) error { return fw.WriteBuffered(rec) })
	if cerr := fw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("parquet: %w", cerr)
	}
	return err
}

// intervalPairs maps each numeric column X of a result to its numeric column
// X_ci95, where the result has both.
func intervalPairs(schema *arrow.Schema) map[int]int {
	pairs := map[int]int{}
	for j, f := range schema.Fields() {
		if !isNumeric(f.Type) || strings.HasSuffix(f.Name, privacy.CISuffix) {
			continue
		}
		for _, k := range schema.FieldIndices(f.Name + privacy.CISuffix) {
			if isNumeric(schema.Field(k).Type) {
				pairs[j] = k
				break
			}
		}
	}
	return pairs
}

// roundedCells renders a value column and its _ci95 column rounded together
// as released values are (privacy.RoundToInterval), so that the table shows
// the digits the interval supports whatever the release's output.round. A
// type other than int64 or float64 keeps its plain renderers.
func roundedCells(val, half arrow.Array, valCells, halfCells cellFunc) (cellFunc, cellFunc) {
	v, integer, ok1 := numbers(val)
	h, _, ok2 := numbers(half)
	if !ok1 || !ok2 {
		return valCells, halfCells
	}
	pair := func(i int) (float64, float64) {
		hw := 0.0
		if half.IsValid(i) {
			hw = h(i)
		}
		return privacy.RoundToInterval(v(i), hw, integer)
	}
	valueCell := func(i int) (string, bool) {
		if !val.IsValid(i) {
			return "", false
		}
		rv, _ := pair(i)
		if integer {
			return strconv.FormatInt(int64(rv), 10), true
		}
		return ReadableFloat(rv), true
	}
	halfCell := func(i int) (string, bool) {
		if !half.IsValid(i) {
			return "", false
		}
		if !val.IsValid(i) {
			return halfCells(i)
		}
		_, rh := pair(i)
		return ReadableFloat(rh), true
	}
	return valueCell, halfCell
}

// numbers returns the values of an int64 or float64 column as float64.
func numbers(col arrow.Array) (get func(int) float64, integer, ok bool) {
	switch c := col.(type) {
	case *array.Int64:
		return func(i int) float64 { return float64(c.Value(i)) }, true, true
	case *array.Float64:
		return c.Value, false, true
	}
	return nil, false, false
}
