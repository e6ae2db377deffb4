package gen

import (
	"github.com/privagg/privagg/internal/sqlq"

	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// query runs q on a fresh in-memory DuckDB and returns the rows as strings.
func query(t *testing.T, q string) [][]string {
	t.Helper()
	db, conn, err := openEngine(context.Background(), engineSettings{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer conn.Close()
	rows, err := conn.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
			if !v.Valid {
				row[i] = "NULL"
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// one returns the single value of q.
func one(t *testing.T, q string) string {
	t.Helper()
	rows := query(t, q)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: got %v, want one value", q, rows)
	}
	return rows[0][0]
}

func generate(t *testing.T, opt Options) Stats {
	t.Helper()
	st, err := Generate(context.Background(), opt)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", opt, err)
	}
	return st
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// contentSHA hashes every row of a file in file order, independent of the
// file's physical layout.
func contentSHA(t *testing.T, path string) string {
	t.Helper()
	h := sha256.New()
	for _, r := range query(t, "SELECT * FROM "+sqlq.String(path)) {
		fmt.Fprintln(h, strings.Join(r, "\x1f"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestGenerateDeterministic(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{FormatParquet, FormatCSV, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			path := func(name string) string { return filepath.Join(dir, format+"-"+name+"."+format) }
			base := Options{Events: 30_000, Users: 3_000, Seed: 7}
			a, b, c, d := base, base, base, base
			a.Out, b.Out, c.Out, d.Out = path("a"), path("b"), path("c"), path("d")
			b.Threads = 1 // parallelism must not change the rows or their order
			c.Seed = 8
			for _, o := range []Options{a, b, c} {
				generate(t, o)
			}
			if got, want := contentSHA(t, b.Out), contentSHA(t, a.Out); got != want {
				t.Errorf("same seed, 1 thread vs default: content sha %s != %s", got, want)
			}
			if format != FormatParquet { // text formats are byte-for-byte equal too
				if got, want := fileSHA(t, b.Out), fileSHA(t, a.Out); got != want {
					t.Errorf("same seed: file sha %s != %s", got, want)
				}
			}
			if contentSHA(t, c.Out) == contentSHA(t, a.Out) {
				t.Errorf("seeds 7 and 8 gave the same content")
			}
		})
	}
}

// TestGenerateGolden pins the exact rows of a small data set, so an accidental
// change of the generator (or of DuckDB's hash function on upgrade) is seen.
// Regenerate with: go test ./pipeline/gen -run Golden -update
func TestGenerateGolden(t *testing.T) {
	out := filepath.Join(t.TempDir(), "events.csv")
	generate(t, Options{Events: 25, Users: 10, Seed: 1, Out: out})
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "events_seed1.golden.csv")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("generated rows differ from %s (run with -update if the change is intended):\n%s", golden, got)
	}
}

func TestGenerateSchemaAndCounts(t *testing.T) {
	want := [][]string{
		{"email", "VARCHAR"}, {"phone", "VARCHAR"}, {"ip", "VARCHAR"}, {"user_id", "VARCHAR"},
		{"ts", "TIMESTAMP"}, {"event_type", "VARCHAR"}, {"campaign", "VARCHAR"}, {"channel", "VARCHAR"},
		{"country", "VARCHAR"}, {"zip", "VARCHAR"}, {"age", "INTEGER"}, {"revenue", "DOUBLE"},
		{"consent_marketing", "BOOLEAN"}, {"consent_analytics", "BOOLEAN"},
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, file, format string
		events             int64
	}{
		{"parquet", "e.parquet", FormatParquet, 12_345},
		{"csv", "e.csv", FormatCSV, 1},
		{"json", "e.jsonl", FormatJSON, 5_000},
		{"explicit format", "e.data", FormatParquet, 777},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.file)
			opt := Options{Events: tc.events, Users: 100, Seed: 3, Out: out}
			if tc.file == "e.data" {
				opt.Format = "PARQUET"
			}
			st := generate(t, opt)
			if st.Rows != tc.events || st.Format != tc.format || st.Path != out || st.Users != 100 || st.Bytes <= 0 {
				t.Errorf("stats = %+v, want %d rows of format %s at %s", st, tc.events, tc.format, out)
			}
			from := sqlq.String(out)
			switch tc.format {
			case FormatParquet:
				from = "read_parquet(" + from + ")"
			case FormatCSV:
				from = "read_csv(" + from + ", types={'zip': 'VARCHAR', 'age': 'INTEGER', 'revenue': 'DOUBLE', 'phone': 'VARCHAR'})"
			case FormatJSON:
				from = "read_json(" + from + ", columns={email: 'VARCHAR', phone: 'VARCHAR', ip: 'VARCHAR', user_id: 'VARCHAR', ts: 'TIMESTAMP', event_type: 'VARCHAR', campaign: 'VARCHAR', channel: 'VARCHAR', country: 'VARCHAR', zip: 'VARCHAR', age: 'INTEGER', revenue: 'DOUBLE', consent_marketing: 'BOOLEAN', consent_analytics: 'BOOLEAN'})"
			}
			if got := one(t, "SELECT count(*) FROM "+from); got != fmt.Sprint(tc.events) {
				t.Errorf("count(*) = %s, want %d", got, tc.events)
			}
			if tc.format == FormatJSON {
				return // types are given by the reader above
			}
			var got [][]string
			for _, r := range query(t, "DESCRIBE SELECT * FROM "+from) {
				got = append(got, r[:2])
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("columns = %v\nwant %v", got, want)
			}
		})
	}
}

// testData is one larger data set shared by the statistical tests; it is
// deterministic (fixed seed), so these tests cannot fail at random.
func testData(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "events.parquet")
	generate(t, Options{Events: 200_000, Users: 20_000, Seed: 42, Out: out})
	return "read_parquet(" + sqlq.String(out) + ")"
}

func TestGenerateData(t *testing.T) {
	from := testData(t)

	t.Run("per-user attributes are constant", func(t *testing.T) {
		q := `SELECT count(*) FROM (SELECT user_id FROM ` + from + ` GROUP BY user_id HAVING
			count(DISTINCT lower(trim(email))) > 1 OR count(DISTINCT phone) > 1 OR count(DISTINCT ip) > 1 OR
			count(DISTINCT country) > 1 OR count(DISTINCT zip) > 1 OR count(DISTINCT age) > 1 OR
			count(DISTINCT consent_marketing) > 1 OR count(DISTINCT consent_analytics) > 1 OR
			any_value(lower(trim(email))) <> 'user' || substr(user_id, 2) || '@example.com')`
		if got := one(t, q); got != "0" {
			t.Errorf("%s users have inconsistent attributes", got)
		}
		if got := one(t, `SELECT count(*) FROM `+from+` WHERE email <> lower(trim(email))`); got == "0" {
			t.Errorf("no email carries case or blank noise")
		}
	})

	t.Run("activity is heavy-tailed", func(t *testing.T) {
		// Skew 3: the top 1% of the user id space draws 0.01^(1/3) = 21.5% of events.
		r := query(t, `WITH c AS (SELECT user_id, count(*) n FROM `+from+` GROUP BY user_id),
			r AS (SELECT n, row_number() OVER (ORDER BY n DESC) rk FROM c)
			SELECT sum(n) FILTER (WHERE rk <= 200) / sum(n), max(n), count(*) FROM r`)[0]
		if share := parseFloat(t, r[0]); share < 0.2 {
			t.Errorf("top 200 of 20000 users hold %.3f of events, want >= 0.2", share)
		}
		if maxN := parseFloat(t, r[1]); maxN < 1000 {
			t.Errorf("heaviest user has %v events, want >= 1000", maxN)
		}
		if users := parseFloat(t, r[2]); users < 15_000 {
			t.Errorf("%v users have events, want most of 20000", users)
		}
	})

	t.Run("heavy users are spread over the id space", func(t *testing.T) {
		q := `SELECT count(*) FROM (SELECT user_id, count(*) n FROM ` + from + ` GROUP BY ALL ORDER BY n DESC LIMIT 20)
			WHERE user_id < 'u001000'`
		if got := parseFloat(t, one(t, q)); got > 5 {
			t.Errorf("%v of the 20 heaviest users are among the first 1000 ids, want them permuted", got)
		}
	})

	t.Run("value ranges", func(t *testing.T) {
		q := `SELECT
			min(age) >= 16 AND max(age) <= 90,
			bool_and(length(zip) = 5 AND regexp_full_match(zip, '[0-9]+')),
			min(ts) >= TIMESTAMP '2026-01-05' AND max(ts) < TIMESTAMP '2026-03-30',
			count(DISTINCT campaign) = 20 AND min(campaign) = 'cmp_000' AND max(campaign) = 'cmp_019',
			count(DISTINCT channel) = 5, count(DISTINCT country) = 15,
			bool_and(revenue = 0 OR event_type = 'purchase'), min(revenue) >= 0,
			count(*) FILTER (WHERE revenue > 500) > 0,
			bool_and(regexp_full_match(user_id, 'u[0-9]{6}')),
			bool_and(regexp_full_match(phone, '\+1[0-9]{10}')),
			bool_and(regexp_full_match(ip, '[0-9]{1,3}(\.[0-9]{1,3}){3}'))
			FROM ` + from
		names := []string{"age", "zip", "ts", "campaign", "channel", "country", "revenue only on purchases",
			"revenue >= 0", "some revenue > 500", "user_id", "phone", "ip"}
		for i, v := range query(t, q)[0] {
			if v != "true" {
				t.Errorf("%s: check failed", names[i])
			}
		}
	})

	t.Run("shares", func(t *testing.T) {
		// With 200000 events (or about 17000 users for consent), binomial
		// standard deviations are below 0.004; the tolerances are > 5 of them.
		r := query(t, `SELECT
			avg((event_type = 'view')::INT), avg((event_type = 'purchase')::INT),
			avg((channel = 'search')::INT), avg((country = 'US')::INT)
			FROM `+from)[0]
		users := query(t, `SELECT avg(cm::INT), avg(ca::INT) FROM
			(SELECT any_value(consent_marketing) cm, any_value(consent_analytics) ca FROM `+from+` GROUP BY user_id)`)[0]
		for _, c := range []struct {
			name      string
			got, want float64
			tol       float64
		}{
			{"view", parseFloat(t, r[0]), 0.70, 0.02},
			{"purchase", parseFloat(t, r[1]), 0.03, 0.01},
			{"search", parseFloat(t, r[2]), 0.30, 0.02},
			{"US (per event, weighted by activity)", parseFloat(t, r[3]), 0.30, 0.10},
			{"consent_marketing per user", parseFloat(t, users[0]), DefaultConsentRate, 0.03},
			{"consent_analytics per user", parseFloat(t, users[1]), AnalyticsConsentRate, 0.03},
		} {
			if c.got < c.want-c.tol || c.got > c.want+c.tol {
				t.Errorf("%s share = %.4f, want %.2f ± %.2f", c.name, c.got, c.want, c.tol)
			}
		}
	})
}

// TestGenerateZipf: with Zipf s the user of activity rank r draws a share
// F(r+1) - F(r) of events, F(x) = (x^(1-s) - 1) / ((U+1)^(1-s) - 1). For
// s = 1.2 and U = 10,000: the top user 15.4% (F(2)) and the top 100 users
// 59.6% (F(101)). With 200,000 events the binomial standard deviations are
// below 0.0012; the tolerances are more than 8 of them. Zipf 2/3 is the same
// law as Skew 3 (top 1% of users about 21%).
func TestGenerateZipf(t *testing.T) {
	dir := t.TempDir()
	share := func(s float64, r int) float64 {
		f := func(x float64) float64 { return (math.Pow(x, 1-s) - 1) / (math.Pow(10001, 1-s) - 1) }
		return f(float64(r) + 1)
	}
	for _, tc := range []struct {
		zipf float64
		tol  float64
	}{{1.2, 0.01}, {1, 0.01}, {2.0 / 3, 0.01}} {
		t.Run(fmt.Sprint(tc.zipf), func(t *testing.T) {
			opt := Options{Events: 200_000, Users: 10_000, Seed: 3, Zipf: tc.zipf, Out: filepath.Join(dir, fmt.Sprintf("z%v.parquet", tc.zipf))}
			generate(t, opt)
			r := query(t, `WITH c AS (SELECT user_id, count(*) n FROM `+sqlq.String(opt.Out)+` GROUP BY user_id),
				r AS (SELECT n, row_number() OVER (ORDER BY n DESC) rk FROM c)
				SELECT sum(n) FILTER (WHERE rk = 1) / sum(n), sum(n) FILTER (WHERE rk <= 100) / sum(n) FROM r`)[0]
			for i, rank := range []int{1, 100} {
				if got, want := parseFloat(t, r[i]), share(tc.zipf, rank); math.Abs(got-want) > tc.tol {
					t.Errorf("top %d users hold %.4f of events, Zipf's law says %.4f", rank, got, want)
				}
			}
			again := opt
			again.Out, again.Threads = filepath.Join(dir, "again.parquet"), 1
			generate(t, again)
			if contentSHA(t, again.Out) != contentSHA(t, opt.Out) {
				t.Error("the same options gave other rows")
			}
		})
	}
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return f
}

func TestGenerateConsentRate(t *testing.T) {
	dir := t.TempDir()
	for _, rate := range []float64{0, 1} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("e%v.parquet", rate))
			generate(t, Options{Events: 1000, Users: 100, Seed: 1, Out: out, ConsentRate: &rate})
			got := one(t, "SELECT avg(consent_marketing::INT) FROM "+sqlq.String(out))
			if parseFloat(t, got) != rate {
				t.Errorf("consent share = %s, want %v", got, rate)
			}
		})
	}
}

func TestGenerateConsentTable(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.parquet")
	consent := filepath.Join(dir, "consent.csv")
	const users = 5_000
	generate(t, Options{Events: 50_000, Users: users, Seed: 9, Out: events})
	st, err := GenerateConsentTable(context.Background(), ConsentOptions{Users: users, Seed: 9, Out: consent})
	if err != nil {
		t.Fatal(err)
	}
	c := "read_csv(" + sqlq.String(consent) + ")"
	if got := one(t, "SELECT count(*) FROM "+c); got != fmt.Sprint(st.Rows) {
		t.Errorf("count = %s, stats say %d", got, st.Rows)
	}

	t.Run("columns", func(t *testing.T) {
		var got []string
		for _, r := range query(t, "DESCRIBE SELECT * FROM "+c) {
			got = append(got, r[0]+" "+r[1])
		}
		want := "[user_id VARCHAR purpose VARCHAR granted BOOLEAN updated_at TIMESTAMP]"
		if fmt.Sprint(got) != want {
			t.Errorf("columns = %v, want %s", got, want)
		}
	})
	t.Run("several records per user and unique times", func(t *testing.T) {
		r := query(t, `SELECT max(n), avg(n), max(dup) FROM (SELECT count(*) n, count(*) - count(DISTINCT updated_at) dup
			FROM `+c+` GROUP BY user_id, purpose)`)[0]
		if r[0] != fmt.Sprint(DefaultRecordsPerUser) || parseFloat(t, r[1]) < 2 || r[2] != "0" {
			t.Errorf("records per (user, purpose): max %s avg %s, duplicate times %s; want max %d, avg >= 2, none",
				r[0], r[1], r[2], DefaultRecordsPerUser)
		}
	})
	t.Run("file order is not time order", func(t *testing.T) {
		q := `SELECT count(*) FROM (SELECT updated_at < lag(updated_at) OVER (PARTITION BY user_id, purpose ORDER BY rowid) back
			FROM (SELECT *, row_number() OVER () rowid FROM ` + c + `)) WHERE back`
		if got := parseFloat(t, one(t, q)); got == 0 {
			t.Errorf("records are in time order in the file; the latest-wins rule would not be exercised")
		}
	})
	t.Run("latest record agrees with the event columns", func(t *testing.T) {
		q := `WITH latest AS (
				SELECT user_id, purpose, arg_max(granted, updated_at) AS granted FROM ` + c + ` GROUP BY ALL),
			u AS (SELECT user_id, any_value(consent_marketing) cm, any_value(consent_analytics) ca
				FROM read_parquet(` + sqlq.String(events) + `) GROUP BY user_id)
			SELECT
				count(*) FILTER (WHERE cm IS DISTINCT FROM coalesce(m.granted, false)),
				count(*) FILTER (WHERE ca IS DISTINCT FROM coalesce(a.granted, false)),
				count(*) FILTER (WHERE m.granted IS NULL),
				count(*) FILTER (WHERE NOT cm)
			FROM u
			LEFT JOIN latest m ON m.user_id = u.user_id AND m.purpose = 'marketing'
			LEFT JOIN latest a ON a.user_id = u.user_id AND a.purpose = 'analytics'`
		r := query(t, q)[0]
		if r[0] != "0" || r[1] != "0" {
			t.Errorf("users whose latest consent record disagrees with the events: marketing %s, analytics %s", r[0], r[1])
		}
		noRecord, refused := parseFloat(t, r[2]), parseFloat(t, r[3])
		if noRecord == 0 || noRecord >= refused {
			t.Errorf("%v users have no marketing record, want some but fewer than the %v without consent", noRecord, refused)
		}
	})
}

func TestGenerateOptionErrors(t *testing.T) {
	nan := 0.0 / func() float64 { return 0 }()
	neg := -0.1
	for _, tc := range []struct {
		name string
		opt  Options
		want []string
	}{
		{"zero events", Options{Users: 1, Out: "x.parquet"}, []string{"events: 0 must be in [1, "}},
		{"negative users", Options{Events: 1, Users: -5, Out: "x.parquet"}, []string{"users: -5 must be in [1, "}},
		{"no out", Options{Events: 1, Users: 1}, []string{"out: must be set"}},
		{"unknown extension", Options{Events: 1, Users: 1, Out: "x.txt"}, []string{`out: extension ".txt" does not name a format`}},
		{"unknown format", Options{Events: 1, Users: 1, Out: "x.parquet", Format: "xml"}, []string{`format: "xml" must be parquet, csv or json`}},
		{"consent rate", Options{Events: 1, Users: 1, Out: "x.csv", ConsentRate: &neg}, []string{"consent_rate: -0.1 must be in [0, 1]"}},
		{"consent rate NaN", Options{Events: 1, Users: 1, Out: "x.csv", ConsentRate: &nan}, []string{"consent_rate: NaN must be in [0, 1]"}},
		{"skew", Options{Events: 1, Users: 1, Out: "x.csv", Skew: 0.5}, []string{"skew: 0.5 must be in [1, 10]"}},
		{"zipf", Options{Events: 1, Users: 1, Out: "x.csv", Zipf: -1}, []string{"zipf: -1 must be in (0, 4]"}},
		{"zipf NaN", Options{Events: 1, Users: 1, Out: "x.csv", Zipf: nan}, []string{"zipf: NaN must be in (0, 4]"}},
		{"campaigns", Options{Events: 1, Users: 1, Out: "x.csv", Campaigns: 5000}, []string{"campaigns: 5000 must be in [1, 1000]"}},
		{"memory limit", Options{Events: 1, Users: 1, Out: "x.csv", MemoryLimit: "4GB'; DROP"}, []string{`memory_limit: "4GB'; DROP" must be a size`}},
		{"all at once", Options{Events: -1, Users: 0, Out: "x.csv", Weeks: -2, Threads: -1},
			[]string{"events: -1", "users: 0", "weeks: -2", "threads: -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(context.Background(), tc.opt)
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("err = %v, want ErrInvalidOptions", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
	t.Run("consent records per user", func(t *testing.T) {
		_, err := GenerateConsentTable(context.Background(), ConsentOptions{Users: 1, Out: "c.csv", RecordsPerUser: 101})
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "records_per_user: 101 must be in [1, 100]") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestGenerateAtomic(t *testing.T) {
	t.Run("cancelled run leaves the old file and no temporary", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "events.parquet")
		if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Generate(ctx, Options{Events: 1_000_000, Users: 1000, Out: out}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		assertDir(t, dir, "events.parquet")
		if b, _ := os.ReadFile(out); string(b) != "old" {
			t.Errorf("out was changed by a failed run")
		}
	})
	t.Run("cancelled while writing", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := Generate(ctx, Options{Events: 500_000_000, Users: 1000, Out: filepath.Join(dir, "e.parquet")})
		if err == nil {
			t.Fatal("Generate of 500M events finished within 50ms")
		}
		assertDir(t, dir)
	})
	t.Run("missing folder", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Generate(context.Background(), Options{Events: 1, Users: 1, Out: filepath.Join(dir, "no", "e.csv")})
		if err == nil || errors.Is(err, ErrInvalidOptions) {
			t.Fatalf("err = %v, want an I/O error", err)
		}
		assertDir(t, dir)
	})
	t.Run("replaces an existing file", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "e.csv")
		if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		generate(t, Options{Events: 10, Users: 2, Out: out})
		if got := one(t, "SELECT count(*) FROM "+sqlq.String(out)); got != "10" {
			t.Errorf("count = %s, want 10", got)
		}
		assertDir(t, dir, "e.csv")
	})
}

// assertDir checks that dir holds exactly the named files.
func assertDir(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

func TestStatsString(t *testing.T) {
	s := Stats{Path: "e.parquet", Format: "parquet", Rows: 1000, Users: 100, Bytes: 3 << 20, Elapsed: 1234567 * time.Microsecond}
	want := "wrote 1000 rows (100 user ids) to e.parquet (parquet, 3.0 MiB) in 1.235s"
	if got := s.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestPermutationIsBijective(t *testing.T) {
	for _, users := range []int64{1, 2, 7, 1000, 2654435761 % 1_000_000_000, 999_983} {
		t.Run(fmt.Sprint(users), func(t *testing.T) {
			a, b := permutation(users, 1)
			if g := new(big.Int).GCD(nil, nil, big.NewInt(a), big.NewInt(users)); g.Int64() != 1 || b < 0 || b >= users {
				t.Fatalf("a = %d, b = %d: want gcd(a, %d) = 1 and b in range", a, b, users)
			}
			if users > 100_000 {
				return // the gcd check above suffices; enumerate small spaces only
			}
			seen := make([]bool, users)
			for u := range users {
				v := (u*a + b) % users
				if seen[v] {
					t.Fatalf("u -> (u*%d+%d) mod %d is not injective", a, b, users)
				}
				seen[v] = true
			}
		})
	}
}
