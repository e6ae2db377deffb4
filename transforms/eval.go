package transforms

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Go twins of the SQL expressions, for engines that evaluate rows in Go (the
// Apache Beam engine). Each twin is defined next to the same constructor-made
// value as its SQL, and eval_test.go checks on many inputs that DuckDB and Go
// give the same result; when they may differ, the twin's comment says so.

// ValueKind says which field of a Value holds the datum.
type ValueKind int

// Kinds of raw values an engine reads from CSV, NDJSON or Parquet.
const (
	KindNull  ValueKind = iota
	KindText            // S
	KindInt             // I (BIGINT and smaller integers)
	KindFloat           // F (DOUBLE, FLOAT)
	KindBool            // B
	KindTime            // T (TIMESTAMP, TIMESTAMPTZ and DATE, as an instant)
)

// Value is one raw input value.
type Value struct {
	Kind ValueKind
	S    string
	I    int64
	F    float64
	B    bool
	T    time.Time
}

// Text returns CAST(v AS VARCHAR): integers in decimal, floats like DuckDB
// prints a DOUBLE (see FormatDouble), booleans as true/false, times as
// 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC. ok is false for NULL.
func (v Value) Text() (s string, ok bool) {
	switch v.Kind {
	case KindText:
		return v.S, true
	case KindInt:
		return strconv.FormatInt(v.I, 10), true
	case KindFloat:
		return FormatDouble(v.F), true
	case KindBool:
		return strconv.FormatBool(v.B), true
	case KindTime:
		t := v.T.UTC()
		if t.Nanosecond()/1000 != 0 {
			return t.Format("2006-01-02 15:04:05.000000"), true
		}
		return t.Format("2006-01-02 15:04:05"), true
	}
	return "", false
}

// Double returns TRY_CAST(v AS DOUBLE); ok is false for NULL and text that
// is not a number. NaN and ±Inf are returned with ok true, as DuckDB does.
func (v Value) Double() (f float64, ok bool) {
	switch v.Kind {
	case KindInt:
		return float64(v.I), true
	case KindFloat:
		return v.F, true
	case KindBool:
		if v.B {
			return 1, true
		}
		return 0, true
	case KindText:
		return ParseDouble(v.S)
	}
	return 0, false
}

// Bool returns TRY_CAST(v AS BOOLEAN); ok is false for NULL and text that is
// not a boolean.
func (v Value) Bool() (b bool, ok bool) {
	switch v.Kind {
	case KindBool:
		return v.B, true
	case KindInt:
		return v.I != 0, true
	case KindFloat:
		return v.F != 0, true
	case KindText:
		return ParseBool(v.S)
	}
	return false, false
}

// Timestamp returns CAST(TRY_CAST(v AS TIMESTAMPTZ) AS TIMESTAMP) in a UTC
// session; ok is false for NULL and text that is not an ISO-8601 timestamp.
func (v Value) Timestamp() (t time.Time, ok bool) {
	switch v.Kind {
	case KindTime:
		return v.T.UTC(), true
	case KindText:
		return ParseTimestamp(v.S)
	}
	return time.Time{}, false
}

// numberRE is the text TRY_CAST(... AS DOUBLE) accepts: optional spaces, a
// sign, digits (with single underscores between them) with an optional
// fraction and exponent, or inf/infinity/nan. Out-of-range values become ±Inf.
var numberRE = regexp.MustCompile(`^[ \t\n\r]*[+-]?(?:(?:` + digits + `\.?(?:` + digits + `)?|\.` + digits + `)(?:[eE][+-]?` + digits + `)?|(?i:inf|infinity|nan))[ \t\n\r]*$`)

// digits are decimal digits, single underscores allowed between them.
const digits = `[0-9]+(?:_[0-9]+)*`

// ParseDouble is TRY_CAST(s AS DOUBLE) for text.
func ParseDouble(s string) (float64, bool) {
	if !numberRE.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(strings.Trim(s, spaceChars), "_", ""), 64)
	if err != nil {
		// Out of range: ParseFloat returns ±Inf or 0, as DuckDB does.
		if errors.Is(err, strconv.ErrRange) {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// ParseBool is TRY_CAST(s AS BOOLEAN) for text: true/t/yes/y/1 and
// false/f/no/n/0, case-insensitive; surrounding spaces are refused.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "t", "1", "yes", "y":
		return true, true
	case "false", "f", "0", "no", "n":
		return false, true
	}
	return false, false
}

// FormatDouble is CAST(f AS VARCHAR) for a DOUBLE: the shortest decimal that
// reads back as f, with ".0" on integral values and an exponent beyond
// DuckDB's fixed-notation range.
func FormatDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	a := math.Abs(f)
	if a != 0 && (a >= 1e16 || a < 1e-4) {
		return strconv.FormatFloat(f, 'e', -1, 64) // 1e+16, 1.5e-05, like DuckDB
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// timestampRE is the ISO-8601 text TRY_CAST(... AS TIMESTAMPTZ) accepts that
// ParseTimestamp supports: a date, optionally a time (T or a space between)
// with optional seconds and fraction, optionally Z or a ±HH[:MM] offset.
var timestampRE = regexp.MustCompile("^" + timestampPattern + "$")

// timestampPattern is timestampRE without anchors, for DuckDB's
// regexp_full_match (RE2, as Go's regexp).
const timestampPattern = `([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?)?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?`

// ParseTimestamp is CAST(TRY_CAST(s AS TIMESTAMPTZ) AS TIMESTAMP) in a UTC
// session, for ISO-8601 text (see timestampRE). Text DuckDB would also accept
// in other shapes (named time zones, BC dates, 'infinity') gives ok false,
// which Truncate maps to NULL as it does for infinite timestamps.
func ParseTimestamp(s string) (time.Time, bool) {
	m := timestampRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	year, month, day := atoi(m[1]), atoi(m[2]), atoi(m[3])
	hour, minute, sec := atoi(m[4]), atoi(m[5]), atoi(m[6])
	nanos := 0
	if m[7] != "" {
		frac := m[7]
		if len(frac) > 6 { // microsecond precision, truncated
			frac = frac[:6]
		}
		nanos = atoi(frac+strings.Repeat("0", 6-len(frac))) * 1000
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC)
	if t.Day() != day { // 2023-02-30 rolled over
		return time.Time{}, false
	}
	if off := m[8]; off != "" && off != "Z" {
		h := atoi(off[1:3])
		mm := 0
		if rest := strings.TrimPrefix(off[3:], ":"); rest != "" {
			mm = atoi(rest)
		}
		d := time.Duration(h)*time.Hour + time.Duration(mm)*time.Minute
		if off[0] == '+' {
			d = -d
		}
		t = t.Add(d)
	}
	return t, true
}

// Eval is the Go twin of b.SQL: the label of v, or ok false (NULL) for
// NULL, text that is not a number, NaN and ±Inf.
func (b *Bins) Eval(v Value) (label string, ok bool) {
	x, ok := v.Double()
	if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
		return "", false
	}
	for i, e := range b.edges {
		if x < e {
			return b.labels[i], true
		}
	}
	return b.labels[len(b.edges)], true
}

// Eval is the Go twin of t.SQL: the start of v's hour, day, ISO week or
// month as text, or ok false (NULL).
func (t *Truncate) Eval(v Value) (label string, ok bool) {
	ts, ok := t.time.eval(v)
	if !ok {
		return "", false
	}
	y, mo, d := ts.Date()
	switch t.unit {
	case UnitHour:
		return time.Date(y, mo, d, ts.Hour(), 0, 0, 0, time.UTC).Format("2006-01-02 15:00:00"), true
	case UnitDay:
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Format("2006-01-02"), true
	case UnitWeek:
		back := (int(ts.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, mo, d-back, 0, 0, 0, 0, time.UTC).Format("2006-01-02"), true
	case UnitMonth:
		return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02"), true
	}
	return "", false // NewTruncate accepts no other unit
}

// Eval is the Go twin of p.SQL: the label of v's hour, weekday or month,
// or ok false (NULL).
func (p *Part) Eval(v Value) (string, bool) {
	ts, ok := p.time.eval(v)
	if !ok {
		return "", false
	}
	switch p.part {
	case PartHourOfDay:
		return fmt.Sprintf("%02d", ts.Hour()), true
	case PartDayOfWeek:
		return dayLabels[(int(ts.Weekday())+6)%7], true
	case PartMonthOfYear:
		return fmt.Sprintf("%02d", int(ts.Month())), true
	}
	return "", false // NewPart accepts no other part
}

// Eval is the Go twin of p.SQL: the first Len() characters of v's text,
// trimmed, or ok false (NULL) for NULL and text that is empty after trimming.
func (p *Prefix) Eval(v Value) (string, bool) {
	s, ok := v.Text()
	if !ok {
		return "", false
	}
	s = strings.Trim(s, spaceChars)
	if s == "" {
		return "", false
	}
	n := 0
	for i := range s {
		if n == p.n {
			return s[:i], true
		}
		n++
	}
	return s, true
}

// Eval is the Go twin of m.SQL: the mapped label, or the default for NULL
// and unmapped values. It never returns ok false.
func (m *Map) Eval(v Value) (string, bool) {
	s, ok := v.Text()
	if !ok {
		return m.def, true
	}
	return m.Lookup(s), true
}

// Eval evaluates derived column d on v in Go, like d.SQL does in DuckDB.
func Eval(d Derived, v Value) (string, bool) {
	switch x := d.(type) {
	case *Bins:
		return x.Eval(v)
	case *Truncate:
		return x.Eval(v)
	case *Part:
		return x.Eval(v)
	case *Prefix:
		return x.Eval(v)
	case *Map:
		return x.Eval(v)
	}
	return "", false // every kind of this package is listed above
}
