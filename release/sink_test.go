package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/privagg/privagg/internal/sqlq"
	"github.com/privagg/privagg/internal/version"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")

var testMeta = privacy.Metadata{
	ID:      "rel-0001",
	Job:     "campaign_weekly",
	Dataset: "web_events",
	Purpose: "marketing",
	Epsilon: 1,
	Delta:   1e-6,
	K:       10,
	Noise:   privacy.Laplace,
	Created: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
}

// column values for testRecord: nil means NULL.
type (
	strs []*string
	i64s []*int64
	f64s []*float64
)

func sp(s string) *string   { return &s }
func ip(v int64) *int64     { return &v }
func fp(v float64) *float64 { return &v }

// testRecord builds a record from named columns of strs, i64s or f64s.
func testRecord(t testing.TB, mem memory.Allocator, names []string, cols ...any) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	n := -1
	for i, c := range cols {
		var b array.Builder
		switch c := c.(type) {
		case strs:
			sb := array.NewStringBuilder(mem)
			for _, v := range c {
				if v == nil {
					sb.AppendNull()
				} else {
					sb.Append(*v)
				}
			}
			b, n = sb, len(c)
		case i64s:
			ib := array.NewInt64Builder(mem)
			for _, v := range c {
				if v == nil {
					ib.AppendNull()
				} else {
					ib.Append(*v)
				}
			}
			b, n = ib, len(c)
		case f64s:
			fb := array.NewFloat64Builder(mem)
			for _, v := range c {
				if v == nil {
					fb.AppendNull()
				} else {
					fb.Append(*v)
				}
			}
			b, n = fb, len(c)
		case arrow.Array:
			c.Retain()
			arrs[i] = c
			fields[i] = arrow.Field{Name: names[i], Type: c.DataType(), Nullable: true}
			n = c.Len()
			continue
		default:
			t.Fatalf("testRecord: unsupported column %T", c)
		}
		arrs[i] = b.NewArray()
		b.Release()
		fields[i] = arrow.Field{Name: names[i], Type: arrs[i].DataType(), Nullable: true}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// testTables is a hand-made release of two outputs. Keys are sorted (byte
// order) and include values that need CSV quoting; some metric values are
// NULL. Callers release the records with freeTables.
func testTables(t testing.TB, mem memory.Allocator) []outTable {
	t.Helper()
	weekly := testRecord(t, mem,
		[]string{"campaign", "week", "events", "events_ci95", "revenue_q_p50", "revenue_q_p50_ci95", "revenue_q_p90", "revenue_q_p90_ci95"},
		strs{sp(""), sp("cmp,000"), sp("cmp_000"), sp("cmp_001"), sp(`say "hi"`)},
		strs{sp("2025-01-06"), sp("2025-01-06"), sp("2025-01-13"), sp("2025-01-06"), sp(" line\nbreak")},
		i64s{ip(12), ip(0), ip(-3), ip(1 << 40), ip(7)},
		f64s{fp(5.991464547107982), fp(5.991464547107982), fp(5.991464547107982), fp(5.991464547107982), fp(5.991464547107982)},
		f64s{fp(12.5), nil, fp(-0.1), fp(1e-7), fp(123456789.25)},
		f64s{fp(3), nil, fp(3), fp(3), fp(1e21)},
		f64s{fp(480), nil, fp(0.30000000000000004), fp(2.5e-300), fp(-1.5)},
		f64s{fp(6), nil, fp(6), fp(6), fp(6)},
	)
	channels := testRecord(t, mem,
		[]string{"channel", "people", "people_ci95"},
		strs{sp("email"), sp("search"), sp("social")},
		i64s{ip(101), ip(250), nil},
		f64s{fp(2.99573227355399), fp(2.99573227355399), fp(2.99573227355399)},
	)
	return []outTable{
		{
			name: "campaign_weekly", record: weekly, groupBy: []string{"campaign", "week"}, k: 10,
			metrics: []privacy.MetricInfo{
				{Name: "events", Kind: privacy.Count, Columns: []string{"events", "events_ci95"}, Epsilon: 0.25, Mechanism: "laplace", L0: 5, LInf: 3, StdDev: 84.8528137423857},
				{Name: "revenue_q", Kind: privacy.Quantiles, Columns: []string{"revenue_q_p50", "revenue_q_p50_ci95", "revenue_q_p90", "revenue_q_p90_ci95"}, Epsilon: 0.25, Mechanism: "laplace", L0: 5, LInf: 1},
			},
		},
		{
			name: "by_channel", record: channels, groupBy: []string{"channel"},
			metrics: []privacy.MetricInfo{
				{Name: "people", Kind: privacy.CountUnits, Columns: []string{"people", "people_ci95"}, Epsilon: 0.25, Delta: 5e-7, Mechanism: "gaussian", L0: 1, LInf: 1, StdDev: 1.5},
			},
		},
	}
}

func freeTables(ts []outTable) {
	for _, t := range ts {
		t.record.Release()
	}
}

// testSink returns the formatWriter of format with ops and allocator mem.
func testSink(t testing.TB, format string, mem memory.Allocator) formatWriter {
	t.Helper()
	switch format {
	case FormatParquet:
		return &parquetSink{mem: mem, codec: compress.Codecs.Zstd}
	case FormatCSV:
		return &csvSink{}
	case FormatDuckDB:
		return &duckdbSink{}
	}
	t.Fatalf("unknown format %q", format)
	return nil
}

var formats = []string{FormatParquet, FormatCSV, FormatDuckDB}

// listDir returns the names in dir with their contents' sha256.
func listDir(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue // a published folder's history (history_test.go)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256Hex(b)
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func withVersion(t testing.TB, v string) {
	old := version.Version
	version.Version = v
	t.Cleanup(func() { version.Version = old })
}

func TestNewSink(t *testing.T) {
	for _, f := range job.OutputFormats {
		t.Run(string(f), func(t *testing.T) {
			s, err := NewSink(f)
			if err != nil || s == nil {
				t.Fatalf("NewSink(%q) = %v, %v; want a sink", f, s, err)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		_, err := NewSink("xlsx")
		if err == nil || !strings.Contains(err.Error(), `output.format: "xlsx" must be one of parquet, csv, duckdb`) {
			t.Fatalf("NewSink(xlsx) error = %v", err)
		}
	})
	t.Run("nil release", func(t *testing.T) {
		s, _ := NewSink(job.OutputCSV)
		if _, err := s.Write(context.Background(), nil, t.TempDir()); err == nil {
			t.Fatal("Write(nil) succeeded")
		}
	})
}

// TestSinkGolden writes the hand-made release in every format and compares a
// dump of each file with testdata/sinks/<format>/. CSV files and manifests of
// CSV are compared byte for byte; Parquet and DuckDB files are compared as
// read back by DuckDB (their bytes depend on library versions), and their
// manifests with sha256 and size masked.
func TestSinkGolden(t *testing.T) {
	withVersion(t, "test")
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			tables := testTables(t, mem)
			defer freeTables(tables)
			dir := t.TempDir()
			files, err := writeRelease(context.Background(), testSink(t, format, mem), tables, testMeta, dir, defaultFSOps)
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			checkWritten(t, dir, files, tables)
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(dir, f.Name))
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "sinks", format, f.Name)
				switch {
				case format == FormatCSV:
				case f.Kind == ManifestFile:
					b = maskManifest(t, b)
				default:
					golden += ".dump"
					b = []byte(dumpWithDuckDB(t, filepath.Join(dir, f.Name), format))
				}
				compareGolden(t, golden, b)
			}
		})
	}
}

// checkWritten asserts what every successful write must satisfy: the files
// listed exist and nothing else (no temporary files), data before manifests,
// and every manifest's sha256, size and row count match.
func checkWritten(t *testing.T, dir string, files []WrittenFile, tables []outTable) {
	t.Helper()
	var listed []string
	sawManifest := false
	for _, f := range files {
		listed = append(listed, f.Name)
		if f.Kind == ManifestFile {
			sawManifest = true
		} else if sawManifest {
			t.Errorf("data file %s listed after a manifest", f.Name)
		}
	}
	var got []string
	for name := range listDir(t, dir) {
		got = append(got, name)
	}
	slices.Sort(got)
	slices.Sort(listed)
	if !slices.Equal(got, listed) {
		t.Errorf("folder holds %v, Write reported %v", got, listed)
	}
	for i, tb := range tables {
		mf, err := os.Open(filepath.Join(dir, tb.name+ManifestSuffix))
		if err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(mf)
		mf.Close()
		if err != nil {
			t.Fatalf("table %d: %v", i, err)
		}
		data, err := os.ReadFile(filepath.Join(dir, m.File))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256Hex(data); got != m.SHA256 {
			t.Errorf("%s: manifest sha256 %s, file has %s", tb.name, m.SHA256, got)
		}
		if int64(len(data)) != m.Bytes {
			t.Errorf("%s: manifest bytes %d, file has %d", tb.name, m.Bytes, len(data))
		}
		if m.Rows != tb.record.NumRows() {
			t.Errorf("%s: manifest rows %d, want %d", tb.name, m.Rows, tb.record.NumRows())
		}
	}
}

func maskManifest(t *testing.T, b []byte) []byte {
	t.Helper()
	m, err := ReadManifest(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	m.SHA256, m.Bytes = "<masked>", 0
	var buf bytes.Buffer
	if err := m.encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// dumpWithDuckDB reads a Parquet file or every table of a DuckDB database
// with DuckDB and prints types, rows, and metadata (Parquet key-value
// metadata, DuckDB comments) as text.
func dumpWithDuckDB(t *testing.T, path, format string) string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	var tables []string
	switch format {
	case FormatParquet:
		tables = []string{fmt.Sprintf("read_parquet(%s)", sqlq.String(path))}
		fmt.Fprintf(&b, "-- key-value metadata\n")
		dumpQuery(t, db, &b, fmt.Sprintf(
			"SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(%s) WHERE decode(key) LIKE 'privagg.%%' ORDER BY key", sqlq.String(path)))
		fmt.Fprintf(&b, "-- compression\n")
		dumpQuery(t, db, &b, fmt.Sprintf("SELECT DISTINCT compression FROM parquet_metadata(%s)", sqlq.String(path)))
	case FormatDuckDB:
		if _, err := db.Exec(fmt.Sprintf("ATTACH %s AS rel (READ_ONLY)", sqlq.String(path))); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "-- tables\n")
		dumpQuery(t, db, &b, "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = 'rel' ORDER BY table_name")
		fmt.Fprintf(&b, "-- column comments\n")
		dumpQuery(t, db, &b, "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = 'rel' ORDER BY table_name, column_index")
		rows, err := db.Query("SELECT table_name FROM duckdb_tables() WHERE database_name = 'rel' ORDER BY table_name")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, "rel."+sqlq.Ident(n))
		}
		rows.Close()
	}
	for _, tb := range tables {
		fmt.Fprintf(&b, "-- %s\n", strings.TrimPrefix(tb, filepath.Dir(path)))
		dumpQuery(t, db, &b, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "+tb+")")
		dumpQuery(t, db, &b, "SELECT * FROM "+tb)
	}
	return strings.ReplaceAll(b.String(), filepath.Dir(path)+string(filepath.Separator), "")
}

func dumpQuery(t *testing.T, db *sql.DB, b *strings.Builder, q string) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	b.WriteString(strings.Join(cols, " | ") + "\n")
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				parts[i] = "NULL"
			case string:
				parts[i] = strconv.Quote(v)
			case []byte:
				parts[i] = strconv.Quote(string(v))
			case float64:
				parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
			default:
				parts[i] = fmt.Sprint(v)
			}
		}
		b.WriteString(strings.Join(parts, " | ") + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestSinkRoundTrip reads every format back with DuckDB and checks that rows
// keep the release's order and values, NULL stays NULL and "" stays "".
func TestSinkRoundTrip(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			tables := testTables(t, mem)
			defer freeTables(tables)
			dir := t.TempDir()
			if _, err := writeRelease(context.Background(), testSink(t, format, mem), tables, testMeta, dir, defaultFSOps); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("duckdb", "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			src := map[string]string{
				FormatParquet: "read_parquet(%s)",
				FormatCSV:     "read_csv(%s, header = true, allow_quoted_nulls = false, columns = {'campaign': 'VARCHAR', 'week': 'VARCHAR', 'events': 'BIGINT', 'events_ci95': 'DOUBLE', 'revenue_q_p50': 'DOUBLE', 'revenue_q_p50_ci95': 'DOUBLE', 'revenue_q_p90': 'DOUBLE', 'revenue_q_p90_ci95': 'DOUBLE'})",
			}[format]
			from := "rel.campaign_weekly"
			if format == FormatDuckDB {
				if _, err := db.Exec(fmt.Sprintf("ATTACH %s AS rel (READ_ONLY)", sqlq.String(filepath.Join(dir, DuckDBFileName)))); err != nil {
					t.Fatal(err)
				}
			} else {
				from = fmt.Sprintf(src, sqlq.String(filepath.Join(dir, "campaign_weekly."+format)))
			}
			rows, err := db.Query("SELECT campaign, week, events, revenue_q_p50, revenue_q_p90 FROM " + from)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			rec := tables[0].record
			campaign := rec.Column(0).(*array.String)
			week := rec.Column(1).(*array.String)
			events := rec.Column(2).(*array.Int64)
			p50 := rec.Column(4).(*array.Float64)
			p90 := rec.Column(6).(*array.Float64)
			i := 0
			for ; rows.Next(); i++ {
				var c, w string
				var e sql.NullInt64
				var a, b sql.NullFloat64
				if err := rows.Scan(&c, &w, &e, &a, &b); err != nil {
					t.Fatal(err)
				}
				if c != campaign.Value(i) || w != week.Value(i) {
					t.Errorf("row %d: key (%q, %q), want (%q, %q)", i, c, w, campaign.Value(i), week.Value(i))
				}
				if !e.Valid || e.Int64 != events.Value(i) {
					t.Errorf("row %d: events %v, want %d", i, e, events.Value(i))
				}
				for _, x := range []struct {
					got  sql.NullFloat64
					want *array.Float64
				}{{a, p50}, {b, p90}} {
					if x.got.Valid != x.want.IsValid(i) || (x.got.Valid && x.got.Float64 != x.want.Value(i)) {
						t.Errorf("row %d: got %v, want valid=%v %v", i, x.got, x.want.IsValid(i), x.want.Value(i))
					}
				}
			}
			if i != int(rec.NumRows()) {
				t.Errorf("read %d rows, want %d", i, rec.NumRows())
			}
		})
	}
}

// TestSinkEmptyTable writes an output with no released rows: the file holds
// the header or schema and the manifest says 0 rows.
func TestSinkEmptyTable(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rec := testRecord(t, mem, []string{"channel", "people", "people_ci95"}, strs{}, i64s{}, f64s{})
			defer rec.Release()
			tables := []outTable{{name: "empty", record: rec, groupBy: []string{"channel"},
				metrics: []privacy.MetricInfo{{Name: "people", Kind: privacy.CountUnits, Columns: []string{"people", "people_ci95"}}}}}
			dir := t.TempDir()
			files, err := writeRelease(context.Background(), testSink(t, format, mem), tables, testMeta, dir, defaultFSOps)
			if err != nil {
				t.Fatal(err)
			}
			checkWritten(t, dir, files, tables)
			if format == FormatCSV {
				b, _ := os.ReadFile(filepath.Join(dir, "empty.csv"))
				if string(b) != "channel,people,people_ci95\n" {
					t.Errorf("empty csv = %q", b)
				}
			}
		})
	}
}

func TestSinkRejectsBadTables(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	good := testRecord(t, mem, []string{"channel", "people", "people_ci95"}, strs{sp("a")}, i64s{ip(1)}, f64s{fp(1)})
	defer good.Release()
	extra := testRecord(t, mem, []string{"channel", "__units", "people", "people_ci95"}, strs{sp("a")}, i64s{ip(1)}, i64s{ip(1)}, f64s{fp(1)})
	defer extra.Release()
	boolArr := func() arrow.Array {
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.Append(true)
		return b.NewArray()
	}()
	defer boolArr.Release()
	badType := testRecord(t, mem, []string{"channel", "people", "people_ci95"}, strs{sp("a")}, boolArr, f64s{fp(1)})
	defer badType.Release()
	metrics := []privacy.MetricInfo{{Name: "people", Kind: privacy.CountUnits, Columns: []string{"people", "people_ci95"}}}
	tests := []struct {
		name   string
		tables []outTable
		want   string
	}{
		{"no tables", nil, "release: has no tables"},
		{"path in name", []outTable{{name: "../x", record: good, groupBy: []string{"channel"}, metrics: metrics}}, `name "../x" must match`},
		{"hidden name", []outTable{{name: ".x", record: good, groupBy: []string{"channel"}, metrics: metrics}}, `name ".x" must match`},
		{"duplicate", []outTable{{name: "a", record: good, groupBy: []string{"channel"}, metrics: metrics}, {name: "A", record: good, groupBy: []string{"channel"}, metrics: metrics}}, "appears twice"},
		{"no record", []outTable{{name: "a", groupBy: []string{"channel"}, metrics: metrics}}, "has no record"},
		{"undescribed column", []outTable{{name: "a", record: extra, groupBy: []string{"channel"}, metrics: metrics}}, "has 4 columns, the release describes 3"},
		{"wrong key order", []outTable{{name: "a", record: good, groupBy: []string{"region"}, metrics: metrics}}, `want group-by column "region"`},
		{"unsupported type", []outTable{{name: "a", record: badType, groupBy: []string{"channel"}, metrics: metrics}}, `column "people": type bool is not one of`},
	}
	t.Run("no release id", func(t *testing.T) {
		meta := testMeta
		meta.ID = ""
		tables := []outTable{{name: "a", record: good, groupBy: []string{"channel"}, metrics: metrics}}
		if _, err := writeRelease(context.Background(), &csvSink{}, tables, meta, t.TempDir(), defaultFSOps); err == nil || !strings.Contains(err.Error(), "id must not be empty") {
			t.Fatalf("error = %v", err)
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			_, err := writeRelease(context.Background(), &csvSink{}, tc.tables, testMeta, dir, defaultFSOps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output folder was created: %v", err)
			}
		})
	}
}

// failAfter is a writer that fails once more than n bytes went through it.
type failAfter struct {
	w io.Writer
	n int
}

var errInjected = errors.New("injected failure")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n, _ := f.w.Write(p[:f.n])
		f.n = 0
		return n, errInjected
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// TestSinkFailureLeavesNothing injects failures at every stage of a write into
// a folder holding an older release and checks that the folder is left exactly
// as it was: no new file, no temporary file, replaced files restored.
func TestSinkFailureLeavesNothing(t *testing.T) {
	failWrite := func(target string) fsOps {
		return fsOps{rename: os.Rename, wrap: func(name string, w io.Writer) io.Writer {
			if name == target {
				return &failAfter{w: w, n: 10}
			}
			return w
		}}
	}
	failRename := func(target string) fsOps {
		return fsOps{rename: func(oldpath, newpath string) error {
			if filepath.Base(newpath) == target {
				return errInjected
			}
			return os.Rename(oldpath, newpath)
		}}
	}
	// target names the file to fail; %s stands for the format's extension.
	cases := []struct {
		name    string
		formats []string
		ops     func(target string) fsOps
		target  string
	}{
		{"mid-way through second data file", []string{FormatParquet, FormatCSV}, failWrite, "by_channel.%s"},
		{"second manifest", formats, failWrite, "by_channel.manifest.json"},
		{"rename of first manifest", formats, failRename, "campaign_weekly.manifest.json"},
		{"rename of last manifest", formats, failRename, "by_channel.manifest.json"},
		{"rename of second data file", []string{FormatParquet, FormatCSV}, failRename, "by_channel.%s"},
	}
	for _, tc := range cases {
		for _, format := range tc.formats {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				tables := testTables(t, mem)
				defer freeTables(tables)
				ops := tc.ops(strings.ReplaceAll(tc.target, "%s", format))
				for _, fresh := range []bool{true, false} {
					dir := filepath.Join(t.TempDir(), "out")
					if !fresh {
						// An older release already in place must survive intact.
						if err := os.MkdirAll(dir, 0o755); err != nil {
							t.Fatal(err)
						}
						for _, n := range []string{"campaign_weekly." + format, "campaign_weekly.manifest.json", DuckDBFileName, "other.csv"} {
							if err := os.WriteFile(filepath.Join(dir, n), []byte("old "+n), 0o644); err != nil {
								t.Fatal(err)
							}
						}
					}
					before := listDir(t, dir)
					_, err := writeRelease(context.Background(), testSink(t, format, mem), tables, testMeta, dir, ops)
					if !errors.Is(err, errInjected) {
						t.Fatalf("fresh=%v: error = %v, want the injected failure", fresh, err)
					}
					after := listDir(t, dir)
					if fmt.Sprint(after) != fmt.Sprint(before) {
						t.Errorf("fresh=%v: folder changed:\nbefore %v\nafter  %v", fresh, before, after)
					}
					if _, err := os.Stat(dir); fresh && !errors.Is(err, os.ErrNotExist) {
						t.Errorf("fresh=%v: created folder left behind", fresh)
					}
				}
			})
		}
	}
}

func TestSinkUnwritableDir(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			tables := testTables(t, mem)
			defer freeTables(tables)
			parent := t.TempDir()
			file := filepath.Join(parent, "not-a-folder")
			if err := os.WriteFile(file, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := writeRelease(context.Background(), testSink(t, format, mem), tables, testMeta, filepath.Join(file, "out"), defaultFSOps)
			if err == nil || !strings.Contains(err.Error(), "output folder") {
				t.Fatalf("error = %v, want an output folder error", err)
			}
			if got := listDir(t, parent); len(got) != 1 {
				t.Errorf("parent holds %v, want only the file", got)
			}
		})
	}
}

func TestSinkCanceled(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			tables := testTables(t, mem)
			defer freeTables(tables)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			dir := filepath.Join(t.TempDir(), "out")
			if _, err := writeRelease(ctx, testSink(t, format, mem), tables, testMeta, dir, defaultFSOps); !errors.Is(err, context.Canceled) {
				t.Fatalf("error = %v, want context.Canceled", err)
			}
			if got := listDir(t, dir); len(got) != 0 {
				t.Errorf("folder holds %v", got)
			}
		})
	}
}

// TestSinkOverwrite writes the same release twice into one folder: the second
// write replaces the files and leaves no backup or temporary file.
func TestSinkOverwrite(t *testing.T) {
	for _, format := range []string{FormatCSV, FormatParquet} {
		t.Run(format, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			tables := testTables(t, mem)
			defer freeTables(tables)
			dir := t.TempDir()
			if _, err := writeRelease(context.Background(), testSink(t, format, mem), tables, testMeta, dir, defaultFSOps); err != nil {
				t.Fatal(err)
			}
			first := listDir(t, dir)
			files, err := writeRelease(context.Background(), testSink(t, format, mem), tables, testMeta, dir, defaultFSOps)
			if err != nil {
				t.Fatal(err)
			}
			checkWritten(t, dir, files, tables)
			if second := listDir(t, dir); fmt.Sprint(first) != fmt.Sprint(second) {
				t.Errorf("second write differs:\n%v\n%v", first, second)
			}
		})
	}
}

// benchTable is a 10k-row output with two keys and three metric columns.
func benchTable(b *testing.B) []outTable {
	const n = 10_000
	mem := memory.DefaultAllocator
	kb1, kb2 := array.NewStringBuilder(mem), array.NewStringBuilder(mem)
	vb, cb, mb := array.NewInt64Builder(mem), array.NewFloat64Builder(mem), array.NewFloat64Builder(mem)
	for i := range n {
		kb1.Append(fmt.Sprintf("cmp_%03d", i/100))
		kb2.Append(fmt.Sprintf("2025-%02d-%02d", 1+i%100/28, 1+i%28))
		vb.Append(int64(i * 7 % 1000))
		cb.Append(5.991464547107982)
		mb.Append(float64(i) * 1.37)
	}
	arrs := []any{kb1.NewArray(), kb2.NewArray(), vb.NewArray(), cb.NewArray(), mb.NewArray()}
	rec := testRecord(b, mem, []string{"campaign", "day", "events", "events_ci95", "revenue"}, arrs...)
	for _, a := range arrs {
		a.(arrow.Array).Release()
	}
	for _, bl := range []array.Builder{kb1, kb2, vb, cb, mb} {
		bl.Release()
	}
	return []outTable{{name: "bench", record: rec, groupBy: []string{"campaign", "day"}, metrics: []privacy.MetricInfo{
		{Name: "events", Kind: privacy.Count, Columns: []string{"events", "events_ci95"}},
		{Name: "revenue", Kind: privacy.Sum, Columns: []string{"revenue"}},
	}}}
}

func BenchmarkSink10kRows(b *testing.B) {
	for _, format := range formats {
		b.Run(format, func(b *testing.B) {
			tables := benchTable(b)
			defer freeTables(tables)
			fw := testSink(b, format, memory.DefaultAllocator)
			dir := b.TempDir()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := writeRelease(context.Background(), fw, tables, testMeta, dir, defaultFSOps); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSinkEndToEnd runs the release protocol's write half through the real
// privacy layer: ledger reservation, Releaser with library noise over a
// hand-made aggregate batch with public partitions, each Sink into the
// release store, then Publish into an output folder.
func TestSinkEndToEnd(t *testing.T) {
	ctx := context.Background()
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			root := t.TempDir()
			ledger, err := privacy.OpenLedger(filepath.Join(root, "ledger.duckdb"))
			if err != nil {
				t.Fatal(err)
			}
			if err := ledger.SetBudget(ctx, "web_events", 10, 1e-5, "none"); err != nil {
				t.Fatal(err)
			}
			plan, err := privacy.NewPlan(privacy.JobSpec{
				Epsilon: 1, Delta: 1e-6, Noise: privacy.Laplace, K: 10,
				Outputs: []privacy.OutputSpec{{
					Name: "by_channel", GroupBy: []string{"channel"}, MaxPartitionsPerUnit: 1, PublicPartitions: true, Weight: 1,
					Metrics: []privacy.MetricSpec{
						{Name: "events", Kind: privacy.Count, MaxPerUnit: 3, Weight: 1},
						{Name: "people", Kind: privacy.CountUnits, Weight: 1},
						{Name: "revenue", Kind: privacy.Sum, Min: 0, Max: 500, Weight: 1},
					},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := ledger.Reserve(ctx, privacy.ReserveRequest{
				ReleaseID: "e2e-" + format, Dataset: "web_events", Job: "campaign_weekly", Purpose: "marketing",
				Epsilon: plan.Total.Epsilon, Delta: plan.Total.Delta, Outputs: []string{"by_channel"},
			})
			if err != nil {
				t.Fatal(err)
			}
			rr, err := privacy.NewReleaser(plan, res, privacy.Metadata{Job: "campaign_weekly", Dataset: "web_events", Purpose: "marketing", Created: testMeta.Created}, privacy.ReleaserOptions{Allocator: mem})
			if err != nil {
				t.Fatal(err)
			}
			layout := plan.Outputs[0].Layout
			agg := testRecord(t, mem,
				[]string{"channel", privacy.UnitsColumn, layout.Column(0), layout.Column(1), layout.Column(2)},
				strs{sp("email"), sp("search"), sp("social")},
				i64s{ip(120), ip(0), ip(3000)},
				i64s{ip(300), ip(0), ip(7000)},
				i64s{ip(120), ip(0), ip(3000)},
				f64s{fp(1234.5), fp(0), fp(99000)},
			)
			reader, err := array.NewRecordReader(agg.Schema(), []arrow.RecordBatch{agg})
			if err != nil {
				t.Fatal(err)
			}
			err = rr.ReleaseOutput(ctx, "by_channel", reader, nil)
			reader.Release()
			agg.Release()
			if err != nil {
				t.Fatal(err)
			}
			rel, err := rr.Finish()
			if err != nil {
				t.Fatal(err)
			}
			defer rel.Free()

			sink, err := NewSink(job.OutputFormat(format))
			if err != nil {
				t.Fatal(err)
			}
			store := ledger.StoreDir(res.ReleaseID())
			files, err := sink.Write(ctx, rel, store)
			if err != nil {
				t.Fatal(err)
			}
			tables, _ := tablesOf(rel)
			checkWritten(t, store, files, tables)
			out := filepath.Join(root, "out")
			if _, err := Publish(ctx, store, out, FileNames(files), nil); err != nil {
				t.Fatal(err)
			}
			if a, b := listDir(t, store), listDir(t, out); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("published files differ from the store:\n%v\n%v", a, b)
			}

			f, err := os.Open(filepath.Join(out, "by_channel"+ManifestSuffix))
			if err != nil {
				t.Fatal(err)
			}
			m, err := ReadManifest(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			meta := rel.Metadata()
			if m.ReleaseID != "e2e-"+format || m.Epsilon != meta.Epsilon || m.Delta != meta.Delta || m.K != 0 || m.Partitions != PartitionsPublic || m.Noise != "laplace" || m.Rows != 3 {
				t.Errorf("manifest does not describe the release: %+v", m)
			}
			var cols []string
			for _, c := range m.Columns {
				cols = append(cols, c.Name+":"+c.Type)
			}
			want := []string{"channel:VARCHAR", "events:BIGINT", "events_ci95:DOUBLE", "people:BIGINT", "people_ci95:DOUBLE", "revenue:DOUBLE", "revenue_ci95:DOUBLE"}
			if !slices.Equal(cols, want) {
				t.Errorf("columns %v, want %v", cols, want)
			}
			if len(m.Metrics) != 3 || m.Metrics[0].NoiseStdDev == nil || m.Metrics[0].Mechanism != "laplace" {
				t.Errorf("metrics %+v", m.Metrics)
			}
		})
	}
}
