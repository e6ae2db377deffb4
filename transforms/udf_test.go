package transforms

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// udfConn returns a connection with the pseudonym function registered as
// fn, backed by a Pseudonymizer with testKey.
func udfConn(t testing.TB, fn string) (*sql.Conn, *Pseudonymizer) {
	t.Helper()
	db := openDB(t)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := mustPseudonymizer(t, testKey, "1")
	if err := RegisterUDF(conn, fn, p); err != nil {
		t.Fatal(err)
	}
	return conn, p
}

// TestUDFMatchesGo runs the registered function over many inputs inside
// DuckDB and compares every row with the Go function.
func TestUDFMatchesGo(t *testing.T) {
	t.Parallel()
	conn, p := udfConn(t, "privagg_pseudonym")
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE ids (v VARCHAR)"); err != nil {
		t.Fatal(err)
	}
	inputs := append(syntheticEmails(20_000),
		"Alice@Example.com", "  alice@example.com  ", "\talice@EXAMPLE.com\n", "ÉMILE@EXÄMPLE.DE", "用户@例子.中国",
		"\u00a0bob@example.com\u2003", "", "   ", "o'neil@example.com", `quote"d@example.com`, "emoji😀@example.com")
	err := conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(*duckdb.Conn), "", "ids")
		if err != nil {
			return err
		}
		for _, v := range inputs {
			if err := app.AppendRow(v); err != nil {
				return err
			}
		}
		if err := app.AppendRow(nil); err != nil { // NULL
			return err
		}
		return app.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT v, privagg_pseudonym(v) FROM ids")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n, nulls := 0, 0
	for rows.Next() {
		var v, got sql.NullString
		if err := rows.Scan(&v, &got); err != nil {
			t.Fatal(err)
		}
		n++
		if !v.Valid {
			nulls++
			if got.Valid {
				t.Errorf("NULL input gave %q, want NULL", got.String)
			}
			continue
		}
		if want := p.Pseudonym(v.String); !got.Valid || got.String != want {
			t.Errorf("row %d: UDF gives %q, Go gives %q", n, got.String, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(inputs)+1 || nulls != 1 {
		t.Errorf("read %d rows (%d NULL), want %d (1 NULL)", n, nulls, len(inputs)+1)
	}

	// The function takes the id as given; the engine passes the canonical
	// id, so padded forms of one id share a pseudonym, and differently cased
	// forms only when case is folded (privacy_unit_case: fold).
	for _, tc := range []struct {
		fold bool
		want int
	}{{false, 2}, {true, 1}} {
		var distinct int
		err = conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(DISTINCT privagg_pseudonym(%s)) FROM (VALUES
			('Alice@Example.com'), ('  Alice@Example.com  '), (E'\talice@EXAMPLE.com\n')) t(v)`, CanonicalUnitSQL("v", tc.fold))).Scan(&distinct)
		if err != nil || distinct != tc.want {
			t.Errorf("fold=%v: %d distinct pseudonyms (err %v), want %d", tc.fold, distinct, err, tc.want)
		}
	}
}

func TestUDFNonTextArgument(t *testing.T) {
	t.Parallel()
	conn, p := udfConn(t, "pseudo")
	var got string
	// DuckDB does not cast integers to VARCHAR implicitly; an explicit cast works.
	if err := conn.QueryRowContext(context.Background(), "SELECT pseudo(CAST(42 AS VARCHAR))").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := p.Pseudonym("42"); got != want {
		t.Errorf("pseudo('42') = %q, want %q", got, want)
	}
}

func TestRegisterUDFErrors(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := mustPseudonymizer(t, testKey, "1")
	for _, fn := range []string{"", "Upper", "1abc", "drop table", `x"y`, strings.Repeat("a", 64)} {
		if err := RegisterUDF(conn, fn, p); err == nil || !strings.Contains(err.Error(), "name must match") {
			t.Errorf("RegisterUDF(%q) error = %v, want a name error", fn, err)
		}
	}
	if err := RegisterUDF(conn, "ok", nil); err == nil {
		t.Error("nil pseudonymizer: no error")
	}
	if err := RegisterUDF(nil, "ok", p); err == nil {
		t.Error("nil connection: no error")
	}
}

// TestUDFThroughput pseudonymizes 10^6 rows in one query, logs the rate and
// fails only if it is absurdly slow (a regression to per-row re-keying or
// similar), so it is not flaky on a loaded machine.
func TestUDFThroughput(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short mode")
	}
	conn, _ := udfConn(t, "privagg_pseudonym")
	const n = 1_000_000
	start := time.Now()
	var distinct int64
	err := conn.QueryRowContext(context.Background(),
		"SELECT count(DISTINCT privagg_pseudonym('user' || i || '@example.com')) FROM range(1000000) t(i)").Scan(&distinct)
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	t.Logf("%d rows in %v (%.0f rows/s)", n, d, n/d.Seconds())
	if distinct != n {
		t.Errorf("%d distinct pseudonyms, want %d", distinct, n)
	}
	if d > 2*time.Minute {
		t.Errorf("took %v for %d rows", d, n)
	}
}
