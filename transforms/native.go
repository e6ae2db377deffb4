package transforms

import "strings"

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

// TypedNative is a Native column whose native value is cheaper to compute
// when the source's DuckDB type is known.
type TypedNative interface {
	Native
	// NativeSQLTyped is NativeSQL for a source of DuckDB type duckType. A
	// TIMESTAMP or DATE column needs no parsing (and no time zone
	// conversion), which makes it several times cheaper per row; it is
	// used as it is, with or without a format.
	NativeSQLTyped(src, duckType string) string
}

var (
	_ TypedNative = (*Truncate)(nil)
	_ TypedNative = (*Part)(nil)
)

// NativeSQL is the truncated TIMESTAMP (UTC), NULL where unusable.
func (t *Truncate) NativeSQL(src string) string { return t.NativeSQLTyped(src, "") }

// NativeSQLTyped is NativeSQL for a source whose DuckDB type is known.
func (t *Truncate) NativeSQLTyped(src, duckType string) string {
	return t.time.sql(src, duckType, func(ts string) string {
		return "date_trunc(" + QuoteString(t.unit) + ", " + ts + ")"
	})
}

// FormatSQL formats a truncated timestamp like SQL.
func (t *Truncate) FormatSQL(native string) string {
	format := "%Y-%m-%d"
	if t.unit == UnitHour {
		format = "%Y-%m-%d %H:00:00"
	}
	return "strftime(" + native + ", " + QuoteString(format) + ")"
}

// NativeSQL is the part as a number (hour 0-23, ISO weekday 1-7 or month
// 1-12), NULL where unusable.
func (p *Part) NativeSQL(src string) string { return p.NativeSQLTyped(src, "") }

// NativeSQLTyped is NativeSQL for a source whose DuckDB type is known.
func (p *Part) NativeSQLTyped(src, duckType string) string {
	fn := map[string]string{PartHourOfDay: "hour", PartDayOfWeek: "isodow", PartMonthOfYear: "month"}[p.part]
	return p.time.sql(src, duckType, func(ts string) string { return fn + "(" + ts + ")" })
}

// FormatSQL renders the number as its label: "00".."23", "Mon".."Sun" or
// "01".."12".
func (p *Part) FormatSQL(native string) string {
	if p.part == PartDayOfWeek {
		days := make([]string, len(dayLabels))
		for i, d := range dayLabels {
			days[i] = QuoteString(d)
		}
		return "([" + strings.Join(days, ", ") + "])[" + native + "]"
	}
	return "lpad(CAST(" + native + " AS VARCHAR), 2, '0')"
}
