package catalog

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	duckdb "github.com/privagg/privagg/engine/duckdb"
)

func openDB(t *testing.T, f *fixture) *DB {
	t.Helper()
	db, err := OpenDB(context.Background(), loadCatalog(t, f.ledger))
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if w := db.Warnings(); len(w) > 0 {
		t.Fatalf("warnings: %q", w)
	}
	return db
}

// rows runs a checked query and returns its rows as Go values.
func rows(t *testing.T, db *DB, sql string) [][]any {
	t.Helper()
	if err := db.Check(context.Background(), sql); err != nil {
		t.Fatalf("Check(%s): %v", sql, err)
	}
	out, err := db.eng.QueryRows(context.Background(), sql)
	if err != nil {
		t.Fatalf("query %s: %v", sql, err)
	}
	return out
}

// storeRows reads a release store file with a separate, unrestricted engine.
func storeRows(t *testing.T, from string) [][]any {
	t.Helper()
	eng, err := duckdb.OpenDB(context.Background(), duckdb.DBOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	out, err := eng.QueryRows(context.Background(), "SELECT * FROM "+from+" ORDER BY campaign, channel")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestQueryTables(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	db := openDB(t, f)
	var names []string
	for _, qt := range db.Tables() {
		names = append(names, qt.Name)
	}
	want := "by_campaign,by_campaign__rel_1,by_campaign__rel_3,by_channel,by_channel__rel_1,by_channel__rel_2,by_channel__rel_3"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("tables = %s, want %s", got, want)
	}
	store := f.dir + "/ledger/privagg-releases/"
	for _, tc := range []struct{ table, from string }{
		{"by_channel__rel_1", "read_csv('" + store + "rel-1/by_channel.csv', allow_quoted_nulls = false, types = {" +
			"'events_ci95': 'DOUBLE', 'people_ci95': 'DOUBLE', 'revenue': 'DOUBLE', 'revenue_ci95': 'DOUBLE', 'avg_revenue': 'DOUBLE', 'avg_revenue_ci95': 'DOUBLE'})"},
		{"by_channel__rel_2", "read_parquet('" + store + "rel.2/by_channel.parquet')"},
	} {
		t.Run(tc.table, func(t *testing.T) {
			got := rows(t, db, "SELECT * FROM "+tc.table+" ORDER BY campaign, channel")
			if want := storeRows(t, tc.from); !reflect.DeepEqual(got, want) {
				t.Errorf("%s differs from its store file:\n got %v\nwant %v", tc.table, got, want)
			}
		})
	}
	// The latest release of by_channel is rel_3 (duckdb).
	latest := rows(t, db, "SELECT * FROM by_channel ORDER BY campaign, channel")
	if want := rows(t, db, "SELECT * FROM by_channel__rel_3 ORDER BY campaign, channel"); !reflect.DeepEqual(latest, want) {
		t.Errorf("by_channel is not the latest release rel_3:\n got %v\nwant %v", latest, want)
	}
	// The duckdb release read through ATTACH equals a direct read.
	eng, _ := duckdb.OpenDB(context.Background(), duckdb.DBOptions{Threads: 1})
	defer eng.Close()
	if err := eng.Exec(context.Background(), "ATTACH '"+store+"rel_3/releases.duckdb' AS r (READ_ONLY)"); err != nil {
		t.Fatal(err)
	}
	direct, _ := eng.QueryRows(context.Background(), "SELECT * FROM r.by_campaign ORDER BY campaign")
	if got := rows(t, db, "SELECT * FROM by_campaign__rel_3 ORDER BY campaign"); !reflect.DeepEqual(got, direct) || len(got) != 2 {
		t.Errorf("by_campaign__rel_3 = %v, want %v", got, direct)
	}
}

func TestQueryAcrossReleases(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	db := openDB(t, f)
	q := `SELECT a.campaign, a.channel, a.events AS events_1, b.events AS events_2, b.events - a.events AS diff,
	       sqrt(a.events_ci95 ^ 2 + b.events_ci95 ^ 2) AS diff_ci95
	      FROM by_channel__rel_1 a JOIN by_channel__rel_2 b USING (campaign, channel)
	      ORDER BY campaign, channel`
	got := rows(t, db, q)
	r1 := rows(t, db, "SELECT campaign, channel, events, events_ci95 FROM by_channel__rel_1 ORDER BY ALL")
	r2 := rows(t, db, "SELECT campaign, channel, events, events_ci95 FROM by_channel__rel_2 ORDER BY ALL")
	if len(got) != 6 || len(r1) != 6 || len(r2) != 6 {
		t.Fatalf("rows: join %d, rel-1 %d, rel.2 %d; want 6 each", len(got), len(r1), len(r2))
	}
	for i, row := range got {
		if row[0] != r1[i][0] || row[1] != r1[i][1] || row[2] != r1[i][2] || row[3] != r2[i][2] ||
			row[4] != r2[i][2].(int64)-r1[i][2].(int64) {
			t.Errorf("row %d = %v; rel-1 %v, rel.2 %v", i, row, r1[i], r2[i])
		}
	}
	// The output folders are not read: removing them changes nothing.
	got2 := rows(t, db, q)
	if !reflect.DeepEqual(got, got2) {
		t.Error("query is not repeatable")
	}
}

func TestQueryUsesStoreNotOutputDir(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	f.release(t, "parquet", false, "r1")
	if err := removeAll(f.dir + "/out_parquet"); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, f)
	if got := rows(t, db, "SELECT count(*) FROM by_channel"); got[0][0] != int64(6) {
		t.Errorf("count = %v, want 6 rows from the release store", got[0][0])
	}
}

// TestQueryRefused checks each kind of escape is refused before running,
// with a message naming it, even when the analyst knows the paths of the
// raw input and of the ledger.
func TestQueryRefused(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	db := openDB(t, f)
	in, led := f.input, f.ledger
	store := f.dir + "/ledger/privagg-releases/rel.2/by_channel.parquet"
	cases := []struct{ name, sql, want string }{
		{"copy to file", "COPY by_channel TO '/tmp/x.csv'", "COPY is not allowed"},
		{"copy from input", "COPY by_channel FROM '" + in + "'", "COPY is not allowed"},
		{"copy query", "COPY (SELECT 1) TO '/tmp/x.parquet' (FORMAT parquet)", "COPY is not allowed"},
		{"attach ledger", "ATTACH '" + led + "' AS l (READ_ONLY)", "ATTACH is not allowed"},
		{"detach", "DETACH memory", "DETACH is not allowed"},
		{"use", "USE memory", "USE is not allowed"},
		{"install", "INSTALL httpfs", "INSTALL is not allowed"},
		{"load", "LOAD httpfs", "LOAD is not allowed"},
		{"force install", "FORCE INSTALL httpfs", "FORCE is not allowed"},
		{"export", "EXPORT DATABASE '/tmp/x'", "EXPORT is not allowed"},
		{"import", "IMPORT DATABASE '/tmp/x'", "IMPORT is not allowed"},
		{"pragma", "PRAGMA database_list", "PRAGMA is not allowed"},
		{"pragma assign", "PRAGMA enable_external_access = true", "PRAGMA is not allowed"},
		{"set", "SET enable_external_access = true", "SET is not allowed"},
		{"set lock", "SET lock_configuration = false", "SET is not allowed"},
		{"reset", "RESET lock_configuration", "RESET is not allowed"},
		{"call", "CALL read_csv('" + in + "')", "CALL is not allowed"},
		{"create table", "CREATE TABLE x AS SELECT 1", "CREATE is not allowed"},
		{"create view over file", "CREATE VIEW v AS SELECT * FROM '" + in + "'", "CREATE is not allowed"},
		{"create macro", "CREATE MACRO m() AS TABLE SELECT 1", "CREATE is not allowed"},
		{"drop", "DROP TABLE by_channel", "DROP is not allowed"},
		{"alter", "ALTER TABLE by_channel RENAME TO x", "ALTER is not allowed"},
		{"insert", "INSERT INTO by_channel__rel_2 SELECT * FROM by_channel__rel_2", "INSERT is not allowed"},
		{"update", "UPDATE by_channel SET events = 0", "UPDATE is not allowed"},
		{"delete", "DELETE FROM by_channel", "DELETE is not allowed"},
		{"truncate", "TRUNCATE by_channel", "TRUNCATE is not allowed"},
		{"comment", "/* hi */ -- x\n  CREATE TABLE y (a INT)", "CREATE is not allowed"},
		{"two selects", "SELECT 1; SELECT 2", "2 statements"},
		{"select then copy", "SELECT 1; COPY by_channel TO '/tmp/x.csv'", "another kind of statement"},
		{"read_csv input", "SELECT * FROM read_csv('" + in + "')", "table function read_csv()"},
		{"read_csv_auto input", "SELECT * FROM read_csv_auto('" + in + "')", "table function read_csv_auto()"},
		{"read_parquet store", "SELECT * FROM read_parquet('" + store + "')", "table function read_parquet()"},
		{"parquet_metadata", "SELECT * FROM parquet_metadata('" + store + "')", "table function parquet_metadata()"},
		{"read_json", "SELECT * FROM read_json('" + in + "')", "table function read_json()"},
		{"read_json_auto", "SELECT * FROM read_json_auto('" + in + "')", "table function read_json_auto()"},
		{"read_text ledger", "SELECT * FROM read_text('" + led + "')", "table function read_text()"},
		{"read_blob ledger", "SELECT * FROM read_blob('" + led + "')", "table function read_blob()"},
		{"glob", "SELECT * FROM glob('" + f.dir + "/*')", "table function glob()"},
		{"sniff_csv", "SELECT * FROM sniff_csv('" + in + "')", "table function sniff_csv()"},
		{"secrets", "SELECT * FROM duckdb_secrets()", "table function duckdb_secrets()"},
		{"settings", "SELECT * FROM duckdb_settings()", "table function duckdb_settings()"},
		{"query function", "SELECT * FROM query('SELECT 1')", "table function query()"},
		{"table function in subquery", "SELECT (SELECT count(*) FROM read_text('" + in + "'))", "table function read_text()"},
		{"table function in CTE", "WITH x AS (SELECT * FROM read_csv('" + in + "')) SELECT * FROM x", "table function read_csv()"},
		{"table function in join", "SELECT * FROM by_channel JOIN read_csv('" + in + "') USING (campaign)", "table function read_csv()"},
		{"path in FROM input", "SELECT * FROM '" + in + "'", "is not a released table: files cannot be read"},
		{"path in FROM ledger", "SELECT * FROM '" + led + "'", "files cannot be read"},
		{"path in FROM store", "SELECT * FROM '" + store + "'", "files cannot be read"},
		{"path in FROM relative", "FROM 'events.csv'", "files cannot be read"},
		{"path in subquery", "SELECT * FROM by_channel WHERE campaign IN (SELECT campaign FROM '" + in + "')", "files cannot be read"},
		{"path out of CTE scope", "SELECT * FROM (WITH \"" + in + "\" AS (SELECT 1) SELECT 1), \"" + in + "\"", "files cannot be read"},
		{"catalog view out of CTE scope", "SELECT * FROM (WITH duckdb_tables AS (SELECT 1) SELECT 1), duckdb_tables", "duckdb_tables is not a released table"},
		{"settings view out of CTE scope", "SELECT * FROM by_channel WHERE campaign IN (WITH pg_settings AS (SELECT 'x') SELECT * FROM pg_settings) OR campaign IN (SELECT name FROM pg_settings)", "pg_settings is not a released table"},
		{"catalog view in a subquery beside a CTE", "WITH x AS (SELECT 1) SELECT * FROM (WITH duckdb_views AS (SELECT 1) SELECT * FROM duckdb_views) JOIN (SELECT * FROM duckdb_views) USING (x)", "duckdb_views is not a released table"},
		{"catalog view before its CTE", "WITH a AS (SELECT * FROM duckdb_tables), duckdb_tables AS (SELECT 1) SELECT * FROM a", "duckdb_tables is not a released table"},
		{"catalog view in its own CTE", "WITH duckdb_tables AS (SELECT * FROM duckdb_tables) SELECT * FROM duckdb_tables", "duckdb_tables is not a released table"},
		{"settings view in a recursive CTE's anchor", "WITH RECURSIVE pg_settings AS (SELECT name::VARCHAR n, setting::VARCHAR s FROM pg_settings UNION SELECT n, s FROM pg_settings WHERE false) SELECT * FROM pg_settings", "pg_settings is not a released table"},
		{"catalog view in a recursive CTE's anchor", "WITH RECURSIVE duckdb_tables AS (SELECT sql::VARCHAR t FROM duckdb_tables UNION ALL SELECT t FROM duckdb_tables WHERE false) SELECT * FROM duckdb_tables LIMIT 1", "duckdb_tables is not a released table"},
		{"catalog view in a recursive CTE's anchor subquery", "WITH RECURSIVE sqlite_master AS (SELECT * FROM (SELECT sql FROM sqlite_master) UNION ALL SELECT sql FROM sqlite_master WHERE false) SELECT * FROM sqlite_master", "sqlite_master is not a released table"},
		{"current_setting", "SELECT current_setting('temp_directory')", "current_setting() is not allowed"},
		{"current_setting in a CTE", "WITH s AS (SELECT CURRENT_SETTING('allowed_directories') d) SELECT * FROM s", "current_setting() is not allowed"},
		{"qualified system table", "SELECT * FROM information_schema.tables", "qualified with a schema"},
		{"qualified temp", "SELECT * FROM temp.main.by_channel", "qualified with a schema"},
		{"system view", "SELECT * FROM duckdb_tables", "duckdb_tables is not a released table"},
		{"unknown table", "SELECT * FROM events", "events is not a released table"},
		{"show databases", "SHOW DATABASES", "SHOW of the database's catalog"},
		{"show tables", "SHOW TABLES", "SHOW of the database's catalog"},
		{"describe file", "DESCRIBE '" + in + "'", "files cannot be read"},
		{"summarize function", "SUMMARIZE SELECT * FROM read_csv('" + in + "')", "table function read_csv()"},
		{"empty", "  ", "empty"},
		{"only comment", "-- nothing", "empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := db.Query(context.Background(), tc.sql)
			if rr != nil {
				rr.Release()
			}
			var qe *QueryError
			if !errors.As(err, &qe) || !qe.Refused {
				t.Fatalf("Query(%q) = %v, want a refusal", tc.sql, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Query(%q) = %q, want it to say %q", tc.sql, err, tc.want)
			}
			if strings.Contains(tc.name, "input") || strings.Contains(tc.name, "ledger") {
				for _, secret := range []string{"alice@example.com", "u1"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error quotes input value %q", secret)
					}
				}
			}
		})
	}
}

// TestQueryAllowed checks the read-only forms analysts use pass Check.
func TestQueryAllowed(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	db := openDB(t, f)
	for _, sql := range []string{
		"SELECT * FROM by_channel",
		"from by_channel select campaign, sum(events) group by campaign",
		"TABLE by_campaign",
		"VALUES (1, 'a'), (2, NULL)",
		"WITH c AS (SELECT * FROM by_channel__rel_1) SELECT count(*) FROM c",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
		"WITH RECURSIVE r AS (SELECT campaign FROM by_channel UNION SELECT r.campaign FROM r JOIN by_channel USING (campaign)) SELECT * FROM r",
		"WITH a AS (SELECT * FROM by_channel), b AS (SELECT * FROM a) SELECT * FROM b",
		"WITH c AS (SELECT campaign FROM by_channel) SELECT * FROM by_channel WHERE campaign IN (SELECT campaign FROM c)",
		"WITH c AS (SELECT campaign FROM by_channel) SELECT * FROM (WITH d AS (SELECT * FROM c) SELECT * FROM d)",
		"WITH duckdb_tables AS (SELECT campaign FROM by_channel) SELECT * FROM duckdb_tables",
		"DESCRIBE by_channel",
		"SUMMARIZE by_channel__rel_2",
		"SHOW by_campaign",
		"SELECT * FROM BY_CHANNEL__REL_1",
		"SELECT campaign, events FROM by_channel__rel_1 UNION ALL SELECT campaign, events FROM \"by_channel__rel_2\"",
		"SELECT * FROM by_channel WHERE events > (SELECT avg(events) FROM by_channel__rel_3)",
		"SELECT 1;",
	} {
		t.Run(sql, func(t *testing.T) {
			rr, err := db.Query(context.Background(), sql)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			defer rr.Release()
			for rr.Next() {
			}
			if err := rr.Err(); err != nil {
				t.Fatalf("read: %v", err)
			}
		})
	}
}

func TestQueryInvalidSQL(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	db := openDB(t, f)
	for _, sql := range []string{"SELEC 1", "SELECT nope FROM by_channel", "SELECT 'x'::INTEGER"} {
		t.Run(sql, func(t *testing.T) {
			rr, err := db.Query(context.Background(), sql)
			if err == nil {
				err = WriteResult(context.Background(), discard{}, rr, FormatCSV)
				rr.Release()
			}
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Refused {
				t.Fatalf("Query(%q) = %v, want an invalid-SQL QueryError", sql, err)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestLockdown bypasses Check and runs escapes on the engine directly: the
// engine itself must refuse to reach files or unlock its settings.
func TestLockdown(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	db := openDB(t, f)
	ctx := context.Background()
	for _, sql := range []string{
		fmt.Sprintf("SELECT * FROM read_csv('%s')", f.input),
		fmt.Sprintf("SELECT * FROM '%s'", f.input),
		fmt.Sprintf("SELECT * FROM read_blob('%s')", f.ledger),
		fmt.Sprintf("ATTACH '%s' AS l (READ_ONLY)", f.ledger),
		fmt.Sprintf("COPY by_channel TO '%s/leak.csv'", f.dir),
		"SET enable_external_access = true",
		"SET lock_configuration = false",
		"RESET enable_external_access",
		"INSTALL httpfs",
		"LOAD httpfs",
		fmt.Sprintf("SELECT * FROM glob('%s/*')", f.dir),
	} {
		t.Run(sql, func(t *testing.T) {
			if _, err := db.eng.QueryRows(ctx, sql); err == nil {
				t.Errorf("engine ran %q after lockdown", sql)
			}
		})
	}
	if got, err := db.eng.QueryRows(ctx, "SELECT current_setting('enable_external_access')"); err != nil || got[0][0] != false {
		t.Errorf("enable_external_access = %v (%v) after the escapes, want false", got, err)
	}
}

func TestFirstWord(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"  select 1":             "select",
		"-- c\n/* d */ COPY x":   "COPY",
		"(SELECT 1)":             "(",
		";;PRAGMA x":             "PRAGMA",
		"/* unterminated":        "",
		"-- only":                "",
		"\tcreate_or_replace(x)": "create_or_replace",
	} {
		if got := firstWord(in); got != want {
			t.Errorf("firstWord(%q) = %q, want %q", in, got, want)
		}
	}
}
