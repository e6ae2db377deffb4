package engine

import (
	"fmt"
	"strings"
)

// MaxRejectedRows is how many rejected rows Rejects lists.
const MaxRejectedRows = 20

// MessageRejectedRows is how many rejected rows the error for too many
// malformed rows names.
const MessageRejectedRows = 3

// Rejects locates an input's malformed rows for the internal run report: by
// line (CSV, newline-delimited JSON) or row index (Parquet), column and
// rule, never by value. It is internal, like InputCounts.
type Rejects struct {
	// Rows are the first MaxRejectedRows (row, column, rule) entries in
	// input order; a row that breaks several rules has one entry per rule.
	Rows []RejectedRow `json:"rows,omitempty"`
	// Totals count the rejected rows per (column, rule), sorted by column
	// then rule.
	Totals []RejectTotal `json:"totals,omitempty"`
	// Unavailable says why the engine lists no rows ("" when it does).
	Unavailable string `json:"unavailable,omitempty"`
}

// RejectedRow is one rule a rejected row broke. It never holds the value.
type RejectedRow struct {
	// File is the input file, when input.path matched several.
	File string `json:"file,omitempty"`
	// Line is the 1-based line of a CSV or newline-delimited JSON input (0
	// for Parquet).
	Line int64 `json:"line,omitempty"`
	// Row is the 0-based row index within a Parquet file; nil otherwise.
	Row *int64 `json:"row,omitempty"`
	// Column is the input column the rule judges ("" when the rule is about
	// the whole line, such as a CSV line with too many columns).
	Column string `json:"column,omitempty"`
	Rule   string `json:"rule"`
}

// RejectTotal counts the rows that broke one rule on one column.
type RejectTotal struct {
	Column string `json:"column,omitempty"`
	Rule   string `json:"rule"`
	Rows   int64  `json:"rows"`
}

// String locates the row: "line 3 column ts: gives no value for week".
func (r RejectedRow) String() string {
	var b strings.Builder
	if r.File != "" {
		fmt.Fprintf(&b, "%s ", r.File)
	}
	if r.Row != nil {
		fmt.Fprintf(&b, "row %d", *r.Row)
	} else {
		fmt.Fprintf(&b, "line %d", r.Line)
	}
	if r.Column != "" {
		fmt.Fprintf(&b, " column %s", r.Column)
	}
	return b.String() + ": " + r.Rule
}

// summary names the first n rejected rows, or "" when none is listed.
func (r *Rejects) summary(n int) string {
	if r == nil || len(r.Rows) == 0 {
		return ""
	}
	rows := r.Rows[:min(n, len(r.Rows))]
	parts := make([]string, len(rows))
	for i, row := range rows {
		parts[i] = row.String()
	}
	return "first: " + strings.Join(parts, "; ")
}
