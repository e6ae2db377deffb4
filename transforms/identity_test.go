package transforms

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
)

// identityConn is one DuckDB connection in a UTC session.
func identityConn(t *testing.T) *sql.Conn {
	t.Helper()
	db := openDB(t)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestUnitSpaceIsWhiteSpace: UnitSpace, its RE2 class and unicode.IsSpace
// name the same 25 characters.
func TestUnitSpaceIsWhiteSpace(t *testing.T) {
	t.Parallel()
	class := regexp.MustCompile("^" + unitSpaceClass + "$")
	n := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		in := strings.ContainsRune(UnitSpace, r)
		if in != unicode.IsSpace(r) || in != class.MatchString(string(r)) {
			t.Errorf("U+%04X: in UnitSpace %v, unicode.IsSpace %v, class %v", r, in, unicode.IsSpace(r), class.MatchString(string(r)))
		}
		if in {
			n++
		}
	}
	if n != 25 {
		t.Errorf("UnitSpace has %d characters, want the 25 of White_Space", n)
	}
}

// unitSamples are ids the canonical form must treat alike in both engines.
var unitSamples = []string{
	"u-alice", " u-alice", "u-alice ", "\u00a0u-alice\u3000", "\tu-alice\r\n", "U-ALICE", "u-Alice",
	"u-bob\u200b", "\u200bu-bob", "\ufeffu-bob", "u-bob\u2060", "a b", "a\u00a0b",
	"", " ", "   ", "\u00a0\u2003", "\u0085", "\u2028x\u2029", "\u205fx\u202f", "\u1680x\u180e",
	"12345678901234567890123", "007", "1e3", "ΟΔΟΣ", "Σ", "İstanbul", "STRASSE", "ẞ", "ß", "ǅ", "Ǆ", "ＡＢＣ", "ÉMILE@EXÄMPLE.DE",
	"用户@例子.中国", "emoji😀", "x'y", `x"y`, "~", "!x!",
}

// TestCanonicalUnitSQLMatchesGo compares CanonicalUnitSQL in DuckDB with
// CanonicalUnit in Go, with and without folding, on unitSamples and on
// every Unicode code point alone and between spaces.
func TestCanonicalUnitSQLMatchesGo(t *testing.T) {
	t.Parallel()
	conn := identityConn(t)
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE ids (v VARCHAR)"); err != nil {
		t.Fatal(err)
	}
	for _, s := range unitSamples {
		if _, err := conn.ExecContext(ctx, "INSERT INTO ids VALUES (?)", s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO ids SELECT chr(i::INTEGER) FROM range(1, 1114112) r(i) WHERE i < 55296 OR i > 57343
		UNION ALL SELECT ' ' || chr(i::INTEGER) || 'x' || chr(i::INTEGER) FROM range(1, 1114112) r(i) WHERE i < 55296 OR i > 57343
		UNION ALL SELECT NULL`); err != nil {
		t.Fatal(err)
	}
	for _, fold := range []bool{false, true} {
		rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT v, %s FROM ids", CanonicalUnitSQL("v", fold)))
		if err != nil {
			t.Fatal(err)
		}
		n, bad := 0, 0
		for rows.Next() {
			var v, got sql.NullString
			if err := rows.Scan(&v, &got); err != nil {
				t.Fatal(err)
			}
			n++
			if !v.Valid {
				if got.Valid {
					t.Errorf("NULL id: %q, want NULL", got.String)
				}
				continue
			}
			want, ok := CanonicalUnit(v.String, fold)
			if !ok {
				want = "" // blank: the SQL gives '', a malformed row
			}
			if !got.Valid || got.String != want {
				if bad++; bad < 20 {
					t.Errorf("fold=%v id %q: DuckDB %q, Go %q", fold, v.String, got.String, want)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if bad > 0 || n < 2*1112063 {
			t.Errorf("fold=%v: %d of %d ids differ", fold, bad, n)
		}
	}
}

func TestCanonicalUnit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, keep, fold string
		ok             bool
	}{
		{" u-Alice\u3000", "u-Alice", "u-alice", true},
		{"\u00a0\t", "", "", false},
		{"", "", "", false},
		{"a\u200b", "a\u200b", "a\u200b", true},
		{"ΟΔΟΣ", "ΟΔΟΣ", "οδοσ", true}, // simple case mapping: no final sigma
		{"\xff", "", "", false},        // not UTF-8
	} {
		k, ok := CanonicalUnit(tc.in, false)
		f, _ := CanonicalUnit(tc.in, true)
		if k != tc.keep || f != tc.fold || ok != tc.ok {
			t.Errorf("CanonicalUnit(%q) = %q/%q, %v; want %q/%q, %v", tc.in, k, f, ok, tc.keep, tc.fold, tc.ok)
		}
	}
}

// TestConsentValueSQLMatchesGo: the accepted consent spellings, and every
// other value malformed, alike in DuckDB and Go, for text, BOOLEAN, integer
// and DOUBLE columns.
func TestConsentValueSQLMatchesGo(t *testing.T) {
	t.Parallel()
	conn := identityConn(t)
	ctx := context.Background()
	texts := []string{"true", "false", "TRUE", "False", "No", " yes ", "Yes", "NO", "no", "1", "0", " 1\t", "\u00a00\u3000",
		"maybe", "-1", "2", "1.0", "0.0", "NaN", "nan", "", " ", "t", "f", "y", "n", "on", "off", "null", "yes please", "tru e"}
	want := map[string]string{}
	for _, s := range texts {
		g, ok := ConsentValue(Value{Kind: KindText, S: s})
		want[s] = consentString(g, ok)
	}
	check := func(sqlExpr, label string, wantS string) {
		t.Helper()
		var got sql.NullBool
		if err := conn.QueryRowContext(ctx, "SELECT "+sqlExpr).Scan(&got); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		g := "malformed"
		if got.Valid {
			g = fmt.Sprint(got.Bool)
		}
		if g != wantS {
			t.Errorf("%s: DuckDB %s, Go %s", label, g, wantS)
		}
	}
	for _, s := range texts {
		check(ConsentValueSQL(QuoteString(s), "VARCHAR"), fmt.Sprintf("text %q", s), want[s])
	}
	check(ConsentValueSQL("CAST(NULL AS VARCHAR)", "VARCHAR"), "NULL", consentString(ConsentValue(Value{})))
	for _, b := range []bool{true, false} {
		check(ConsentValueSQL(fmt.Sprintf("%v", b), "BOOLEAN"), fmt.Sprint("bool ", b), consentString(ConsentValue(Value{Kind: KindBool, B: b})))
	}
	for _, i := range []int64{1, 0, -1, 2} {
		check(ConsentValueSQL(fmt.Sprintf("%d::BIGINT", i), "BIGINT"), fmt.Sprint("int ", i), consentString(ConsentValue(Value{Kind: KindInt, I: i})))
	}
	for _, f := range []string{"1.0", "0.0", "'nan'"} {
		var x float64
		switch f {
		case "1.0":
			x = 1
		case "'nan'":
			x = math.NaN()
		}
		check(ConsentValueSQL("CAST("+f+" AS DOUBLE)", "DOUBLE"), "double "+f, consentString(ConsentValue(Value{Kind: KindFloat, F: x})))
	}
	for s, w := range map[string]string{"true": "true", " yes ": "true", "1": "true", "No": "false", "0": "false", "maybe": "malformed", "-1": "malformed", "": "malformed", "t": "malformed", "1.0": "malformed"} {
		if want[s] != w {
			t.Errorf("ConsentValue(%q) = %s, want %s", s, want[s], w)
		}
	}
}

func consentString(granted, ok bool) string {
	if !ok {
		return "malformed"
	}
	return fmt.Sprint(granted)
}

// TestConsentTimeSQLMatchesGo: consent times, with and without UTC offsets,
// read alike in DuckDB and Go; unusable ones are NULL in both.
func TestConsentTimeSQLMatchesGo(t *testing.T) {
	t.Parallel()
	if consentTimePattern == timestampPattern {
		t.Fatal("consentTimePattern does not restrict the hour")
	}
	conn := identityConn(t)
	ctx := context.Background()
	for _, s := range []string{
		"2024-01-01 10:00:00", "2024-01-01T10:00:00", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00+02:00",
		"2024-01-01T10:00:00-02:00", "2024-01-01 10:00:00+0530", "2024-01-01 10:00:00+05", "2024-01-01 10:00:00.123456789",
		"2024-01-01", " 2024-01-01 10:00:00 ", "\u00a02024-01-01\u3000", "2024-1-5 7:05", "2024-01-01 10:00",
		"2024-02-29 00:00:00", "2023-02-29 00:00:00", "2024-02-30 10:00:00", "2024-13-01", "2024-01-32", "2024-01-01 24:00:00",
		"2024-01-01 23:60:00", "2024-01-01 23:59:60", "2024-01-01T10:00:00+14:00", "2024-01-01T10:00:00+25:00",
		"", " ", "not a time", "infinity", "epoch", "today", "2024-01-01 10:00:00 Europe/Paris", "20240101", "1/2/2024",
		"0001-01-01", "9999-12-31 23:59:59", "2024-01-01T10:00:00z",
	} {
		var got sql.NullTime
		if err := conn.QueryRowContext(ctx, "SELECT "+ConsentTimeSQL(QuoteString(s))).Scan(&got); err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		want, ok := ConsentTime(Value{Kind: KindText, S: s})
		if got.Valid != ok || (ok && !got.Time.Equal(want)) {
			t.Errorf("%q: DuckDB %v (valid %v), Go %v (ok %v)", s, got.Time, got.Valid, want, ok)
		}
	}
	// Offsets are applied: 10:00+02:00 is 08:00 UTC.
	if got, _ := ConsentTime(Value{Kind: KindText, S: "2024-01-01T10:00:00+02:00"}); !got.Equal(time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("offset time read as %v, want 08:00 UTC", got)
	}
	if _, ok := ConsentTime(Value{}); ok {
		t.Error("NULL time is usable")
	}
}
