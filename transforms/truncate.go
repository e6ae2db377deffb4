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
// The source may be TIMESTAMP, TIMESTAMPTZ, DATE or text. Without a format,
// text is ISO-8601 (date only, or date and time with an optional offset or
// Z), read as CAST(TRY_CAST(src AS TIMESTAMPTZ) AS TIMESTAMP): text with an
// offset is converted to the session time zone first and text without one
// is taken as session time. privagg runs DuckDB with TimeZone = 'UTC',
// which makes every label a UTC date. With a format (TimeFormat), text is
// read with try_strptime. NULL, text that does not parse (including ISO
// text with surrounding spaces) and infinite timestamps give NULL.
type Truncate struct {
	name, from, unit string
	time             timeSource
}

// NewTruncate returns the truncation of the time column from to unit (one
// of Units). format is a strptime format for text times (see TimeFormat),
// or "" for ISO-8601.
func NewTruncate(name, from, unit, format string) (*Truncate, error) {
	if err := checkNames(name, from); err != nil {
		return nil, err
	}
	if !slices.Contains(Units, unit) {
		return nil, &SpecError{Column: name, Field: "truncate", Value: unit,
			Rule: "must be one of " + strings.Join(Units, ", ")}
	}
	ts, err := newTimeSource(name, format)
	if err != nil {
		return nil, err
	}
	return &Truncate{name: name, from: from, unit: unit, time: ts}, nil
}

// Name returns the output column name.
func (t *Truncate) Name() string { return t.name }

// Source returns the timestamp input column.
func (t *Truncate) Source() string { return t.from }

// Unit returns the truncation unit.
func (t *Truncate) Unit() string { return t.unit }

// Format returns the strptime format of text times, or "" for ISO-8601.
func (t *Truncate) Format() string { return t.time.Format() }

// SQL returns
//
//	CASE WHEN isfinite(ts) THEN strftime(date_trunc('unit', ts), 'format') END
//
// with ts = CAST(TRY_CAST(src AS TIMESTAMPTZ) AS TIMESTAMP), or, with a
// format, strftime(date_trunc('unit', try_strptime(src, format)), ...)
// over the text of src.
func (t *Truncate) SQL(src string) string {
	return t.FormatSQL(t.NativeSQL(src))
}
