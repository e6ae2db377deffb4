package transforms

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The canonical forms of a person id (the privacy unit), of a consent value
// and of a consent record's time. Every step that compares people (bounding,
// the consent join, the consent decision per person, staging's pseudonyms)
// uses the same form: CanonicalUnitSQL in the embedded engine, CanonicalUnit
// in the Beam engine. identity_test.go checks that both give the same result
// on the same ids, in DuckDB and in Go.

// Values of the job key privacy_unit_case.
const (
	UnitCaseKeep = "keep" // ids are compared as written, after trimming (default)
	UnitCaseFold = "fold" // ids are also lower-cased (Unicode simple case mapping)
)

// UnitSpace are the characters trimmed from both ends of a person id, a
// consent value and a consent time: the 25 characters of Unicode's
// White_Space property, exactly those unicode.IsSpace reports (tab, line
// feed, vertical tab, form feed, carriage return, space, U+0085 NEL, U+00A0
// no-break space, U+1680, U+2000 to U+200A, U+2028, U+2029, U+202F, U+205F
// and U+3000 ideographic space). Zero-width characters (U+200B, U+200C,
// U+200D, U+2060) and the byte-order mark U+FEFF are not White_Space: they
// are kept, so "a\u200b" and "a" are two people.
const UnitSpace = "\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

// unitSpaceClass is UnitSpace as an RE2 character class, the same in Go and
// in DuckDB.
const unitSpaceClass = `[\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]`

// CanonicalUnit returns the canonical form of a person id read as text:
// UnitSpace trimmed from both ends and, with fold, lower-cased with Go's
// strings.ToLower (Unicode simple case mapping, the same as DuckDB's lower()
// on every code point). ok is false when nothing is left (a blank id, which
// is a malformed row) or s is not valid UTF-8 (DuckDB refuses such input).
// No Unicode normalization (NFC) is applied.
func CanonicalUnit(s string, fold bool) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	s = strings.Trim(s, UnitSpace)
	if s == "" {
		return "", false
	}
	if fold {
		s = strings.ToLower(s)
	}
	return s, true
}

// CanonicalUnitSQL is CanonicalUnit in DuckDB for a VARCHAR expression: the
// canonical id, ” for a blank one, NULL for NULL. Ids that start with a
// printable ASCII character and do not end in white space (almost all) skip
// trim(), which costs several times more than the checks.
func CanonicalUnitSQL(expr string, fold bool) string {
	s := fmt.Sprintf("(CASE WHEN ascii(%[1]s) BETWEEN 33 AND 126 AND NOT regexp_matches(%[1]s, %[2]s) THEN %[1]s ELSE trim(%[1]s, %[3]s) END)",
		expr, QuoteString(unitSpaceClass+"$"), QuoteString(UnitSpace))
	if fold {
		return "lower(" + s + ")"
	}
	return s
}

// ConsentValue reads a consent value (a consent column of the events or the
// granted column of a consent table). The accepted spellings, after trimming
// UnitSpace and ignoring case, are true, 1, yes (consent) and false, 0, no
// (refusal); a BOOLEAN is itself and an integer must be 1 or 0. Anything else
// (maybe, -1, 2, 1.0, NaN, an empty value, NULL) gives ok false: a malformed
// row, never a silent yes or no.
func ConsentValue(v Value) (granted, ok bool) {
	switch v.Kind {
	case KindBool:
		return v.B, true
	case KindInt:
		switch v.I {
		case 1:
			return true, true
		case 0:
			return false, true
		}
		return false, false
	case KindNull:
		return false, false
	}
	s, _ := v.Text()
	switch strings.ToLower(strings.Trim(s, UnitSpace)) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

// ConsentValueSQL is ConsentValue in DuckDB for an expression of DuckDB type
// typ: TRUE, FALSE, or NULL for a malformed value.
func ConsentValueSQL(expr, typ string) string {
	switch typ {
	case "BOOLEAN":
		return expr
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT":
		return fmt.Sprintf("(CASE %s WHEN 1 THEN true WHEN 0 THEN false END)", expr)
	}
	if typ != "VARCHAR" {
		expr = "CAST(" + expr + " AS VARCHAR)"
	}
	// The exact spellings true and false skip trim() and lower().
	return fmt.Sprintf("(CASE %[1]s WHEN 'true' THEN true WHEN 'false' THEN false ELSE "+
		"(CASE lower(trim(%[1]s, %[2]s)) WHEN 'true' THEN true WHEN '1' THEN true WHEN 'yes' THEN true "+
		"WHEN 'false' THEN false WHEN '0' THEN false WHEN 'no' THEN false END) END)", expr, QuoteString(UnitSpace))
}

// ConsentTime reads the time of a consent record: a TIMESTAMP, TIMESTAMPTZ
// or DATE value as its instant, or ISO-8601 text (see ParseTimestamp) with
// UnitSpace trimmed; a UTC offset is applied, text without one is UTC. ok is
// false for NULL and anything else: a record without a usable time is
// malformed.
func ConsentTime(v Value) (time.Time, bool) {
	switch v.Kind {
	case KindTime:
		return v.T.UTC(), true
	case KindText:
		return ParseTimestamp(strings.Trim(v.S, UnitSpace))
	}
	return time.Time{}, false
}

// ConsentTimeSQL is ConsentTime in DuckDB for a VARCHAR expression (cast
// TIMESTAMP, TIMESTAMPTZ and DATE columns to VARCHAR first): a TIMESTAMP in
// UTC, or NULL. Only text of the shape ParseTimestamp reads is cast, so both
// engines accept the same times.
func ConsentTimeSQL(expr string) string {
	t := fmt.Sprintf("trim(%s, %s)", expr, QuoteString(UnitSpace))
	return fmt.Sprintf("(CASE WHEN regexp_full_match(%[1]s, %[2]s) THEN CAST(TRY_CAST(%[1]s AS TIMESTAMPTZ) AS TIMESTAMP) END)",
		t, QuoteString(consentTimePattern))
}

// consentTimePattern is timestampPattern with hours 0 to 23 only:
// TRY_CAST reads 24:00:00 as the next midnight, ParseTimestamp refuses it.
var consentTimePattern = strings.Replace(timestampPattern, "[T ]([0-9]{1,2}):", "[T ]([01]?[0-9]|2[0-3]):", 1)
