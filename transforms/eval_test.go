package transforms

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Go twins must agree with DuckDB on every input below: hand-picked edge
// cases plus deterministic random ones.

// textCorpus is text as CSV or NDJSON delivers it.
func textCorpus() []string {
	c := []string{
		"", " ", "0", "1", "-1", "+1", "01", "007", " 12 ", "\t3\n", "1.5", "-0.0", ".5", "5.", "1e3", "1E-3", "-2.5e+2",
		"1e400", "1e-400", "inf", "-inf", "Infinity", "nan", "NaN", "abc", "1,5", "1 2", "0x10", "1_000", "--1", "e5",
		"true", "false", "TRUE", "t", "f", "yes", "no", "y", "n", "on", "off", " true ", "2",
		"17", "18", "24.999", "25", "65", "64.5", "99", "-5",
		"2024-01-07 23:59:59.999999", "2024-01-08 00:00:00", "2021-01-01 12:00:00", "2024-02-29 12:34:56",
		"2024-01-07T23:00:00Z", "2024-01-08T01:00:00+02:00", "2024-01-01 01:30:00+02", "2024-06-30 10:15:00",
		"2024-06-30T10:15:00.123456789", "2024-12-31", "2024-13-01", "2023-02-30", " 2024-01-01 ", "2024-1-1",
		"2024-06-30T10:15", "2024-06-30 10:15:00-05:30", "infinity",
		"02139", "  94105-1234 ", "SW1A 1AA", "ünïcødé", "日本語テキスト", "a", "ab",
		"DE", "FR", " DE ", "de", "XX",
		"9:30AM", "12:05am", " 9:30 PM", "13:05PM", "07/12/2026 18:05", "7/2/2026 8:05", "31/02/2026 18:05", "7 Dec 2026",
		"29/02/2024 00:00", "1/1/1970 0:00",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		switch r.IntN(4) {
		case 0:
			c = append(c, strconv.FormatFloat((r.Float64()-0.3)*150, 'f', r.IntN(4), 64))
		case 1:
			c = append(c, strconv.Itoa(r.IntN(200)-50))
		case 2:
			t := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(5 * 365 * 24 * 3600e9)))
			layouts := []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05Z", "2006-01-02T15:04:05-07:00", "2006-01-02", "2006-01-02 15:04:05.000"}
			loc := time.FixedZone("", (r.IntN(27)-12)*3600)
			c = append(c, t.In(loc).Format(layouts[r.IntN(len(layouts))]))
		default:
			c = append(c, fmt.Sprintf("%05d", r.IntN(100000)))
		}
	}
	return c
}

func lits(vals []string) string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = "(" + strconv.Itoa(i) + ", " + QuoteString(v) + ")"
	}
	return strings.Join(out, ", ")
}

// queryColumn evaluates expr over the corpus (bound to column x, VARCHAR) and
// returns one nullable text result per input.
func queryColumn(t *testing.T, db *sql.DB, values string, expr string, n int) []sql.NullString {
	t.Helper()
	q := "SELECT i, CAST(" + expr + " AS VARCHAR) FROM (VALUES " + values + ") v(i, x) ORDER BY i"
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rows.Close()
	out := make([]sql.NullString, n)
	for rows.Next() {
		var i int
		var s sql.NullString
		if err := rows.Scan(&i, &s); err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScalarCastsAgreeWithDuckDB(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	corpus := textCorpus()
	values := lits(corpus)
	t.Run("double", func(t *testing.T) {
		want := queryColumn(t, db, values, "TRY_CAST(x AS DOUBLE)", len(corpus))
		for i, s := range corpus {
			f, ok := ParseDouble(s)
			if ok != want[i].Valid {
				t.Errorf("ParseDouble(%q) ok = %v, DuckDB valid = %v", s, ok, want[i].Valid)
				continue
			}
			if ok && FormatDouble(f) != want[i].String {
				t.Errorf("ParseDouble(%q) = %s, DuckDB %s", s, FormatDouble(f), want[i].String)
			}
		}
	})
	t.Run("bool", func(t *testing.T) {
		want := queryColumn(t, db, values, "TRY_CAST(x AS BOOLEAN)", len(corpus))
		for i, s := range corpus {
			b, ok := ParseBool(s)
			if ok != want[i].Valid || (ok && strconv.FormatBool(b) != want[i].String) {
				t.Errorf("ParseBool(%q) = %v, %v; DuckDB %v", s, b, ok, want[i])
			}
		}
	})
}

func TestFormatDoubleAgreesWithDuckDB(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	fs := []float64{0, 1, -1, 0.5, 2, 10, 100, 1e5, 123456789, 1e15, 9.99e15, 1e16, 1.5e17, 1e20, 1e-4, 1e-5, 1.2345e-6,
		0.1, 0.2 + 0.1, 1.0 / 3, -2.5, 500, 499.99, math.MaxFloat64, math.SmallestNonzeroFloat64}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		fs = append(fs, (r.Float64()-0.5)*math.Pow(10, float64(r.IntN(30)-10)))
	}
	var text []string
	for _, f := range fs {
		text = append(text, strconv.FormatFloat(f, 'g', -1, 64))
	}
	want := queryColumn(t, db, lits(text), "CAST(x AS DOUBLE)", len(fs))
	for i, f := range fs {
		if got := FormatDouble(f); got != want[i].String {
			t.Errorf("FormatDouble(%v) = %q, DuckDB %q", f, got, want[i].String)
		}
	}
}

func TestDerivedEvalAgreesWithSQL(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	mapFile := filepath.Join(t.TempDir(), "regions.csv")
	if err := os.WriteFile(mapFile, []byte("country,region\nDE,emea\nFR, emea \nUS,amer\n02139,zip\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	must := func(d Derived, err error) Derived {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	derived := []Derived{
		must(NewBins("age_band", "x", []float64{18, 25, 35, 45, 55, 65})),
		must(NewBins("frac", "x", []float64{-0.5, 0.25, 1.5})),
		must(NewTruncate("hour", "x", UnitHour, "")),
		must(NewTruncate("day", "x", UnitDay, "")),
		must(NewTruncate("week", "x", UnitWeek, "")),
		must(NewTruncate("month", "x", UnitMonth, "")),
		must(NewTruncate("day_dmy", "x", UnitDay, "%d/%m/%Y %H:%M")),
		must(NewTruncate("week_dmy", "x", UnitWeek, "%d/%m/%Y %H:%M")),
		must(NewPart("hour_iso", "x", PartHourOfDay, "")),
		must(NewPart("dow_iso", "x", PartDayOfWeek, "")),
		must(NewPart("month_iso", "x", PartMonthOfYear, "")),
		must(NewPart("hour_ampm", "x", PartHourOfDay, "%I:%M %p")),
		must(NewPart("dow_dmy", "x", PartDayOfWeek, "%d/%m/%Y %H:%M")),
		must(NewPart("month_named", "x", PartMonthOfYear, "%d %b %Y")),
		must(NewPrefix("zip3", "x", 3)),
		must(NewPrefix("one", "x", 1)),
		must(NewMap("region", "x", mapFile, "")),
	}
	corpus := textCorpus()
	values := lits(corpus)
	for _, d := range derived {
		t.Run(d.Name()+"/text", func(t *testing.T) {
			want := queryColumn(t, db, values, d.SQL("x"), len(corpus))
			for i, s := range corpus {
				checkTwin(t, d, Value{Kind: KindText, S: s}, want[i], fmt.Sprintf("%q", s))
			}
			checkTwin(t, d, Value{}, queryColumn(t, db, "(0, NULL::VARCHAR)", d.SQL("x"), 1)[0], "NULL")
		})
		t.Run(d.Name()+"/typed", func(t *testing.T) {
			ints := []int64{-3, 0, 17, 18, 64, 65, 2139, 123456}
			for _, n := range ints {
				want := queryColumn(t, db, fmt.Sprintf("(0, %d::BIGINT)", n), d.SQL("x"), 1)[0]
				checkTwin(t, d, Value{Kind: KindInt, I: n}, want, fmt.Sprint(n))
			}
			for _, f := range []float64{-0.75, 0, 0.25, 17.9, 24.5, 65, 1e20, math.Inf(1), math.NaN()} {
				lit := fmt.Sprintf("(0, '%v'::DOUBLE)", f)
				want := queryColumn(t, db, lit, d.SQL("x"), 1)[0]
				checkTwin(t, d, Value{Kind: KindFloat, F: f}, want, fmt.Sprint(f))
			}
			for _, ts := range []time.Time{
				time.Date(2024, 1, 7, 23, 59, 59, 999999000, time.UTC),
				time.Date(2021, 1, 1, 12, 0, 0, 0, time.UTC),
				time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
			} {
				lit := fmt.Sprintf("(0, TIMESTAMP '%s')", ts.Format("2006-01-02 15:04:05.000000"))
				want := queryColumn(t, db, lit, typedSQL(d, "x", "TIMESTAMP"), 1)[0]
				checkTwin(t, d, Value{Kind: KindTime, T: ts}, want, ts.String())
			}
		})
	}
}

// typedSQL is d's SQL over src of DuckDB type duckType, as the engine
// renders it when it knows the type.
func typedSQL(d Derived, src, duckType string) string {
	if n, ok := d.(TypedNative); ok {
		return n.FormatSQL(n.NativeSQLTyped(src, duckType))
	}
	return d.SQL(src)
}

func checkTwin(t *testing.T, d Derived, v Value, want sql.NullString, desc string) {
	t.Helper()
	got, ok := Eval(d, v)
	if ok != want.Valid || (ok && got != want.String) {
		t.Errorf("%s.Eval(%s) = %q, %v; SQL gives %q, %v", d.Name(), desc, got, ok, want.String, want.Valid)
	}
}
