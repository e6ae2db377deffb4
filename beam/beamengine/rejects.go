package beamengine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/privagg/privagg/engine"
)

// The rejects listing, as the embedded engine makes it (engine/duckdb
// rejects.go, docs/rejects.md): the first engine.MaxRejectedRows (row,
// column, rule) entries in input order, and totals per (column, rule), for
// the input and, apart, for the consent table; never a value.
//
// The readers emit one rejectAt per rule a rejected row breaks (a rejected
// row is rare, so this adds nothing per clean row), in pass 1 beside the
// row counts. Beam keeps the first entries per table (firstRejectsFn: at
// most MaxRejectedRows per worker and key) and counts them per rule. A
// Parquet row has its index; a CSV or NDJSON line knows only its range and
// its index there (lineRanges), so the driver numbers the listed lines from
// the ranges' line counts.
//
// Line numbers follow the embedded engine's convention, so one input gets
// the same listing on both engines: blank lines are not numbered; a row's
// line is its record number (plus the header for CSV, and the lines the CSV
// reader rejected before it: that is, the non-blank lines up to it), while
// a line the CSV reader rejects has its own line in the file.

// The tables whose rows are listed.
const (
	tableInput   = 0
	tableConsent = 1
)

// rejectAt is one rule a rejected row (or consent record) broke, and where
// the row is. It never holds a value.
type rejectAt struct {
	Table int // tableInput or tableConsent
	File  string
	// Start, Line and Record place a CSV or NDJSON line (linePos); Line is a
	// Parquet row's index when Parquet is set.
	Start   int64
	Line    int64
	Record  int64
	Parquet bool
	// ByLine numbers the row by its line in the file rather than by its
	// record: a line the CSV reader rejects.
	ByLine bool
	// Order is the entry's place among its row's entries: the rule's
	// index, or the CSV reader's problem's.
	Order  int
	Column string
	Rule   string
}

// lineReject places rule r (the order-th of its row) at a CSV or NDJSON
// line.
func lineReject(table int, pos linePos, byLine bool, order int, r ruleRef) rejectAt {
	return rejectAt{Table: table, File: pos.File, Start: pos.Start, Line: pos.Line, Record: pos.Record, ByLine: byLine,
		Order: order, Column: r.Column, Rule: r.Rule}
}

// rowReject places rule r (the order-th of its row) at a Parquet row.
func rowReject(table int, file string, index int64, order int, r ruleRef) rejectAt {
	return rejectAt{Table: table, File: file, Line: index, Parquet: true, Order: order, Column: r.Column, Rule: r.Rule}
}

// compareRejects orders entries as they are in the input: by file, place
// in the file, then their order in the row.
func compareRejects(a, b rejectAt) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Start, b.Start), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Order, b.Order))
}

// firstRejects holds the first engine.MaxRejectedRows entries seen, in
// input order.
type firstRejects struct{ Rows []rejectAt }

// firstRejectsFn keeps the first engine.MaxRejectedRows entries per table.
type firstRejectsFn struct{}

func (firstRejectsFn) AddInput(a firstRejects, r rejectAt) firstRejects {
	i, _ := slices.BinarySearchFunc(a.Rows, r, compareRejects)
	if i >= engine.MaxRejectedRows {
		return a
	}
	a.Rows = slices.Insert(a.Rows, i, r)
	a.Rows = a.Rows[:min(len(a.Rows), engine.MaxRejectedRows)]
	return a
}

func (f firstRejectsFn) MergeAccumulators(a, b firstRejects) firstRejects {
	for _, r := range b.Rows {
		a = f.AddInput(a, r)
	}
	return a
}

func (firstRejectsFn) ExtractOutput(a firstRejects) []rejectAt { return a.Rows }

func tableOf(r rejectAt) (int, rejectAt) { return r.Table, r }

// rejectTotalKey is the (table, column, rule) an entry counts for, as JSON.
func rejectTotalKey(r rejectAt) (string, error) {
	b, err := json.Marshal(rejectTotal{Table: r.Table, Column: r.Column, Rule: r.Rule})
	return string(b), err
}

// rejectTotal counts a table's entries of one (column, rule).
type rejectTotal struct {
	Table  int    `json:"table"`
	Column string `json:"column"`
	Rule   string `json:"rule"`
	Rows   int64  `json:"rows"`
}

// listingLine is one line of the listing file: a total, a table's first
// entries, or a range's line counts.
type listingLine struct {
	Total *rejectTotal `json:"total,omitempty"`
	First []rejectAt   `json:"first,omitempty"`
	Range *rangeLines  `json:"range,omitempty"`
}

func formatTotal(key string, n int) (string, error) {
	var t rejectTotal
	if err := json.Unmarshal([]byte(key), &t); err != nil {
		return "", err
	}
	t.Rows = int64(n)
	return marshalLine(listingLine{Total: &t})
}

func formatFirst(_ int, rows []rejectAt) (string, error) {
	return marshalLine(listingLine{First: rows})
}

func formatRange(r rangeLines) (string, error) { return marshalLine(listingLine{Range: &r}) }

func marshalLine(l listingLine) (string, error) {
	b, err := json.Marshal(l)
	return string(b), err
}

// writeListing adds to s the listing of rejects (rejectAt of both tables)
// with the line counts of ranges (rangeLines; invalid when no file is read
// by lines), written to path.
func writeListing(s beam.Scope, path string, rejects, ranges beam.PCollection) {
	s = s.Scope("rejects")
	totals := beam.ParDo(s, formatTotal, stats.Count(s, beam.ParDo(s, rejectTotalKey, rejects)))
	first := beam.ParDo(s, formatFirst, beam.CombinePerKey(s, &firstRejectsFn{}, beam.ParDo(s, tableOf, rejects)))
	lines := []beam.PCollection{totals, first}
	if ranges.IsValid() {
		lines = append(lines, beam.ParDo(s, formatRange, ranges))
	}
	textio.Write(s, path, beam.Flatten(s, lines...))
}

// readListing reads the listing file and locates the rejected rows of
// each table with rejects: the input (when inputRejected) and the consent
// table (when consentRejected). inputFiles is how many files input.path
// matched: with one, input rows name no file (consent records always name
// theirs).
func readListing(ctx context.Context, path string, inputRejected, consentRejected bool, inputFiles int) (*engine.Rejects, error) {
	var totals []rejectTotal
	first := map[int][]rejectAt{}
	var ranges []rangeLines
	err := readLines(ctx, path, func(b []byte) error {
		var l listingLine
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		switch {
		case l.Total != nil:
			totals = append(totals, *l.Total)
		case l.Range != nil:
			ranges = append(ranges, *l.Range)
		case len(l.First) > 0:
			first[l.First[0].Table] = l.First
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	list := func(table int, nameFile bool) *engine.Rejects {
		out := &engine.Rejects{Rows: locateRejects(first[table], ranges, nameFile)}
		for _, t := range totals {
			if t.Table == table {
				out.Totals = append(out.Totals, engine.RejectTotal{Column: t.Column, Rule: t.Rule, Rows: t.Rows})
			}
		}
		slices.SortFunc(out.Totals, func(a, b engine.RejectTotal) int {
			return cmp.Or(cmp.Compare(a.Column, b.Column), cmp.Compare(a.Rule, b.Rule))
		})
		return out
	}
	out := &engine.Rejects{}
	if inputRejected {
		out = list(tableInput, inputFiles > 1)
	}
	if consentRejected {
		out.ConsentTable = list(tableConsent, true)
	}
	return out, nil
}

// locateRejects turns a table's first entries into report rows: a Parquet
// row index, or a line numbered from the line counts of the ranges before
// the entry's in its file. They come in the embedded engine's order (by
// file and line; on one line, the rows its rules reject before the lines
// its CSV reader rejects), capped at engine.MaxRejectedRows.
func locateRejects(first []rejectAt, ranges []rangeLines, nameFile bool) []engine.RejectedRow {
	type key struct {
		table int
		file  string
	}
	byFile := map[key][]rangeLines{}
	for _, r := range ranges {
		k := key{r.Table, r.File}
		byFile[k] = append(byFile[k], r)
	}
	type located struct {
		row   engine.RejectedRow
		entry rejectAt
	}
	rows := make([]located, len(first))
	for i, e := range first {
		r := engine.RejectedRow{File: e.File, Column: e.Column, Rule: e.Rule}
		if e.Parquet {
			index := e.Line
			r.Row = &index
		} else {
			var lines, records int64
			for _, rg := range byFile[key{e.Table, e.File}] {
				if rg.Start < e.Start {
					lines, records = lines+rg.Lines, records+rg.Records
				}
			}
			r.Line = records + e.Record + 1
			if e.ByLine {
				r.Line = lines + e.Line + 1
			}
		}
		if !nameFile {
			r.File = ""
		}
		rows[i] = located{r, e}
	}
	slices.SortStableFunc(rows, func(a, b located) int {
		return cmp.Or(cmp.Compare(a.row.File, b.row.File), cmp.Compare(a.row.Line, b.row.Line), cmp.Compare(rowIndex(a.row), rowIndex(b.row)),
			compareBool(a.entry.ByLine, b.entry.ByLine), cmp.Compare(a.entry.Order, b.entry.Order))
	})
	out := make([]engine.RejectedRow, 0, min(len(rows), engine.MaxRejectedRows))
	for _, l := range rows[:min(len(rows), engine.MaxRejectedRows)] {
		out = append(out, l.row)
	}
	return out
}

func rowIndex(r engine.RejectedRow) int64 {
	if r.Row == nil {
		return 0
	}
	return *r.Row
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// matchedFiles is how many files glob matches, through Beam's filesystem
// (so gs:// and other schemes work too).
func matchedFiles(ctx context.Context, glob string) (int, error) {
	fs, err := filesystem.New(ctx, glob)
	if err != nil {
		return 0, err
	}
	defer fs.Close()
	files, err := fs.List(ctx, glob)
	return len(files), err
}

// listRejects reads pass 1's listing (path) into c.Rejects when some row
// or consent record was rejected. inputGlob is input.path. A listing that
// cannot be read leaves the counts standing and says why.
func listRejects(ctx context.Context, path, inputGlob string, c *engine.InputCounts) {
	if c.Rejected == 0 && c.ConsentRejected == 0 {
		return
	}
	files, err := matchedFiles(ctx, inputGlob)
	if err == nil {
		c.Rejects, err = readListing(ctx, path, c.Rejected > 0, c.ConsentRejected > 0, files)
	}
	if err != nil {
		c.Rejects = &engine.Rejects{Unavailable: fmt.Sprintf("the rejected rows could not be listed: %v", err)}
	}
}
