package transforms

import (
	"database/sql"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// openDB returns an in-memory DuckDB with the session settings privagg uses.
func openDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatalf("set time zone: %v", err)
	}
	return db
}

// null marks an expected SQL NULL.
const null = "<NULL>"

// evalCase is one input of a derived column: a DuckDB literal (with its
// type) and the expected output, or null.
type evalCase struct {
	in   string
	want string
}

// checkEval evaluates d over each input literal bound to a column named as
// d.Source() and compares with the expected labels; it also checks that the
// result type is VARCHAR.
func checkEval(t *testing.T, db *sql.DB, d Derived, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			q := "SELECT out, typeof(out) FROM (SELECT " + d.SQL(QuoteIdent(d.Source())) + " AS out FROM (SELECT " +
				c.in + " AS " + QuoteIdent(d.Source()) + "))"
			var got sql.NullString
			var typ string
			if err := db.QueryRow(q).Scan(&got, &typ); err != nil {
				t.Fatalf("query: %v\n%s", err, q)
			}
			if typ != "VARCHAR" {
				t.Errorf("result type %s, want VARCHAR", typ)
			}
			g := null
			if got.Valid {
				g = got.String
			}
			if g != c.want {
				t.Errorf("%s(%s) = %q, want %q", d.Name(), c.in, g, c.want)
			}
		})
	}
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// checkSpecError asserts err is a *SpecError with the given key whose text
// contains every fragment.
func checkSpecError(t *testing.T, err error, key string, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one at %s", key)
	}
	var se *SpecError
	if !errors.As(err, &se) {
		t.Fatalf("error %q is %T, want *SpecError", err, err)
	}
	if se.Key() != key {
		t.Errorf("error key %q, want %q (error: %v)", se.Key(), key, err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	for _, s := range []string{"plain", `with "double" quotes`, "it's", `back\slash`, "ünïcødé €", "", "a;b--c"} {
		t.Run(s, func(t *testing.T) {
			var got string
			q := "SELECT " + QuoteString(s) + " AS " + QuoteIdent(s+"x")
			rows, err := db.Query(q)
			if err != nil {
				t.Fatalf("query %s: %v", q, err)
			}
			defer rows.Close()
			cols, err := rows.Columns()
			if err != nil {
				t.Fatal(err)
			}
			if cols[0] != s+"x" {
				t.Errorf("QuoteIdent: column name %q, want %q", cols[0], s+"x")
			}
			if !rows.Next() {
				t.Fatal("no row")
			}
			if err := rows.Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != s {
				t.Errorf("QuoteString: got %q, want %q", got, s)
			}
		})
	}
}

func TestCheckNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, from, key string
	}{
		{"", "age", "columns."},
		{"  ", "age", "columns.  "},
		{"__units", "age", "columns.__units"},
		{"band", "", "columns.band.from"},
		{"band", "__privagg_map_key", "columns.band.from"},
	} {
		t.Run(tc.name+"/"+tc.from, func(t *testing.T) {
			_, err := NewPrefix(tc.name, tc.from, 3)
			checkSpecError(t, err, tc.key)
		})
	}
}
