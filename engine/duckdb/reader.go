package duckdb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/privagg/privagg/job"
)

// How a run's input is read: the DuckDB table function for each format,
// the options every reader of a CSV input shares, and the JSON group-by
// columns read as text and cast back.

// readerSQL is the DuckDB table function reading the job's input. Once the
// input is described, the text columns are read as VARCHAR.
func (p *queryPlan) readerSQL() string { return p.reader("") }

// reader is readerSQL with the reader options extra (", name=value...")
// added.
func (p *queryPlan) reader(extra string) string {
	in := p.job.Input
	path := lit(in.Path)
	switch in.Format {
	case job.InputCSV:
		header := in.CSV.Header == nil || *in.CSV.Header
		delim := in.CSV.Delimiter
		if delim == "" {
			delim = ","
		}
		opts := ""
		if text := p.textColumns(); len(text) > 0 {
			types := make([]string, len(text))
			for i, c := range text {
				types[i] = fmt.Sprintf("%s: '%s'", lit(c), typeVarchar)
			}
			opts = ", types={" + strings.Join(types, ", ") + "}"
		}
		return fmt.Sprintf("read_csv(%s, delim=%s, header=%t, %s, ignore_errors=true, store_rejects=true, rejects_table=%s, rejects_scan=%s%s%s)",
			path, lit(delim), header, CSVReadOptions, lit(tabRejects), lit(tabRejectScans), opts, extra)
	case job.InputJSON:
		opts := ""
		if p.in.names != nil {
			// The described types, except the text columns'. With columns
			// the reader reads exactly these keys.
			var cols []string
			for _, c := range p.job.InputColumns() {
				n := p.column(c)
				cols = append(cols, fmt.Sprintf("%s: %s", lit(n), lit(p.types[n])))
			}
			opts = ", columns={" + strings.Join(cols, ", ") + "}"
		}
		return fmt.Sprintf("read_json(%s, format='newline_delimited', ignore_errors=true%s%s)", path, opts, extra)
	default:
		return fmt.Sprintf("read_parquet(%s%s)", path, extra)
	}
}

// csvBufferSize is the CSV reader's buffer, in bytes: twice the longest
// line it accepts (csvMaxLineSize). DuckDB's default buffer is 16 times
// that; each reading thread allocates and faults in buffers of that size,
// which on the 1M-row CSV (125 MB) cost more than the parsing:
// reading it into storage took 1.3 to 1.45 s with the default and 0.76 to
// 0.80 s with 4 MiB (2 threads).
const csvBufferSize = 4 << 20

// csvMaxLineSize is the longest CSV line the reader accepts, DuckDB's
// default. It is given explicitly because a buffer_size also raises DuckDB's
// limit to the buffer's size.
const csvMaxLineSize = 2_000_000

// CSVReadOptions are the read_csv options of every reader of a job's CSV
// input (the run's reader and describe, DescribeFile, the Beam engine's
// sniff), so that all of them see the same lines and sniff the same types.
//
// The quote and its escape are " (RFC 4180), as the Beam engine's reader
// and the line locator (scanCSV) read them, never sniffed: one value whose
// quote never closed made DuckDB's sniffer read the whole file without
// quoting, so that quote stayed in a person's id (one person, two ids) and
// every quoted value of the file kept its quotes (audit 2, L7). Such a file
// now fails to read, and the run names the line (LocateReadError).
var CSVReadOptions = fmt.Sprintf(`quote='"', escape='"', buffer_size=%d, max_line_size=%d`, csvBufferSize, csvMaxLineSize)

// jsonKeyCasts are the raw group-by columns of a JSON input that are read as
// text and cast back to their sampled type (name -> type), so that a value
// that does not fit the type is malformed (RuleNotOfType) instead of a NULL
// key: DuckDB's JSON reader types a column from the first records and, with
// ignore_errors, makes a later value it cannot cast NULL without a trace.
// Only types whose text casts back to the value the reader would give
// (jsonCastTypes) are cast; the others (a timestamp with an offset, which
// the reader converts to UTC and a cast would not) keep the sampled type,
// as do columns already read as text (text).
func (p *queryPlan) jsonKeyCasts(text []string) map[string]string {
	casts := map[string]string{}
	for _, k := range p.keyColumns() {
		n, ok := p.in.names[strings.ToLower(k)]
		typ := p.types[n]
		if !ok || p.derived[k] != nil || slices.Contains(text, n) || !jsonCastTypes[typ] {
			continue
		}
		casts[n] = typ
	}
	return casts
}

// jsonCastTypes are the types DuckDB's JSON reader gives a column whose text
// TRY_CAST turns back into the same value.
var jsonCastTypes = map[string]bool{
	"BIGINT": true, "UBIGINT": true, "HUGEINT": true, "INTEGER": true, "DOUBLE": true, "BOOLEAN": true, "DATE": true,
}
