package transforms

// Native is implemented by derived columns that can be grouped in a native
// type and formatted as text only once per partition: FormatSQL(NativeSQL(src))
// is the same text as SQL(src). Formatting millions of rows to text costs more
// than grouping the native values, so the engine groups natively and formats
// the few aggregated keys.
type Native interface {
	Derived
	NativeSQL(src string) string    // the value before formatting (e.g. a TIMESTAMP)
	FormatSQL(native string) string // the text of a native value, as SQL produces it
}

var _ Native = (*Truncate)(nil)

// NativeSQL is the truncated TIMESTAMP (UTC), NULL where unusable.
func (t *Truncate) NativeSQL(src string) string {
	ts := "CAST(TRY_CAST(" + src + " AS TIMESTAMPTZ) AS TIMESTAMP)"
	return "CASE WHEN isfinite(" + ts + ") THEN date_trunc(" + QuoteString(t.unit) + ", " + ts + ") END"
}

// NativeSQLTyped is NativeSQL for a source whose DuckDB type is known. A
// TIMESTAMP or DATE column needs no parsing (and no time zone conversion),
// which makes it several times cheaper per row.
func (t *Truncate) NativeSQLTyped(src, duckType string) string {
	switch duckType {
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE":
		ts := "CAST(" + src + " AS TIMESTAMP)"
		return "CASE WHEN isfinite(" + ts + ") THEN date_trunc(" + QuoteString(t.unit) + ", " + ts + ") END"
	}
	return t.NativeSQL(src)
}

// FormatSQL formats a truncated timestamp like SQL.
func (t *Truncate) FormatSQL(native string) string {
	format := "%Y-%m-%d"
	if t.unit == UnitHour {
		format = "%Y-%m-%d %H:00:00"
	}
	return "strftime(" + native + ", " + QuoteString(format) + ")"
}
