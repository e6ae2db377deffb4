package transforms

import (
	"slices"
	"testing"
)

func TestNewPartErrors(t *testing.T) {
	t.Parallel()
	for _, part := range []string{"", "hour", "Hour_of_day", "week_of_year"} {
		t.Run(part, func(t *testing.T) {
			_, err := NewPart("hour", "ts", part, "")
			checkSpecError(t, err, "columns.hour.part", "must be one of hour_of_day, day_of_week, month_of_year")
		})
	}
}

func TestPartLabels(t *testing.T) {
	t.Parallel()
	hours := PartLabels(PartHourOfDay)
	if len(hours) != 24 || hours[0] != "00" || hours[9] != "09" || hours[23] != "23" {
		t.Errorf("hour_of_day labels = %v", hours)
	}
	if got := PartLabels(PartDayOfWeek); !slices.Equal(got, []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}) {
		t.Errorf("day_of_week labels = %v", got)
	}
	if got := PartLabels(PartMonthOfYear); len(got) != 12 || got[0] != "01" || got[11] != "12" {
		t.Errorf("month_of_year labels = %v", got)
	}
	if PartLabels("hour") != nil {
		t.Error("PartLabels of an unknown part is not nil")
	}
}

func TestPartSQL(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	must := func(p *Part, err error) *Part {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hour := must(NewPart("hour", "Time entered", PartHourOfDay, "%I:%M%p"))
	dow := must(NewPart("dow", "ts", PartDayOfWeek, ""))
	month := must(NewPart("month", "ts", PartMonthOfYear, ""))
	checkEval(t, db, hour, []evalCase{
		{"'9:30AM'", "09"}, {"'12:05AM'", "00"}, {"'12:05PM'", "12"}, {"'8:59pm'", "20"},
		{"'13:05PM'", null}, {"'9:30'", null}, {"'infinity'", null}, {"NULL::VARCHAR", null},
	})
	checkEval(t, db, dow, []evalCase{
		{"'2026-12-07'", "Mon"}, {"'2026-12-13 23:59:59'", "Sun"}, {"TIMESTAMP '2026-12-12 10:00:00'", "Sat"},
		{"'2026-12-14T00:30:00+02:00'", "Sun"}, {"'infinity'", null}, {"'monday'", null},
	})
	checkEval(t, db, month, []evalCase{{"'2026-01-31'", "01"}, {"DATE '2026-12-01'", "12"}, {"'2026-13-01'", null}})
}
