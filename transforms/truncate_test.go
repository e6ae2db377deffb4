package transforms

import (
	"testing"
)

func TestNewTruncateErrors(t *testing.T) {
	t.Parallel()
	for _, unit := range []string{"", "year", "Week", "minute", " day"} {
		t.Run(unit, func(t *testing.T) {
			_, err := NewTruncate("week", "ts", unit, "")
			checkSpecError(t, err, "columns.week.truncate", "must be one of hour, day, week, month")
		})
	}
}

func TestTruncateSQL(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	mustTruncate := func(unit string) *Truncate {
		t.Helper()
		tr, err := NewTruncate(unit+"_of_ts", "ts", unit, "")
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	hour, day, week, month := mustTruncate(UnitHour), mustTruncate(UnitDay), mustTruncate(UnitWeek), mustTruncate(UnitMonth)
	checkGolden(t, "truncate_week.sql", week.SQL(QuoteIdent("ts"))+"\n")

	for _, tc := range []struct {
		name                   string
		in                     string
		hour, day, week, month string
	}{
		{"sunday late", "TIMESTAMP '2024-01-07 23:59:59.999999'", "2024-01-07 23:00:00", "2024-01-07", "2024-01-01", "2024-01-01"},
		{"monday midnight", "TIMESTAMP '2024-01-08 00:00:00'", "2024-01-08 00:00:00", "2024-01-08", "2024-01-08", "2024-01-01"},
		{"week across new year", "TIMESTAMP '2021-01-01 12:00:00'", "2021-01-01 12:00:00", "2021-01-01", "2020-12-28", "2021-01-01"},
		{"month end", "TIMESTAMP '2024-01-31 23:59:59'", "2024-01-31 23:00:00", "2024-01-31", "2024-01-29", "2024-01-01"},
		{"leap day", "TIMESTAMP '2024-02-29 12:34:56'", "2024-02-29 12:00:00", "2024-02-29", "2024-02-26", "2024-02-01"},
		{"date sunday", "DATE '2024-03-31'", "2024-03-31 00:00:00", "2024-03-31", "2024-03-25", "2024-03-01"},
		{"timestamptz offset", "TIMESTAMPTZ '2024-01-01 01:30:00+02'", "2023-12-31 23:00:00", "2023-12-31", "2023-12-25", "2023-12-01"},
		{"text Z", "'2024-01-07T23:00:00Z'", "2024-01-07 23:00:00", "2024-01-07", "2024-01-01", "2024-01-01"},
		{"text offset", "'2024-01-08T01:00:00+02:00'", "2024-01-07 23:00:00", "2024-01-07", "2024-01-01", "2024-01-01"},
		{"text no offset", "'2024-06-30 10:15:00'", "2024-06-30 10:00:00", "2024-06-30", "2024-06-24", "2024-06-01"},
		{"text fraction", "'2024-06-30T10:15:00.123456789'", "2024-06-30 10:00:00", "2024-06-30", "2024-06-24", "2024-06-01"},
		{"text date only", "'2024-12-31'", "2024-12-31 00:00:00", "2024-12-31", "2024-12-30", "2024-12-01"},
		{"text garbage", "'not a date'", null, null, null, null},
		{"text bad month", "'2024-13-01'", null, null, null, null},
		{"text padded", "' 2024-01-01 '", null, null, null, null},
		{"text empty", "''", null, null, null, null},
		{"text infinity", "'infinity'", null, null, null, null},
		{"null timestamp", "NULL::TIMESTAMP", null, null, null, null},
		{"null text", "NULL::VARCHAR", null, null, null, null},
		{"null date", "NULL::DATE", null, null, null, null},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkEval(t, db, hour, []evalCase{{tc.in, tc.hour}})
			checkEval(t, db, day, []evalCase{{tc.in, tc.day}})
			checkEval(t, db, week, []evalCase{{tc.in, tc.week}})
			checkEval(t, db, month, []evalCase{{tc.in, tc.month}})
		})
	}
}

// TestTruncateNativeMatchesSQL: formatting the native value gives exactly the
// text SQL gives, for every unit and many inputs.
func TestTruncateNativeMatchesSQL(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	db.SetMaxOpenConns(1)
	for _, unit := range []string{UnitHour, UnitDay, UnitWeek, UnitMonth} {
		tr, err := NewTruncate("t", "ts", unit, "")
		if err != nil {
			t.Fatal(err)
		}
		q := "SELECT count(*) FROM (SELECT " + tr.SQL("ts") + " AS a, " + tr.FormatSQL(tr.NativeSQL("ts")) + " AS b FROM " +
			"(SELECT (TIMESTAMP '2025-12-01 00:00:00' + INTERVAL (i * 7919) SECOND)::VARCHAR AS ts FROM range(20000) r(i) " +
			"UNION ALL SELECT 'garbage' UNION ALL SELECT NULL UNION ALL SELECT '2026-03-29 01:30:00+02:00')) WHERE a IS DISTINCT FROM b"
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d inputs where native+format differs from SQL", unit, n)
		}
	}
}
