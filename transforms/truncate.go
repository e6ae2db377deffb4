package transforms

import (
	"slices"
	"strings"
)

// Truncation units accepted by NewTruncate.
const (
	UnitHour  = "hour"
	UnitDay   = "day"
	UnitWeek  = "week"
	UnitMonth = "month"
)

// Units lists the truncation units NewTruncate accepts.
var Units = []string{UnitHour, UnitDay, UnitWeek, UnitMonth}

// Truncate maps a timestamp column to the start of its hour, day, ISO week
// (Monday) or month, as text: 'YYYY-MM-DD' for day, week and month,
// 'YYYY-MM-DD HH:00:00' for hour.
//
// The source may be TIMESTAMP, TIMESTAMPTZ, DATE or ISO-8601 text (date only,
// or date and time with an optional offset or Z). It is read as
// CAST(TRY_CAST(src AS TIMESTAMPTZ) AS TIMESTAMP), so text with an offset is
// converted to the session time zone first and text without one is taken as
// session time. privagg runs DuckDB with TimeZone = 'UTC', which makes every
// label a UTC date. NULL, unparsable text (including text with surrounding
// spaces) and infinite timestamps give NULL.
type Truncate struct {
	name, from, unit string
}

// NewTruncate returns the truncation of the timestamp column from to unit
// (one of Units).
func NewTruncate(name, from, unit string) (*Truncate, error) {
	if err := checkNames(name, from); err != nil {
		return nil, err
	}
	if !slices.Contains(Units, unit) {
		return nil, &SpecError{Column: name, Field: "truncate", Value: unit,
			Rule: "must be one of " + strings.Join(Units, ", ")}
	}
	return &Truncate{name: name, from: from, unit: unit}, nil
}

// Name returns the output column name.
func (t *Truncate) Name() string { return t.name }

// Source returns the timestamp input column.
func (t *Truncate) Source() string { return t.from }

// Unit returns the truncation unit.
func (t *Truncate) Unit() string { return t.unit }

// SQL returns
//
//	CASE WHEN isfinite(ts) THEN strftime(date_trunc('unit', ts), 'format') END
//
// with ts = CAST(TRY_CAST(src AS TIMESTAMPTZ) AS TIMESTAMP).
func (t *Truncate) SQL(src string) string {
	ts := "CAST(TRY_CAST(" + src + " AS TIMESTAMPTZ) AS TIMESTAMP)"
	format := "%Y-%m-%d"
	if t.unit == UnitHour {
		format = "%Y-%m-%d %H:00:00"
	}
	return "CASE WHEN isfinite(" + ts + ") THEN strftime(date_trunc(" + QuoteString(t.unit) + ", " + ts + "), " +
		QuoteString(format) + ") END"
}
