package transforms

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestNewMapBadFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file      string
		fragments []string
		secrets   []string // file contents that must not appear in the error
	}{
		{"bad_duplicate.csv", []string{"line 4: duplicate key (first on line 2)"}, []string{"DE", "XX"}},
		{"bad_empty_key.csv", []string{"line 3: empty key"}, nil},
		{"bad_empty_value.csv", []string{"line 3: empty value"}, []string{"FR"}},
		{"bad_three_fields.csv", []string{"line 3: has 3 fields, want 2"}, []string{"FR", "extra"}},
		{"bad_one_field.csv", []string{"line 3: has 1 fields, want 2"}, []string{"FR"}},
		{"bad_one_column.csv", []string{"line 1: has 1 fields, want 2"}, []string{"country"}},
		{"bad_header_only.csv", []string{"no key,value rows after the header"}, nil},
		{"bad_empty.csv", []string{"no key,value rows after the header"}, nil},
		{"bad_quote.csv", []string{"line 3"}, []string{"FR"}},
		{"bad_utf8.csv", []string{"line 3: key is not valid UTF-8"}, []string{"F\xffR"}},
		{"bad_nul.csv", []string{"line 3: key contains a NUL byte"}, []string{"F\x00R"}},
		{"missing.csv", []string{"cannot be opened"}, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "map", tc.file)
			_, err := NewMap("region", "country", path, "")
			checkSpecError(t, err, "columns.region.map.file", append(tc.fragments, path)...)
			for _, s := range tc.secrets {
				if strings.Contains(strings.TrimPrefix(err.Error(), "columns.region.map.file: "+path), s) {
					t.Errorf("error %q leaks file contents %q", err, s)
				}
			}
		})
	}
}

func TestNewMapLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, rows int) string {
		var b bytes.Buffer
		b.WriteString("key,value\n")
		for i := range rows {
			fmt.Fprintf(&b, "key%d,value%d\n", i, i%10)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	m, err := NewMap("m", "x", write("max.csv", MaxMapRows), "")
	if err != nil {
		t.Fatalf("%d rows: %v", MaxMapRows, err)
	}
	if m.Len() != MaxMapRows {
		t.Errorf("Len() = %d, want %d", m.Len(), MaxMapRows)
	}
	_, err = NewMap("m", "x", write("over.csv", MaxMapRows+1), "")
	checkSpecError(t, err, "columns.m.map.file", fmt.Sprintf("line %d: more than %d rows", MaxMapRows+2, MaxMapRows))

	_, err = NewMap("m", "x", dir, "")
	checkSpecError(t, err, "columns.m.map.file", "must be a regular file")
	_, err = NewMap("m", "x", "", "")
	checkSpecError(t, err, "columns.m.map.file", "is required")
	_, err = NewMap("m", "x", filepath.Join("testdata", "map", "regions.csv"), "bad\x00default")
	checkSpecError(t, err, "columns.m.map.default", "NUL")
}

func TestMapSQL(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	regions, err := NewMap("region", "country", filepath.Join("testdata", "map", "regions.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "map_regions.sql", regions.SQL(QuoteIdent("country"))+"\n")
	if got, want := regions.Labels(), []string{"EU", "Europe (Ö)", "NA", `Quote's "label"`, "other", "v"}; !slices.Equal(got, want) {
		t.Errorf("Labels() = %q, want %q", got, want)
	}
	cases := []evalCase{
		{"'DE'", "EU"},
		{"' DE '", "EU"},
		{"E'\\tFR\\n'", "EU"},
		{"'US'", "NA"},
		{"'Ö'", "Europe (Ö)"},
		{"'O''Brien'", `Quote's "label"`},
		{"'de'", "other"}, // case-sensitive
		{"'XX'", "other"},
		{"''", "other"},
		{"NULL::VARCHAR", "other"},
		{"42", "other"},
	}
	checkEval(t, db, regions, cases)
	for _, c := range cases {
		if strings.HasPrefix(c.in, "'") && !strings.Contains(c.in, "''") {
			if got := regions.Lookup(strings.Trim(c.in, "'")); got != c.want {
				t.Errorf("Lookup(%s) = %q, want %q", c.in, got, c.want)
			}
		}
	}

	t.Run("custom default", func(t *testing.T) {
		m, err := NewMap("region", "country", filepath.Join("testdata", "map", "regions.csv"), "elsewhere")
		if err != nil {
			t.Fatal(err)
		}
		checkEval(t, db, m, []evalCase{{"'XX'", "elsewhere"}, {"NULL::VARCHAR", "elsewhere"}, {"'DE'", "EU"}})
	})
	t.Run("source named like the lookup columns", func(t *testing.T) {
		// The lookup table's columns are reserved names, so a source column
		// called k or v is not shadowed.
		for _, from := range []string{"k", "v", "key", "value"} {
			m, err := NewMap("region", from, filepath.Join("testdata", "map", "regions.csv"), "")
			if err != nil {
				t.Fatal(err)
			}
			checkEval(t, db, m, []evalCase{{"'k'", "v"}, {"'FR'", "EU"}})
		}
	})
	t.Run("crlf and bom", func(t *testing.T) {
		for _, f := range []string{"crlf.csv", "bom.csv"} {
			m, err := NewMap("region", "country", filepath.Join("testdata", "map", f), "")
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			checkEval(t, db, m, []evalCase{{"'DE'", "EU"}})
		}
	})
	t.Run("in a CTE with GROUP BY and a window", func(t *testing.T) {
		// The shape the pipeline uses: derive in a CTE, then bound with a
		// window function and aggregate by the derived column.
		q := "WITH src AS (SELECT * FROM (VALUES (1, 'DE'), (1, 'FR'), (2, ' US'), (3, NULL), (4, 'XX')) t(u, country)), " +
			"derived AS (SELECT u, " + regions.SQL(`src."country"`) + " AS region FROM src), " +
			"bounded AS (SELECT *, row_number() OVER (PARTITION BY u ORDER BY region) AS rn FROM derived) " +
			"SELECT region, count(DISTINCT u) FROM bounded WHERE rn = 1 GROUP BY region ORDER BY region"
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var region string
			var n int
			if err := rows.Scan(&region, &n); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s=%d", region, n))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if want := []string{"EU=1", "NA=1", "other=2"}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("many rows", func(t *testing.T) {
		// Two map columns over 100,000 rows with a 10,000-entry map: every row
		// gets its label, in one query.
		dir := t.TempDir()
		var b bytes.Buffer
		b.WriteString("key,value\n")
		for i := range 10_000 {
			fmt.Fprintf(&b, "k%d,g%d\n", i, i%7)
		}
		path := filepath.Join(dir, "big.csv")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := NewMap("g", "x", path, "")
		if err != nil {
			t.Fatal(err)
		}
		q := "SELECT count(*) FILTER (WHERE g <> CASE WHEN i < 10000 THEN 'g' || (i % 7) ELSE 'other' END), " +
			"count(*) FILTER (WHERE g2 <> g) FROM (SELECT i, " + m.SQL(`"x"`) + " AS g, " + m.SQL(`"x"`) + " AS g2 " +
			"FROM (SELECT i, 'k' || i AS x FROM range(20000) t(i)))"
		var wrong, wrong2 int
		if err := db.QueryRow(q).Scan(&wrong, &wrong2); err != nil {
			t.Fatal(err)
		}
		if wrong != 0 || wrong2 != 0 {
			t.Errorf("%d and %d rows with a wrong label", wrong, wrong2)
		}
	})
}

// FuzzParseMap checks that no input makes the map decoder panic and that its
// errors never quote field contents.
func FuzzParseMap(f *testing.F) {
	for _, name := range []string{"regions.csv", "crlf.csv", "bad_duplicate.csv", "bad_quote.csv", "bad_utf8.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", "map", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, vals, err := parseMap(bytes.NewReader(data))
		if err != nil {
			if strings.Contains(string(data), "SECRETVALUE") && strings.Contains(err.Error(), "SECRETVALUE") {
				t.Errorf("error quotes the file: %v", err)
			}
			return
		}
		if len(keys) == 0 || len(keys) != len(vals) {
			t.Errorf("%d keys and %d values without an error", len(keys), len(vals))
		}
		seen := make(map[string]bool)
		for i, k := range keys {
			if k == "" || vals[i] == "" || seen[k] {
				t.Errorf("entry %d: empty or duplicate key or empty value accepted", i)
			}
			seen[k] = true
		}
	})
}
