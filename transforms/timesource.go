package transforms

import "time"

// timeSource reads the time of a derived column's source, for Truncate and
// Part: ISO-8601 text (and TIMESTAMP, DATE) without a format, text in the
// format's layout with one. A TIMESTAMP or DATE column is used as it is in
// both cases: a format says how text is written.
type timeSource struct {
	format *TimeFormat // nil: ISO-8601
}

// newTimeSource checks the format of column name ("" for ISO-8601).
func newTimeSource(name, format string) (timeSource, error) {
	if format == "" {
		return timeSource{}, nil
	}
	f, err := NewTimeFormat(format)
	if err != nil {
		return timeSource{}, &SpecError{Column: name, Field: "format", Value: quoteValue(format), Rule: err.Error()}
	}
	return timeSource{format: f}, nil
}

// quoteValue renders a config string for a SpecError, quoted so that
// spaces and punctuation stay visible.
func quoteValue(s string) string { return `"` + s + `"` }

// Format returns the strptime format, or "" for ISO-8601.
func (s timeSource) Format() string {
	if s.format == nil {
		return ""
	}
	return s.format.String()
}

// typedTime reports whether duckType is a column type that holds times.
func typedTime(duckType string) bool {
	switch duckType {
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE":
		return true
	}
	return false
}

// sql applies f to the source's TIMESTAMP (UTC) where it is usable, and
// gives NULL elsewhere. duckType is the source column's DuckDB type, or ""
// when unknown (then src is read as text, or cast from text without a
// format). Infinite times give NULL (try_strptime, too, reads the text
// "infinity").
func (s timeSource) sql(src, duckType string, f func(ts string) string) string {
	var ts string
	switch {
	case typedTime(duckType):
		ts = "CAST(" + src + " AS TIMESTAMP)"
	case s.format != nil:
		ts = s.format.SQL(src)
	default:
		ts = "CAST(TRY_CAST(" + src + " AS TIMESTAMPTZ) AS TIMESTAMP)"
	}
	return "CASE WHEN isfinite(" + ts + ") THEN " + f(ts) + " END"
}

// eval is the Go twin of sql: the time of v in UTC, or ok false (NULL).
func (s timeSource) eval(v Value) (time.Time, bool) {
	switch {
	case v.Kind == KindTime:
		return v.T.UTC(), true
	case s.format == nil:
		return v.Timestamp()
	}
	text, ok := v.Text()
	if !ok {
		return time.Time{}, false
	}
	return s.format.Parse(text)
}
