package catalog

import (
	"github.com/privagg/privagg/internal/sqlq"

	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	duckdb "github.com/privagg/privagg/engine/duckdb"
)

var update = flag.Bool("update", false, "rewrite golden files")

// roundTripSQL has every kind of value the writers must keep apart: NULL
// and ” strings, NULL numbers, floats needing all 17 digits, commas,
// quotes, newlines and leading spaces.
const roundTripSQL = `SELECT * FROM (VALUES
	('cmp_a', 'email', 42::BIGINT, 0.1 + 0.2, 'plain'),
	('cmp,b', 'say "hi"', NULL, -1234567.891, ''),
	(' lead', NULL, -7::BIGINT, 1e-300, 'two
lines'),
	('', 'x', 0::BIGINT, NULL, NULL)
) AS t(campaign, channel, events, revenue, note)`

func TestFormatsRoundTrip(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	db := openDB(t, f)
	ctx := context.Background()
	reader, err := duckdb.OpenDB(ctx, duckdb.DBOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	types := "{'campaign': 'VARCHAR', 'channel': 'VARCHAR', 'events': 'BIGINT', 'revenue': 'DOUBLE', 'note': 'VARCHAR'}"
	for _, tc := range []struct {
		name, sql string
		format    Format
		read      string // %s is the file
	}{
		{"csv values", roundTripSQL, FormatCSV, "read_csv(%s, header = true, allow_quoted_nulls = false, columns = " + types + ")"},
		{"json values", roundTripSQL, FormatJSON, "read_json(%s, format = 'array', columns = " + types + ")"},
		{"parquet values", roundTripSQL, FormatParquet, "read_parquet(%s)"},
		{"csv release", "SELECT * FROM by_channel__rel_1", FormatCSV, "read_csv(%s, header = true, allow_quoted_nulls = false, columns = {" +
			"'campaign': 'VARCHAR', 'channel': 'VARCHAR', 'events': 'BIGINT', 'events_ci95': 'DOUBLE', 'people': 'BIGINT', 'people_ci95': 'DOUBLE', " +
			"'revenue': 'DOUBLE', 'revenue_ci95': 'DOUBLE', 'avg_revenue': 'DOUBLE', 'avg_revenue_ci95': 'DOUBLE'})"},
		{"json release", "SELECT * FROM by_channel__rel_2", FormatJSON, "read_json(%s, format = 'array', columns = {" +
			"'campaign': 'VARCHAR', 'channel': 'VARCHAR', 'events': 'BIGINT', 'events_ci95': 'DOUBLE', 'people': 'BIGINT', 'people_ci95': 'DOUBLE', " +
			"'revenue': 'DOUBLE', 'revenue_ci95': 'DOUBLE', 'avg_revenue': 'DOUBLE', 'avg_revenue_ci95': 'DOUBLE'})"},
		{"parquet join", `SELECT a.campaign, a.channel, a.events AS e1, b.events AS e2, sum(a.revenue) OVER () AS total
			FROM by_channel__rel_1 a JOIN by_channel__rel_3 b USING (campaign, channel)`, FormatParquet, "read_parquet(%s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := rows(t, db, tc.sql+" ORDER BY ALL")
			rr, err := db.Query(ctx, tc.sql+" ORDER BY ALL")
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			path := filepath.Join(t.TempDir(), "result."+string(tc.format))
			if err := WriteResultFile(ctx, path, rr, tc.format); err != nil {
				t.Fatalf("WriteResultFile: %v", err)
			}
			got, err := reader.QueryRows(ctx, "SELECT * FROM "+sprintf(tc.read, sqlq.String(path)))
			if err != nil {
				data, _ := os.ReadFile(path)
				t.Fatalf("read back: %v\n%s", err, data)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read back differs:\n got %#v\nwant %#v", got, want)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("folder holds %d files, want only the result (no temporary file)", len(entries))
			}
		})
	}
}

func TestWriteTableGolden(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	db := openDB(t, f)
	ctx := context.Background()
	for _, tc := range []struct{ name, sql string }{
		{"values", roundTripSQL + " ORDER BY ALL"},
		{"floats", `SELECT * FROM (VALUES (1234567.891::DOUBLE, 12.3456789::DOUBLE, 0.000123456::DOUBLE, 1e20::DOUBLE, -0.5::DOUBLE),
			(0, 100, 1e-7, 'nan'::DOUBLE, 'inf'::DOUBLE)) AS t(big, mid, small, huge, half)`},
		{"hugeint and decimal", "SELECT sum(x) AS total, 1.25::DECIMAL(10,2) AS d FROM (VALUES (1::BIGINT), (2::BIGINT)) AS t(x)"},
		// A value and its _ci95 show the digits the interval supports
		// (privacy.RoundToInterval) in a table; JSON keeps every digit.
		{"intervals", `SELECT * FROM (VALUES (2389.627271793317::DOUBLE, 654.4472470898941::DOUBLE, 4371::BIGINT, 140.2::DOUBLE, 25.83442101090003::DOUBLE),
			(NULL, 1.5, 12, NULL, NULL)) AS t(revenue, revenue_ci95, people, people_ci95, mean)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, format := range []Format{FormatTable, FormatJSON} {
				rr, err := db.Query(ctx, tc.sql)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				err = WriteResult(ctx, &buf, rr, format)
				rr.Release()
				if err != nil {
					t.Fatal(err)
				}
				golden(t, buf.Bytes(), filepath.Join("testdata", sanitize(tc.name)+"."+string(format)+".golden"))
			}
		})
	}
}

func golden(t *testing.T, got []byte, path string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestWriteResultFileFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	db := openDB(t, f)
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rr, err := db.Query(context.Background(), "SELECT * FROM by_channel")
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteResultFile(ctx, path, rr, FormatCSV); err == nil {
		t.Fatal("WriteResultFile of a failing query succeeded")
	}
	data, _ := os.ReadFile(path)
	entries, _ := os.ReadDir(dir)
	if string(data) != "old\n" || len(entries) != 1 {
		t.Errorf("after a failed write: %q and %d files, want the old file alone", data, len(entries))
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"table", "csv", "json", "parquet"} {
		if f, err := ParseFormat(s); err != nil || string(f) != s {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, err)
		}
	}
	if _, err := ParseFormat("xlsx"); err == nil {
		t.Error("ParseFormat(xlsx) succeeded")
	}
}
