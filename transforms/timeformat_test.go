package transforms

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNewTimeFormatErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ layout, rule string }{
		{"", "must not be empty"},
		{"  ", "must not be empty"},
		{"at noon", "has no specifier"},
		{"%H:%M%", "ends with a lone %"},
		{"%H:%M %Z", "has %Z, which privagg does not read"},
		{"%Y-%m-%d %z", "has %z"},
		{"%-d/%m", "has %-"},
		{"%d %b %m", "sets the month twice (%b and %m)"},
		{"%H %I%p", "sets the hour twice"},
		{"%I:%M", "has %I (hour 1-12) without %p"},
		{"%H:%M%p", "has %p (AM/PM) without %I"},
		{"%H Epoch", "has the word infinity or epoch"},
	} {
		t.Run(tc.layout, func(t *testing.T) {
			_, err := NewTimeFormat(tc.layout)
			if err == nil || !strings.Contains(err.Error(), tc.rule) {
				t.Fatalf("NewTimeFormat(%q) = %v, want %q", tc.layout, err, tc.rule)
			}
		})
	}
}

func TestTimeFormatSpecError(t *testing.T) {
	t.Parallel()
	_, err := NewPart("hour", "Time entered", PartHourOfDay, "%I:%M")
	checkSpecError(t, err, "columns.hour.format", `"%I:%M" has %I (hour 1-12) without %p`)
	_, err = NewTruncate("day", "Time entered", UnitDay, "%Q")
	checkSpecError(t, err, "columns.day.format", `"%Q" has %Q`)
}

// timeLayouts are the formats the agreement test parses values with.
var timeLayouts = []string{
	"%I:%M%p", "%I:%M %p", "%d/%m/%Y %H:%M", "%m/%d/%y %I:%M:%S %p", "%Y-%m-%dT%H:%M:%S.%f", "%d %b %Y", "%B %d, %Y %H:%M",
	"%Y%m%d%H%M", "%H%%%M", "%Y", "%y", "%d.%m.%Y", "%H:%M:%S", "%H h", "%Y-%m-%d  %H",
}

// timeValues are values for the formats above: matching ones, near misses
// and random mutations.
func timeValues() []string {
	vals := []string{
		"", " ", "9:30AM", "09:30AM", "9:30am", "9:30 AM", "9:30  pm", "12:05AM", "12:05PM", "13:05PM", "0:05AM", " 9:30AM ",
		"9:5AM", "9:305AM", "9:30A", "9:30AMX", "+9:30AM", "9:30\tAM", "9:30\nAM", "9:30 aM",
		"07/12/2026 18:05", "7/2/2026 8:05", "31/02/2026 18:05", "29/02/2024 00:00", "29/02/2023 00:00", "00/01/2026 10:00",
		"07/ 12/2026 18:05", "07/12/2026 24:00", "07/12/2026 23:60", "7/12/26 1:2:3 PM", "12/31/69 11:59:59 AM", "12/31/68 11:59:59 AM",
		"2026-12-07T18:05:01.5", "2026-12-07T18:05:01.123456", "2026-12-07T18:05:01.1234567", "2026-12-07T18:05:01.", "2026-12-07T18:05:60.0",
		"07 Dec 2026", "7 dec 2026", "07 DEC 2026", "07 December 2026", "07 Sept 2026", "December 7, 2026 18:05", "december 07, 2026 8:5",
		"Dec 7, 2026 18:05", "202612071805", "2026127185", "10%30", "10%", "2026", "999", "12026", "26", "5", "100",
		"07.12.2026", "7.1.2026", "07.12.2026.", "18:05:01", "18:05:59", "18:05", "18 h", "18h", "1 h", "2026-12-07 18", "2026-12-07 18",
		"2026-12-0718", "infinity", "-infinity", " Infinity", "EPOCH", "epoch 9", "9 epoch", "+infinity", "１8:05:01", "18:05:01\r", "\v18:05:01",
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 400 {
		v := []byte(vals[r.IntN(len(vals))])
		switch r.IntN(4) {
		case 0: // a random digit
			if len(v) > 0 {
				v[r.IntN(len(v))] = byte('0' + r.IntN(10))
			}
		case 1: // drop a byte
			if len(v) > 0 {
				i := r.IntN(len(v))
				v = append(v[:i], v[i+1:]...)
			}
		case 2: // a random time, day first
			v = fmt.Appendf(nil, "%d/%d/%d %d:%02d", 1+r.IntN(31), 1+r.IntN(12), 1990+r.IntN(50), r.IntN(25), r.IntN(61))
		default:
			v = fmt.Appendf(nil, "%d:%02d%s", r.IntN(14), r.IntN(60), []string{"AM", "PM", "am", " pm", "XM", ""}[r.IntN(6)])
		}
		vals = append(vals, string(v))
	}
	return vals
}

func TestTimeFormatParseAgreesWithDuckDB(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	vals := timeValues()
	values := lits(vals)
	for _, layout := range timeLayouts {
		t.Run(layout, func(t *testing.T) {
			f, err := NewTimeFormat(layout)
			if err != nil {
				t.Fatal(err)
			}
			ts := f.SQL("x")
			want := queryColumn(t, db, values, "CASE WHEN isfinite("+ts+") THEN strftime("+ts+", '%Y-%m-%d %H:%M:%S.%f') END", len(vals))
			matched := 0
			for i, s := range vals {
				got, ok := f.Parse(s)
				g := sql.NullString{Valid: ok}
				if ok {
					g.String = got.Format("2006-01-02 15:04:05.000000")
					matched++
				}
				if g != want[i] {
					t.Errorf("Parse(%q) = %q, %v; DuckDB %q, %v", s, g.String, g.Valid, want[i].String, want[i].Valid)
				}
			}
			if matched == 0 {
				t.Errorf("no value matched %q: the test checks only refusals", layout)
			}
		})
	}
}
