// Package transforms holds the building blocks privagg applies to raw events
// before anything is aggregated: derived (generalized) columns, written as
// DuckDB SQL expressions, and identifier handling (normalization and keyed
// HMAC-SHA256 pseudonyms).
//
// A derived column is built once from the job file by a validating
// constructor (NewBins, NewTruncate, NewPart, NewPrefix, NewMap) and then only renders
// SQL, so the engine evaluates it vectorized over the whole input. Every
// derived expression yields VARCHAR and maps NULL or unusable input to NULL
// (Map: to its default label).
//
// The package knows nothing about jobs or pipelines; package pipeline builds
// these values from its job file.
package transforms

import (
	"github.com/privagg/privagg/internal/sqlq"

	"fmt"
	"strings"
)

// Derived is a generalized column computed in DuckDB.
type Derived interface {
	Name() string          // output column name
	Source() string        // raw input column it reads
	SQL(src string) string // DuckDB expression over the already-quoted source expression src, result VARCHAR
}

// Labeled is implemented by derived columns whose values come from a fixed
// list known before any data is read (Bins, Map, Part). Such a list does not depend
// on the data, so it may serve as a public partition list.
type Labeled interface {
	Derived
	// Labels returns every non-NULL value the column can take, as a new slice.
	Labels() []string
}

// Compile-time checks that every kind implements the interfaces.
var (
	_ Labeled = (*Bins)(nil)
	_ Derived = (*Truncate)(nil)
	_ Derived = (*Prefix)(nil)
	_ Labeled = (*Map)(nil)
	_ Labeled = (*Part)(nil)
)

// QuoteIdent quotes s as a DuckDB identifier (internal/sqlq, the one
// quoting rule).
var QuoteIdent = sqlq.Ident

// QuoteString quotes s as a DuckDB string literal (internal/sqlq, the one
// quoting rule).
var QuoteString = sqlq.String

// spaceChars are the characters Prefix and Map trim from both ends of a
// value, in Go (map keys) and in SQL (spaceCharsSQL) alike.
const (
	spaceChars    = " \t\n\r"
	spaceCharsSQL = `E' \t\n\r'`
)

// trimmedText renders src cast to text with spaceChars trimmed from both ends.
func trimmedText(src string) string {
	return "trim(CAST(" + src + " AS VARCHAR), " + spaceCharsSQL + ")"
}

// reservedPrefix starts the names privagg uses for its own columns
// (__units, __m0_n, the Map lookup table, ...); derived and source columns
// may not use it.
const reservedPrefix = "__"

// SpecError reports an invalid derived-column specification. It names the
// column and the job-file field, the offending config value and the rule;
// it never carries event data or the contents of a map file.
type SpecError struct {
	Column string // the derived column's name (its key under columns:)
	Field  string // job-file field below the column: "from", "bins", "truncate", "part", "format", "prefix", "map.file", ...; "" for the name itself
	Value  any    // the offending config value, or nil
	Rule   string // the rule it breaks, e.g. "must be strictly ascending"
	Err    error  // underlying cause (e.g. an I/O error), or nil
}

// Key returns the job-file path of the offending field, e.g.
// "columns.age_band.bins".
func (e *SpecError) Key() string {
	k := "columns." + e.Column
	if e.Field != "" {
		k += "." + e.Field
	}
	return k
}

func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.Key())
	b.WriteString(": ")
	if e.Value != nil {
		fmt.Fprintf(&b, "%v ", e.Value)
	}
	b.WriteString(e.Rule)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *SpecError) Unwrap() error { return e.Err }

// checkNames validates the output and source column names shared by every
// kind.
func checkNames(name, from string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return &SpecError{Column: name, Rule: "column name must not be empty"}
	case strings.HasPrefix(name, reservedPrefix):
		return &SpecError{Column: name, Rule: fmt.Sprintf("column name must not start with %q (reserved)", reservedPrefix)}
	case strings.TrimSpace(from) == "":
		return &SpecError{Column: name, Field: "from", Rule: "is required"}
	case strings.HasPrefix(from, reservedPrefix):
		return &SpecError{Column: name, Field: "from", Value: from, Rule: fmt.Sprintf("must not start with %q (reserved)", reservedPrefix)}
	}
	return nil
}
