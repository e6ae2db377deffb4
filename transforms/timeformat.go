package transforms

import (
	"fmt"
	"strings"
	"time"
)

// TimeFormat is a strptime format for times written as text ("9:30AM",
// "07/12/2026 18:05"), checked by NewTimeFormat. DuckDB parses it with
// try_strptime and Parse is its Go twin; both accept only the specifiers
// below, each field at most once, so both engines read a value alike:
//
//	%Y  year, 1 to 4 digits         %y  year 00-99 (00-68: 20xx, 69-99: 19xx)
//	%m  month 1-12                  %b  month Jan..Dec, %B January..December
//	%d  day of month 1-31           %H  hour 0-23
//	%I  hour 1-12, with %p AM/PM    %M  minute 0-59
//	%S  second 0-59                 %f  fraction of a second, 1 to 6 digits
//	%%  a percent sign
//
// Numbers take 1 or 2 digits (so "9:05" and "09:05" both match "%H:%M").
// Names and AM/PM ignore case. A space in the format matches one or more
// white-space characters; any other character matches itself. White space
// around the value is ignored. A format without a date reads as 1900-01-01;
// the time has no zone: it is read as UTC, like ISO text without an offset.
type TimeFormat struct {
	layout string
	items  []timeItem
}

// timeItem is one part of a format: a specifier, or literal text when spec
// is 0.
type timeItem struct {
	spec byte
	lit  string
}

// timeSpecs are the supported specifiers: the field each sets (a field may
// be set once) and, for numbers, how many digits it reads at most.
var timeSpecs = map[byte]struct {
	field string
	width int
}{
	'Y': {"year", 4}, 'y': {"year", 2},
	'm': {"month", 2}, 'b': {"month", 0}, 'B': {"month", 0},
	'd': {"day", 2},
	'H': {"hour", 2}, 'I': {"hour", 2}, 'p': {"am/pm", 0},
	'M': {"minute", 2}, 'S': {"second", 2}, 'f': {"fraction", 6},
}

// TimeSpecifiers lists the supported specifiers, for messages and docs.
const TimeSpecifiers = "%Y %y %m %b %B %d %H %I %p %M %S %f %%"

// NewTimeFormat checks layout and returns its format. The error states the
// rule; the caller names the config key.
func NewTimeFormat(layout string) (*TimeFormat, error) {
	if strings.TrimSpace(layout) == "" {
		return nil, fmt.Errorf("must not be empty")
	}
	f := &TimeFormat{layout: layout}
	set := map[string]byte{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.items = append(f.items, timeItem{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(layout); i++ {
		if layout[i] != '%' {
			lit.WriteByte(layout[i])
			continue
		}
		if i+1 == len(layout) {
			return nil, fmt.Errorf("ends with a lone %%: write %%%% for a percent sign")
		}
		i++
		c := layout[i]
		if c == '%' {
			lit.WriteByte('%')
			continue
		}
		spec, ok := timeSpecs[c]
		if !ok {
			return nil, fmt.Errorf("has %%%c, which privagg does not read: use %s", c, TimeSpecifiers)
		}
		if prev, dup := set[spec.field]; dup {
			return nil, fmt.Errorf("sets the %s twice (%%%c and %%%c)", spec.field, prev, c)
		}
		set[spec.field] = c
		flush()
		f.items = append(f.items, timeItem{spec: c})
	}
	flush()
	for _, it := range f.items {
		if low := strings.ToLower(it.lit); strings.Contains(low, "infinity") || strings.Contains(low, "epoch") {
			return nil, fmt.Errorf("has the word infinity or epoch, which DuckDB reads as a special date")
		}
	}
	switch {
	case len(set) == 0:
		return nil, fmt.Errorf("has no specifier: use %s", TimeSpecifiers)
	case set["hour"] == 'I' && set["am/pm"] == 0:
		return nil, fmt.Errorf("has %%I (hour 1-12) without %%p (AM/PM): add %%p, or use %%H for hours 0-23")
	case set["am/pm"] != 0 && set["hour"] != 'I':
		return nil, fmt.Errorf("has %%p (AM/PM) without %%I (hour 1-12)")
	}
	return f, nil
}

// String returns the format as written.
func (f *TimeFormat) String() string { return f.layout }

// SQL returns try_strptime over the text of src: a TIMESTAMP, NULL where
// the text does not match. DuckDB's try_strptime reads the words
// "infinity", "-infinity" and "epoch" (any case) as 1900-01-01 whatever
// the format; text holding "infinity" or "epoch" gives NULL instead, as in
// Parse (NewTimeFormat refuses formats whose literal text holds them).
func (f *TimeFormat) SQL(src string) string {
	text := "CAST(" + src + " AS VARCHAR)"
	return "CASE WHEN NOT regexp_matches(" + text + ", " + QuoteString(specialWords) + ", 'i') THEN try_strptime(" +
		text + ", " + QuoteString(f.layout) + ") END"
}

// specialWords are the words DuckDB's try_strptime reads as a special date,
// as a regular expression.
const specialWords = "infinity|epoch"

var (
	monthNames = []string{"january", "february", "march", "april", "may", "june", "july", "august",
		"september", "october", "november", "december"}
	dayLabels = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
)

// isSpace is DuckDB's white space: space, tab, newline, vertical tab, form
// feed and carriage return.
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// Parse is the Go twin of f.SQL for text: the time s names (in UTC), or ok
// false where f.SQL gives NULL.
func (f *TimeFormat) Parse(s string) (time.Time, bool) {
	d := dateParts{year: 1900, month: 1, day: 1, pm: -1}
	pos := skipSpace(s, 0)
	for _, it := range f.items {
		var ok bool
		switch {
		case it.spec == 0:
			pos, ok = matchLiteral(s, pos, it.lit)
		case timeSpecs[it.spec].width > 0:
			pos, ok = d.number(s, pos, it.spec)
		default:
			pos, ok = d.word(s, pos, it.spec)
		}
		if !ok {
			return time.Time{}, false
		}
	}
	if skipSpace(s, pos) != len(s) {
		return time.Time{}, false
	}
	return d.time()
}

// dateParts are the fields Parse has read so far.
type dateParts struct {
	year, month, day, hour, minute, second, micros int
	pm                                             int // -1 without %p, 0 AM, 1 PM
}

// number reads the numeric specifier spec at s[pos:]: 1 to its width in
// digits.
func (d *dateParts) number(s string, pos int, spec byte) (int, bool) {
	start, n := pos, 0
	for pos < len(s) && pos-start < timeSpecs[spec].width && s[pos] >= '0' && s[pos] <= '9' {
		n = n*10 + int(s[pos]-'0')
		pos++
	}
	if pos == start {
		return pos, false
	}
	switch spec {
	case 'Y':
		d.year = n
	case 'y':
		d.year = 2000 + n
		if n >= 69 {
			d.year = 1900 + n
		}
	case 'm':
		d.month = n
	case 'd':
		d.day = n
	case 'H':
		d.hour = n
		return pos, n <= 23
	case 'I':
		d.hour = n
		return pos, n >= 1 && n <= 12
	case 'M':
		d.minute = n
	case 'S':
		d.second = n
	case 'f':
		for digits := pos - start; digits < 6; digits++ {
			n *= 10
		}
		d.micros = n
	}
	return pos, true
}

// word reads %p (AM/PM) or a month name (%b, %B) at s[pos:], ignoring case.
func (d *dateParts) word(s string, pos int, spec byte) (int, bool) {
	has := func(w string) bool { return len(s)-pos >= len(w) && strings.EqualFold(s[pos:pos+len(w)], w) }
	if spec == 'p' {
		switch {
		case has("am"):
			d.pm = 0
		case has("pm"):
			d.pm = 1
		default:
			return pos, false
		}
		return pos + 2, true
	}
	for i, name := range monthNames {
		if spec == 'b' {
			name = name[:3]
		}
		if has(name) {
			d.month = i + 1
			return pos + len(name), true
		}
	}
	return pos, false
}

// time checks the fields and returns the time they name.
func (d *dateParts) time() (time.Time, bool) {
	hour := d.hour
	if d.pm >= 0 {
		hour = hour%12 + 12*d.pm
	}
	if d.month < 1 || d.month > 12 || d.day < 1 || d.minute > 59 || d.second > 59 {
		return time.Time{}, false
	}
	t := time.Date(d.year, time.Month(d.month), d.day, hour, d.minute, d.second, d.micros*1000, time.UTC)
	if t.Day() != d.day { // 2026-02-30 rolled over
		return time.Time{}, false
	}
	return t, true
}

// skipSpace returns the position of the first byte at or after pos that is
// not white space.
func skipSpace(s string, pos int) int {
	for pos < len(s) && isSpace(s[pos]) {
		pos++
	}
	return pos
}

// matchLiteral matches the literal text lit at s[pos:], as DuckDB does: a
// run of white space in lit matches a run of at least one white-space
// character in s; any other byte matches itself.
func matchLiteral(s string, pos int, lit string) (int, bool) {
	for l := 0; l < len(lit); {
		if isSpace(lit[l]) {
			if pos >= len(s) || !isSpace(s[pos]) {
				return pos, false
			}
			for l < len(lit) && isSpace(lit[l]) {
				l++
			}
			pos = skipSpace(s, pos)
			continue
		}
		if pos >= len(s) || s[pos] != lit[l] {
			return pos, false
		}
		pos++
		l++
	}
	return pos, true
}
