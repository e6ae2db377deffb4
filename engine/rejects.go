package engine

import (
	"fmt"
	"strings"

	"github.com/privagg/privagg/internal/names"
)

// MaxRejectedRows is how many rejected rows Rejects lists.
const MaxRejectedRows = 20

// MessageRejectedRows is how many rejected rows the error for too many
// malformed rows names.
const MessageRejectedRows = 3

// The rules a malformed row or consent record breaks, as the run report
// names them. Both engines name them with these, so one input gets the same
// listing on either.
const (
	// RuleUnitMissing: the privacy unit (or a consent record's unit) is
	// missing, or blank once trimmed.
	RuleUnitMissing = "is missing or blank (privacy unit)"
	// RuleIntegerUnitMissing: an integer privacy unit column is NULL.
	RuleIntegerUnitMissing = "is missing (privacy unit)"
	// RuleNotFinite: a metric's value is present but not a finite number.
	RuleNotFinite = "is not a finite number"
	// RuleConsentValue: a consent value is not an accepted spelling.
	RuleConsentValue = "is not an accepted consent value"
	// RulePurposeMissing: a consent record has no purpose.
	RulePurposeMissing = "is missing or blank (purpose)"
	// RuleConsentTime: a consent record's time does not parse.
	RuleConsentTime = "is not a usable time"
)

// RuleNoValueFor: the source of derived column key is present but gives no
// value (a timestamp that does not parse, a non-number to bin).
func RuleNoValueFor(key string) string { return "gives no value for " + key }

// RuleNotOfType: a raw group-by column of a JSON input holds a value that
// does not cast to typ, the type DuckDB's reader gave the column from a
// sample of its first records.
func RuleNotOfType(typ string) string {
	return "does not cast to " + typ + ", the type of the column's first values"
}

// The error types of DuckDB's CSV reader (its rejects table's error_type)
// that the Beam engine's CSV reader reproduces.
const (
	CSVCast           = "CAST"
	CSVMissingColumns = "MISSING COLUMNS"
	CSVTooManyColumns = "TOO MANY COLUMNS"
	CSVUnquotedValue  = "UNQUOTED VALUE"
)

// CSVRule states an error type of DuckDB's CSV reader as a rule: "csv: too
// many columns".
func CSVRule(errorType string) string {
	if errorType == CSVCast {
		return "csv: value does not fit the column's type"
	}
	return "csv: " + strings.ToLower(errorType)
}

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
	// ConsentTable locates the consent table's malformed records (for the
	// job's purpose, or without a purpose) the same way, each row naming
	// the consent table's file; nil when none was malformed. Its own
	// ConsentTable is nil.
	ConsentTable *Rejects `json:"consent_table,omitempty"`
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
		fmt.Fprintf(&b, " column %s", names.Quote(r.Column))
	}
	return b.String() + ": " + r.Rule
}

// consentTable is r's listing of the consent table, nil when r is.
func (r *Rejects) consentTable() *Rejects {
	if r == nil {
		return nil
	}
	return r.ConsentTable
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
