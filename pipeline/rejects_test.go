package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/transforms"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/verify"
	"github.com/privagg/privagg/job"
)

// rejectsJob is the shared rejects job (verify.RejectsJob).
const rejectsJob = verify.RejectsJob

// rejectsCSV has malformed rows on known lines (the header is line 1). Line
// 4 has one column too many, so the CSV reader itself rejects it; the rows
// after it keep their line numbers. The secret values must never appear in
// the report or an error.
const rejectsCSV = `user_id,consent_marketing,ts,revenue
u1,true,2026-01-05 10:00:00,10
u2,true,SECRET-TS-1,10
u3,true,2026-01-05 10:00:00,10,SECRET-EXTRA
u4,true,2026-01-05 10:00:00,SECRET-NUM
u5,SECRET-CONSENT,2026-01-05 10:00:00,10
,true,2026-01-05 10:00:00,10
u7,true,2026-01-05 10:00:00,10
u8,true,SECRET-TS-2,SECRET-NUM-2
`

// rejectsJSON is the same data as newline-delimited JSON (line = record
// index + 1; it has no blank lines).
const rejectsJSON = `{"user_id":"u1","consent_marketing":"true","ts":"2026-01-05 10:00:00","revenue":"10"}
{"user_id":"u2","consent_marketing":"true","ts":"SECRET-TS-1","revenue":"10"}
{"user_id":"u4","consent_marketing":"true","ts":"2026-01-05 10:00:00","revenue":"SECRET-NUM"}
{"user_id":"u5","consent_marketing":"SECRET-CONSENT","ts":"2026-01-05 10:00:00","revenue":"10"}
{"user_id":"","consent_marketing":"true","ts":"2026-01-05 10:00:00","revenue":"10"}
{"user_id":"u7","consent_marketing":"true","ts":"2026-01-05 10:00:00","revenue":"10"}
{"user_id":"u8","consent_marketing":"true","ts":"SECRET-TS-2","revenue":"SECRET-NUM-2"}
`

// TestRunReportListsRejectedRows: the internal run report locates each
// malformed row by line, column and rule, with totals per (column, rule),
// and never quotes a value; so does the error when too many rows are
// malformed.
func TestRunReportListsRejectedRows(t *testing.T) {
	ts := func(line int64) engine.RejectedRow {
		return engine.RejectedRow{Line: line, Column: "ts", Rule: "gives no value for week"}
	}
	num := func(line int64) engine.RejectedRow {
		return engine.RejectedRow{Line: line, Column: "revenue", Rule: "is not a finite number"}
	}
	consent := func(line int64) engine.RejectedRow {
		return engine.RejectedRow{Line: line, Column: "consent_marketing", Rule: "is not an accepted consent value"}
	}
	unit := func(line int64) engine.RejectedRow {
		return engine.RejectedRow{Line: line, Column: "user_id", Rule: "is missing or blank (privacy unit)"}
	}
	for _, tc := range []struct {
		name, format, data string
		want               []engine.RejectedRow
		totals             []engine.RejectTotal
	}{
		{"csv", "csv", rejectsCSV,
			[]engine.RejectedRow{ts(3), {Line: 4, Rule: "csv: too many columns"}, num(5), consent(6), unit(7), ts(9), num(9)},
			[]engine.RejectTotal{{Rule: "csv: too many columns", Rows: 1}, {Column: "consent_marketing", Rule: "is not an accepted consent value", Rows: 1},
				{Column: "revenue", Rule: "is not a finite number", Rows: 2}, {Column: "ts", Rule: "gives no value for week", Rows: 2},
				{Column: "user_id", Rule: "is missing or blank (privacy unit)", Rows: 1}}},
		{"json", "json", rejectsJSON,
			[]engine.RejectedRow{ts(2), num(3), consent(4), unit(5), ts(7), num(7)},
			[]engine.RejectTotal{{Column: "consent_marketing", Rule: "is not an accepted consent value", Rows: 1},
				{Column: "revenue", Rule: "is not a finite number", Rows: 2}, {Column: "ts", Rule: "gives no value for week", Rows: 2},
				{Column: "user_id", Rule: "is missing or blank (privacy unit)", Rows: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := rejectsJob
			if tc.format == "json" {
				y = strings.Replace(y, "path: events.csv", "path: events.json, format: json", 1)
			}
			j := testfixture.CSVJob(t, y, rejectsCSV, 10)
			if tc.format == "json" {
				if err := os.WriteFile(filepath.Join(filepath.Dir(j.Input.Path), "events.json"), []byte(tc.data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			defer testfixture.WithNoise(t, testnoise.None{})()
			res, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: "rejects-1"})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			r := res.Report
			if r.Rejects == nil {
				t.Fatal("report has no rejected rows")
			}
			if !slices.Equal(r.Rejects.Rows, tc.want) {
				t.Errorf("rejected rows = %+v\nwant %+v", r.Rejects.Rows, tc.want)
			}
			if !slices.Equal(r.Rejects.Totals, tc.totals) {
				t.Errorf("totals = %+v\nwant %+v", r.Rejects.Totals, tc.totals)
			}
			noSecrets(t, "run report", reportText(t, j.Ledger))

			// Too many: the message names the first rows, never a value.
			j = testfixture.CSVJob(t, strings.Replace(y, "max_reject_fraction: 0.9", "max_reject_fraction: 0.1", 1), rejectsCSV, 10)
			if tc.format == "json" {
				if err := os.WriteFile(filepath.Join(filepath.Dir(j.Input.Path), "events.json"), []byte(tc.data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err = Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: "rejects-2"})
			if !isInput(err) {
				t.Fatalf("err = %v, want an input error", err)
			}
			first := tc.want[0]
			if want := "line 3 column ts: gives no value for week"; first.Line == 3 && !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
			if want := "line 2 column ts: gives no value for week"; first.Line == 2 && !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
			noSecrets(t, "error", err.Error())
			noSecrets(t, "run report", reportText(t, j.Ledger))
		})
	}
}

// TestRunReportRejectsAtScale: in a larger input the listing keeps input
// order (the first 20 of 25 malformed rows, with their true lines), per file
// when input.path matches several, and as 0-based row indexes for Parquet.
func TestRunReportRejectsAtScale(t *testing.T) {
	const n, bad = 60000, 25
	isBad := map[int]bool{}
	for i := range bad {
		isBad[7+i*2399] = true // 1-based record numbers
	}
	records := func(from, to int) string {
		var b strings.Builder
		b.WriteString("user_id,consent_marketing,ts,revenue\n")
		for i := from; i <= to; i++ {
			ts := "2026-01-05 10:00:00"
			if isBad[i] {
				ts = "SECRET-TS"
			}
			fmt.Fprintf(&b, "p%d,true,%s,1\n", i, ts)
		}
		return b.String()
	}
	want := func(file func(int) string, pos func(int) engine.RejectedRow) ([]engine.RejectedRow, []engine.RejectTotal) {
		var rows []engine.RejectedRow
		for i := 1; i <= n && len(rows) < engine.MaxRejectedRows; i++ {
			if isBad[i] {
				r := pos(i)
				r.File, r.Column, r.Rule = file(i), "ts", "gives no value for week"
				rows = append(rows, r)
			}
		}
		return rows, []engine.RejectTotal{{Column: "ts", Rule: "gives no value for week", Rows: bad}}
	}
	line := func(i int) engine.RejectedRow { return engine.RejectedRow{Line: int64(i) + 1} }
	run := func(t *testing.T, y string, setup func(dir string)) *engine.Rejects {
		t.Helper()
		j := testfixture.CSVJob(t, y, records(1, n), 10)
		setup(filepath.Dir(j.Input.Path))
		defer testfixture.WithNoise(t, testnoise.None{})()
		res, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: "scale-1"})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		noSecrets(t, "run report", reportText(t, j.Ledger))
		return res.Report.Rejects
	}
	check := func(t *testing.T, got *engine.Rejects, rows []engine.RejectedRow, totals []engine.RejectTotal) {
		t.Helper()
		if got == nil {
			t.Fatal("no rejects listed")
		}
		if !slices.EqualFunc(got.Rows, rows, sameRow) {
			t.Errorf("rows = %v\nwant %v", got.Rows, rows)
		}
		if !slices.Equal(got.Totals, totals) {
			t.Errorf("totals = %v, want %v", got.Totals, totals)
		}
	}
	t.Run("csv", func(t *testing.T) {
		rows, totals := want(func(int) string { return "" }, line)
		check(t, run(t, rejectsJob, func(string) {}), rows, totals)
	})
	t.Run("two csv files", func(t *testing.T) {
		const split = 30000
		var dir string
		got := run(t, strings.Replace(rejectsJob, "path: events.csv", "path: part-*.csv", 1), func(d string) {
			dir = d
			for name, r := range map[string][2]int{"part-1.csv": {1, split}, "part-2.csv": {split + 1, n}} {
				if err := os.WriteFile(filepath.Join(d, name), []byte(records(r[0], r[1])), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
		file := func(i int) string {
			if i <= split {
				return filepath.Join(dir, "part-1.csv")
			}
			return filepath.Join(dir, "part-2.csv")
		}
		rows, totals := want(file, func(i int) engine.RejectedRow {
			if i > split {
				i -= split
			}
			return line(i)
		})
		check(t, got, rows, totals)
	})
	t.Run("parquet", func(t *testing.T) {
		got := run(t, strings.Replace(rejectsJob, "path: events.csv", "path: events.parquet", 1), func(d string) {
			db, err := duckdb.OpenDB(context.Background(), duckdb.DBOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Exec(context.Background(), fmt.Sprintf("COPY (SELECT * FROM read_csv(%s, all_varchar=true)) TO %s (FORMAT parquet, ROW_GROUP_SIZE 4096)",
				transforms.QuoteString(filepath.Join(d, "events.csv")), transforms.QuoteString(filepath.Join(d, "events.parquet")))); err != nil {
				t.Fatal(err)
			}
		})
		rows, totals := want(func(int) string { return "" }, func(i int) engine.RejectedRow {
			idx := int64(i - 1)
			return engine.RejectedRow{Row: &idx}
		})
		check(t, got, rows, totals)
	})
}

// sameRow compares rejected rows by value (Row is a pointer).
func sameRow(a, b engine.RejectedRow) bool { return a.String() == b.String() }

// TestRunReportCleanInputHasNoRejects: a clean input gets no listing.
func TestRunReportCleanInputHasNoRejects(t *testing.T) {
	j := testfixture.CSVJob(t, rejectsJob, "user_id,consent_marketing,ts,revenue\nu1,true,2026-01-05 10:00:00,10\n", 10)
	defer testfixture.WithNoise(t, testnoise.None{})()
	res, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: "clean-1"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Report.Rejects != nil {
		t.Errorf("clean input: rejects = %+v, want none", res.Report.Rejects)
	}
}

// reportText returns every run report written beside the ledger.
func reportText(t *testing.T, ledger string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(filepath.Dir(ledger), "privagg-runs", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no run report beside %s (%v)", ledger, err)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r RunReport
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b.Write(data)
	}
	return b.String()
}

func noSecrets(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range []string{"SECRET", "u2", "u4", "u8"} {
		if strings.Contains(text, s) {
			t.Errorf("%s quotes input value %q:\n%s", where, s, text)
		}
	}
}

// TestRunReportListsConsentTableRejects: malformed consent-table records
// that count (for the job's purpose, or without a purpose) are listed under
// rejects.consent_table with the consent table's file, line, column and
// rule, never a value; the error for too many names the first ones.
func TestRunReportListsConsentTableRejects(t *testing.T) {
	const y = `version: 1
name: consent_rejects
dataset: d
purpose: marketing
input: {path: events.csv, max_reject_fraction: 0.9}
privacy_unit: user_id
consent:
  table: {path: consent.csv, unit: user_id, purpose: purpose, granted: granted, at: at}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: all
    group_by: [channel]
    public_partitions: {channel: [email]}
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`
	// Line 6 is for another purpose: neither counted nor listed.
	const consent = "user_id,purpose,granted,at\n" +
		"u1,marketing,true,2026-01-01 00:00:00\n" +
		"u2,marketing,true,SECRET-TIME\n" +
		"u3,,true,2026-01-01\n" +
		",marketing,SECRET-GRANT,2026-01-01\n" +
		"u4,analytics,SECRET-GRANT-2,SECRET-TIME-2\n" +
		"u5, Marketing ,true,\n"
	const events = "user_id,channel\nu1,email\nu2,email\nu3,email\nu4,email\nu5,email\n"
	setup := func(t *testing.T, y string) *job.Job {
		j := testfixture.CSVJob(t, y, events, 10)
		if err := os.WriteFile(j.Consent.Table.Path, []byte(consent), 0o644); err != nil {
			t.Fatal(err)
		}
		return j
	}
	j := setup(t, y)
	defer testfixture.WithNoise(t, testnoise.None{})()
	res, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: "consent-rejects-1"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := res.Report.Rejects
	if r == nil || r.ConsentTable == nil {
		t.Fatalf("report rejects = %+v, want the consent table's records", r)
	}
	if len(r.Rows) > 0 || len(r.Totals) > 0 {
		t.Errorf("input rows listed for a clean input: %+v", r)
	}
	row := func(line int64, col, rule string) engine.RejectedRow {
		return engine.RejectedRow{File: j.Consent.Table.Path, Line: line, Column: col, Rule: rule}
	}
	want := []engine.RejectedRow{row(3, "at", engine.RuleConsentTime), row(4, "purpose", engine.RulePurposeMissing),
		row(5, "user_id", engine.RuleUnitMissing), row(5, "granted", engine.RuleConsentValue), row(7, "at", engine.RuleConsentTime)}
	if !slices.Equal(r.ConsentTable.Rows, want) {
		t.Errorf("consent rows = %v\nwant %v", r.ConsentTable.Rows, want)
	}
	totals := []engine.RejectTotal{{Column: "at", Rule: engine.RuleConsentTime, Rows: 2}, {Column: "granted", Rule: engine.RuleConsentValue, Rows: 1},
		{Column: "purpose", Rule: engine.RulePurposeMissing, Rows: 1}, {Column: "user_id", Rule: engine.RuleUnitMissing, Rows: 1}}
	if !slices.Equal(r.ConsentTable.Totals, totals) {
		t.Errorf("consent totals = %v\nwant %v", r.ConsentTable.Totals, totals)
	}
	noSecrets(t, "run report", reportText(t, j.Ledger))

	j = setup(t, strings.Replace(y, "max_reject_fraction: 0.9", "max_reject_fraction: 0.1", 1))
	_, err = Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: "consent-rejects-2"})
	if !isInput(err) {
		t.Fatalf("err = %v, want an input error", err)
	}
	if first := "first: " + j.Consent.Table.Path + " line 3 column at: is not a usable time; "; !strings.Contains(err.Error(), first) {
		t.Errorf("error %q does not name %q", err, first)
	}
	noSecrets(t, "error", err.Error())
}

// TestJSONLateBadValuesAreRejected: DuckDB's JSON reader types a column from
// a sample of the first records (20,480); with ignore_errors a later value
// that does not fit that type became a silent NULL. A non-number in a
// measure and a non-time in a truncated column past the sample must be
// malformed rows, as they are early in the file and in CSV.
func TestJSONLateBadValuesAreRejected(t *testing.T) {
	const n = 30000
	var b strings.Builder
	for i := 1; i <= n; i++ {
		ts, rev := `"2026-01-05 10:00:00"`, "10.5"
		switch i {
		case n - 1:
			rev = `"SECRET-NUM"`
		case n:
			ts = `"SECRET-TS"`
		}
		fmt.Fprintf(&b, `{"user_id":"p%d","consent_marketing":true,"ts":%s,"revenue":%s}`+"\n", i, ts, rev)
	}
	y := strings.Replace(rejectsJob, "path: events.csv", "path: events.json, format: json", 1)
	j := testfixture.CSVJob(t, y, "", 10)
	if err := os.WriteFile(j.Input.Path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	defer testfixture.WithNoise(t, testnoise.None{})()
	res, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: "late-1"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := res.Report.Rejects
	want := []engine.RejectedRow{
		{Line: n - 1, Column: "revenue", Rule: engine.RuleNotFinite},
		{Line: n, Column: "ts", Rule: "gives no value for week"},
	}
	if got == nil || !slices.EqualFunc(got.Rows, want, sameRow) {
		t.Fatalf("rejects = %+v, want rows %v", got, want)
	}
	noSecrets(t, "run report", reportText(t, j.Ledger))
}
