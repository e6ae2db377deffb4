package beamengine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/internal/verify"
	"github.com/privagg/privagg/pipeline"
)

// rejectsJob is the shared rejects job (verify.RejectsJob).
const rejectsJob = verify.RejectsJob

// rejectsCSV breaks every rule once or more, on known lines (the header is
// line 1). Lines 4, 10 and 13 are rejected by the CSV reader itself (too
// many columns; missing columns; a blank id and nothing else); line 11 is
// empty, which both engines skip without numbering it, so line 12's
// malformed value is listed as line 11 while line 13, a line the reader
// rejects, keeps its own number (docs/rejects.md). Values that must never
// be quoted hold SECRET.
const rejectsCSV = "user_id,consent_marketing,ts,revenue\n" +
	"u1,true,2026-01-05 10:00:00,10\n" +
	"u2,true,SECRET-TS-1,10\n" +
	"u3,true,2026-01-05 10:00:00,10,SECRET-EXTRA\n" +
	"u4,true,2026-01-05 10:00:00,SECRET-NUM\n" +
	"u5,SECRET-CONSENT,2026-01-05 10:00:00,10\n" +
	",true,2026-01-05 10:00:00,10\n" +
	"u7,true,2026-01-05 10:00:00,10\n" +
	"u8,true,SECRET-TS-2,SECRET-NUM-2\n" +
	"u9,true\n" +
	"\n" +
	"u10,true,2026-01-05 10:00:00,NaN\n" +
	"   \n"

// rejectsQuotedCSV has quoted values with line breaks (in a column the job
// does not read) before and between malformed rows: a record is one line
// however many lines its value spans, so the malformed rows are on lines
// 3 to 7 (the header is line 1).
const rejectsQuotedCSV = "user_id,consent_marketing,ts,revenue,note\n" +
	"u1,true,2026-01-05 10:00:00,10,\"first\nsecond\"\n" +
	"u2,true,SECRET-TS-1,10,plain\n" +
	"u3,true,2026-01-05 10:00:00,SECRET-NUM,\"a \"\"quoted\"\", word\n\nand more\"\n" +
	"u4,SECRET-CONSENT,2026-01-05 10:00:00,10,x\n" +
	"u5,true,SECRET-TS-2,10,\"three\nphysical\nlines\"\n" +
	"u6,true,2026-01-05 10:00:00,NaN,y\n"

// rejectsJSON is newline-delimited JSON: the line is the record number,
// blank and white-space lines are skipped without a number, and a line
// that is not JSON is a record without a privacy unit or consent value.
const rejectsJSON = `{"user_id":"u1","consent_marketing":"true","ts":"2026-01-05 10:00:00","revenue":"10"}
{"user_id":"u2","consent_marketing":"true","ts":"SECRET-TS-1","revenue":"10"}

{"user_id":"u4","consent_marketing":"true","ts":"2026-01-05 10:00:00","revenue":"SECRET-NUM"}
   
SECRET-NOT-JSON
{"user_id":"","consent_marketing":"SECRET-CONSENT","ts":"2026-01-05 10:00:00","revenue":"10"}
{"user_id":12345678901234567890123,"consent_marketing":"true","ts":"2026-01-05 10:00:00","revenue":"10"}
{"user_id":"u8","consent_marketing":"true","ts":"SECRET-TS-2","revenue":"SECRET-NUM-2"}
`

// rejectsParquetCSV becomes Parquet typed by DuckDB: user_id BIGINT (so a
// missing id breaks the integer rule), revenue DOUBLE with a NaN.
const rejectsParquetCSV = `user_id,consent_marketing,ts,revenue
1,true,2026-01-05 10:00:00,10
2,true,SECRET-TS-1,10
,true,2026-01-05 10:00:00,10
4,maybe,2026-01-05 10:00:00,NaN
5,true,2026-01-05 10:00:00,10
`

func tsRule(line int64) engine.RejectedRow {
	return engine.RejectedRow{Line: line, Column: "ts", Rule: "gives no value for week"}
}

func numRule(line int64) engine.RejectedRow {
	return engine.RejectedRow{Line: line, Column: "revenue", Rule: "is not a finite number"}
}

func consentRule(line int64) engine.RejectedRow {
	return engine.RejectedRow{Line: line, Column: "consent_marketing", Rule: "is not an accepted consent value"}
}

func unitRule(line int64) engine.RejectedRow {
	return engine.RejectedRow{Line: line, Column: "user_id", Rule: "is missing or blank (privacy unit)"}
}

func missingColumn(line int64, col string) engine.RejectedRow {
	return engine.RejectedRow{Line: line, Column: col, Rule: "csv: missing columns"}
}

func atRow(r engine.RejectedRow, row int64) engine.RejectedRow {
	r.Line, r.Row = 0, &row
	return r
}

// engineRuns are the rejects listing and the too-many-malformed error of
// one engine on one input.
type engineRuns struct {
	rejects *engine.Rejects
	tooMany error
}

// runBothEngines runs jobYAML over files on the embedded engine and on Beam
// (without noise), once as it is and once with max_reject_fraction 0.001.
func runBothEngines(t *testing.T, jobYAML string, files map[string]string) (embedded, beam engineRuns) {
	t.Helper()
	strict := strings.Replace(jobYAML, "max_reject_fraction: 0.9", "max_reject_fraction: 0.001", 1)
	restore := testfixture.WithNoise(t, testnoise.None{})
	res, err := pipeline.Run(context.Background(), setupJob(t, jobYAML, files, 10), pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: "rejects-1"})
	if err != nil {
		restore()
		t.Fatalf("embedded engine: %v", err)
	}
	embedded.rejects = res.Report.Rejects
	_, embedded.tooMany = pipeline.Run(context.Background(), setupJob(t, strict, files, 10), pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: "rejects-2"})
	restore()
	if res, err = runBeam(t, setupJob(t, jobYAML, files, 10), "rejects-1", pbeam.TestModeWithContributionBounding); err != nil {
		t.Fatalf("beam engine: %v", err)
	}
	beam.rejects = res.Report.Rejects
	_, beam.tooMany = runBeam(t, setupJob(t, strict, files, 10), "rejects-2", pbeam.TestModeWithContributionBounding)
	return embedded, beam
}

// checkListing checks that both engines list want's rows and totals, that
// the error for too many malformed rows names the same first rows on both,
// and that nothing quotes an input value.
func checkListing(t *testing.T, embedded, beam engineRuns, pick func(*engine.Rejects) *engine.Rejects, want *engine.Rejects) {
	t.Helper()
	for _, run := range []struct {
		name string
		r    engineRuns
	}{{"embedded", embedded}, {"beam", beam}} {
		got := pick(run.r.rejects)
		if got == nil {
			t.Errorf("%s engine: no rejects listed", run.name)
			continue
		}
		if got.Unavailable != "" {
			t.Errorf("%s engine: listing unavailable: %s", run.name, got.Unavailable)
		}
		if !slices.EqualFunc(baseNames(got.Rows), want.Rows, sameRow) {
			t.Errorf("%s engine: rows\n%v\nwant\n%v", run.name, got.Rows, want.Rows)
		}
		if !slices.Equal(got.Totals, want.Totals) {
			t.Errorf("%s engine: totals\n%v\nwant\n%v", run.name, got.Totals, want.Totals)
		}
		var input *engine.InputError
		if !errors.As(run.r.tooMany, &input) {
			t.Errorf("%s engine: max_reject_fraction 0.001: error %v, want an input error", run.name, run.r.tooMany)
			continue
		}
		msg, at := input.Error(), strings.Index(input.Error(), "first: ")
		for _, r := range want.Rows[:engine.MessageRejectedRows] {
			i := strings.Index(msg[max(at, 0):], r.String())
			if at < 0 || i < 0 {
				t.Errorf("%s engine: error %q does not name %q after the rows before it", run.name, msg, r)
				break
			}
			at += i + len(r.String())
		}
		if strings.Contains(input.Error(), "SECRET") || strings.Contains(fmt.Sprintf("%+v", run.r.rejects), "SECRET") {
			t.Errorf("%s engine: a value is quoted: %v / %+v", run.name, input, run.r.rejects)
		}
	}
}

// baseNames is rows with each file named by its base name: every run has
// its own folder.
func baseNames(rows []engine.RejectedRow) []engine.RejectedRow {
	out := slices.Clone(rows)
	for i := range out {
		if out[i].File != "" {
			out[i].File = filepath.Base(out[i].File)
		}
	}
	return out
}

// sameRow compares rejected rows by value (Row is a pointer).
func sameRow(a, b engine.RejectedRow) bool { return a.String() == b.String() }

func inputRows(r *engine.Rejects) *engine.Rejects { return r }

// TestRejectsListedAlikeOnBothEngines: on one corpus of malformed rows, the
// run reports of both engines list the same rows (line for CSV and JSON,
// 0-based row index for Parquet; column and rule; input order) and totals,
// and the errors for too many malformed rows name the same first rows.
func TestRejectsListedAlikeOnBothEngines(t *testing.T) {
	for _, tc := range []struct {
		name, input, data string
		want              engine.Rejects
	}{
		{"csv", "events.csv", rejectsCSV, engine.Rejects{
			Rows: []engine.RejectedRow{tsRule(3), {Line: 4, Rule: "csv: too many columns"}, numRule(5), consentRule(6), unitRule(7), tsRule(9), numRule(9),
				missingColumn(10, "revenue"), missingColumn(10, "ts"), numRule(11),
				missingColumn(13, "consent_marketing"), missingColumn(13, "revenue"), missingColumn(13, "ts")},
			Totals: []engine.RejectTotal{{Rule: "csv: too many columns", Rows: 1},
				{Column: "consent_marketing", Rule: "csv: missing columns", Rows: 1},
				{Column: "consent_marketing", Rule: "is not an accepted consent value", Rows: 1},
				{Column: "revenue", Rule: "csv: missing columns", Rows: 2}, {Column: "revenue", Rule: "is not a finite number", Rows: 3},
				{Column: "ts", Rule: "csv: missing columns", Rows: 2}, {Column: "ts", Rule: "gives no value for week", Rows: 2},
				{Column: "user_id", Rule: "is missing or blank (privacy unit)", Rows: 1}}}},
		{"csv with quoted line breaks", "events.csv", rejectsQuotedCSV, engine.Rejects{
			Rows: []engine.RejectedRow{tsRule(3), numRule(4), consentRule(5), tsRule(6), numRule(7)},
			Totals: []engine.RejectTotal{{Column: "consent_marketing", Rule: "is not an accepted consent value", Rows: 1},
				{Column: "revenue", Rule: "is not a finite number", Rows: 2}, {Column: "ts", Rule: "gives no value for week", Rows: 2}}}},
		{"json", "events.json", rejectsJSON, engine.Rejects{
			Rows: []engine.RejectedRow{tsRule(2), numRule(3), unitRule(4), consentRule(4), unitRule(5), consentRule(5), tsRule(7), numRule(7)},
			Totals: []engine.RejectTotal{{Column: "consent_marketing", Rule: "is not an accepted consent value", Rows: 2},
				{Column: "revenue", Rule: "is not a finite number", Rows: 2}, {Column: "ts", Rule: "gives no value for week", Rows: 2},
				{Column: "user_id", Rule: "is missing or blank (privacy unit)", Rows: 2}}}},
		{"parquet", "events.parquet", "", engine.Rejects{
			Rows: []engine.RejectedRow{atRow(tsRule(0), 1), atRow(engine.RejectedRow{Column: "user_id", Rule: "is missing (privacy unit)"}, 2),
				atRow(numRule(0), 3), atRow(consentRule(0), 3)},
			Totals: []engine.RejectTotal{{Column: "consent_marketing", Rule: "is not an accepted consent value", Rows: 1},
				{Column: "revenue", Rule: "is not a finite number", Rows: 1}, {Column: "ts", Rule: "gives no value for week", Rows: 1},
				{Column: "user_id", Rule: "is missing (privacy unit)", Rows: 1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if tc.name == "parquet" {
				data = parquetOf(t, rejectsParquetCSV)
			}
			y := strings.Replace(rejectsJob, "path: events.csv", "path: "+tc.input, 1)
			if tc.name == "json" {
				y = strings.Replace(y, "max_reject_fraction", "format: json, max_reject_fraction", 1)
			}
			embedded, beam := runBothEngines(t, y, map[string]string{tc.input: data})
			checkListing(t, embedded, beam, inputRows, &tc.want)
		})
	}
}

// TestRejectsListedAlikeAcrossSplits: two CSV files that Beam reads in
// many small ranges (lineSplitBytes), with more malformed rows than are
// listed: both engines list the first engine.MaxRejectedRows in input order
// (by file, then line) with their true lines, and the same totals. Both
// type the columns from the first rows (DuckDB's sniffer samples 20480
// rows), so a non-number in the second file's revenue is a value the CSV
// reader rejects.
func TestRejectsListedAlikeAcrossSplits(t *testing.T) {
	defer func(prev int64) { lineSplitBytes = prev }(lineSplitBytes)
	lineSplitBytes = 16 << 10
	// records writes rows from..to; a row whose ts is bad every tsEvery
	// rows, or whose revenue is bad every numEvery rows (0: never); bad
	// lists their lines (negative for revenue).
	records := func(from, to, tsEvery, numEvery int) (string, []int) {
		var b strings.Builder
		var bad []int
		b.WriteString("user_id,consent_marketing,ts,revenue\n")
		for i := from; i <= to; i++ {
			ts, rev := "2026-01-05 10:00:00", "1"
			switch {
			case i%tsEvery == 0:
				ts = "SECRET-TS"
				bad = append(bad, i-from+2)
			case numEvery > 0 && i%numEvery == 0:
				rev = "SECRET-NUM"
				bad = append(bad, -(i - from + 2))
			}
			fmt.Fprintf(&b, "p%d,true,%s,%s\n", i, ts, rev)
		}
		return b.String(), bad
	}
	part1, bad1 := records(1, 21000, 2500, 0)
	part2, bad2 := records(21001, 22200, 97, 89)
	y := strings.Replace(rejectsJob, "path: events.csv", "path: part-*.csv", 1)
	embedded, beam := runBothEngines(t, y, map[string]string{"part-1.csv": part1, "part-2.csv": part2})

	var want engine.Rejects
	var ts, cast int64
	for f, bad := range [][]int{bad1, bad2} {
		for _, l := range bad {
			r := tsRule(int64(l))
			if l < 0 {
				r = engine.RejectedRow{Line: int64(-l), Column: "revenue", Rule: "is not a finite number"}
				cast++
			} else {
				ts++
			}
			r.File = fmt.Sprintf("part-%d.csv", f+1)
			if len(want.Rows) < engine.MaxRejectedRows {
				want.Rows = append(want.Rows, r)
			}
		}
	}
	want.Totals = []engine.RejectTotal{{Column: "revenue", Rule: "is not a finite number", Rows: cast}, {Column: "ts", Rule: "gives no value for week", Rows: ts}}
	if len(bad1) >= engine.MaxRejectedRows || cast == 0 {
		t.Fatalf("corpus: %d malformed rows in part 1, %d cast errors: the listing must reach part 2", len(bad1), cast)
	}
	checkListing(t, embedded, beam, inputRows, &want)
}

// consentJob reads consent from a table, whose malformed records count
// against max_reject_fraction of the consent records.
const consentJob = `version: 1
name: consent_rejects
dataset: d
purpose: marketing
input: {path: events.csv, max_reject_fraction: 0.9}
privacy_unit: user_id
consent:
  table: {path: CONSENT, unit: user_id, purpose: purpose, granted: granted, at: at}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: all
    group_by: [channel]
    public_partitions: {channel: [email]}
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`

const consentEvents = "user_id,channel\nu1,email\nu2,email\nu3,email\nu4,email\nu5,email\n"

// consentCSV has malformed records on known lines: line 6 is for another
// purpose (neither counted nor listed) and line 7 is empty (skipped without
// a number, so line 8 is listed as line 7).
const consentCSV = "user_id,purpose,granted,at\n" +
	"u1,marketing,true,2026-01-01 00:00:00\n" +
	"u2,marketing,true,SECRET-TIME\n" +
	"u3,,true,2026-01-01\n" +
	",marketing,SECRET-GRANT,2026-01-01\n" +
	"u4,analytics,SECRET-GRANT-2,SECRET-TIME-2\n" +
	"\n" +
	"u5, Marketing ,true,\n"

const consentJSON = `{"user_id":"u1","purpose":"marketing","granted":true,"at":"2026-01-01 00:00:00"}
{"user_id":"u2","purpose":"marketing","granted":true,"at":"SECRET-TIME"}
{"user_id":"u3","purpose":null,"granted":true,"at":"2026-01-01"}
{"user_id":"","purpose":"marketing","granted":"SECRET-GRANT","at":"2026-01-01"}
{"user_id":"u4","purpose":"analytics","granted":"SECRET-GRANT-2","at":"SECRET-TIME-2"}

{"user_id":"u5","purpose":" Marketing ","granted":"true"}
`

// TestConsentTableRejectsListedAlike: malformed consent-table records (for
// the job's purpose, or without one) are listed in the run report's
// rejects.consent_table on both engines: the consent table's file, the line
// (CSV, JSON) or row index (Parquet), the column and the rule, never the
// value; the error for too many names the first ones.
func TestConsentTableRejectsListedAlike(t *testing.T) {
	at := func(line int64) engine.RejectedRow {
		return engine.RejectedRow{Line: line, Column: "at", Rule: "is not a usable time"}
	}
	purpose := func(line int64) engine.RejectedRow {
		return engine.RejectedRow{Line: line, Column: "purpose", Rule: "is missing or blank (purpose)"}
	}
	granted := func(line int64) engine.RejectedRow {
		return engine.RejectedRow{Line: line, Column: "granted", Rule: "is not an accepted consent value"}
	}
	totals := []engine.RejectTotal{{Column: "at", Rule: "is not a usable time", Rows: 2}, {Column: "granted", Rule: "is not an accepted consent value", Rows: 1},
		{Column: "purpose", Rule: "is missing or blank (purpose)", Rows: 1}, {Column: "user_id", Rule: "is missing or blank (privacy unit)", Rows: 1}}
	for _, tc := range []struct {
		name, file string
		data       func(t *testing.T) string
		rows       []engine.RejectedRow
	}{
		{"csv", "consent.csv", func(*testing.T) string { return consentCSV },
			[]engine.RejectedRow{at(3), purpose(4), unitRule(5), granted(5), at(7)}},
		{"json", "consent.json", func(*testing.T) string { return consentJSON },
			[]engine.RejectedRow{at(2), purpose(3), unitRule(4), granted(4), at(6)}},
		{"parquet", "consent.parquet", func(t *testing.T) string { return parquetOf(t, consentCSV) },
			[]engine.RejectedRow{atRow(at(0), 1), atRow(purpose(0), 2), atRow(unitRule(0), 3), atRow(granted(0), 3), atRow(at(0), 5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.Replace(consentJob, "CONSENT", tc.file, 1)
			embedded, beam := runBothEngines(t, y, map[string]string{"events.csv": consentEvents, tc.file: tc.data(t)})
			pick := func(r *engine.Rejects) *engine.Rejects {
				if r == nil {
					return nil
				}
				if len(r.Rows) > 0 || len(r.Totals) > 0 {
					t.Errorf("input rows listed for a clean input: %+v", r)
				}
				return r.ConsentTable
			}
			// Every listed record names the consent table's file.
			rows := slices.Clone(tc.rows)
			for i := range rows {
				rows[i].File = tc.file
			}
			checkListing(t, embedded, beam, pick, &engine.Rejects{Rows: rows, Totals: totals})
		})
	}
}

// rejectsUnbalancedCSV has a value on line 5 whose opening quote never
// closes (audit 2, L7): the embedded engine's sniffer read the whole file
// without quoting, keeping the quote in the person id (one person, two
// ids), and Beam's reader took every line after it into one record.
const rejectsUnbalancedCSV = "user_id,consent_marketing,ts,revenue\n" +
	"u1,true,2026-01-05 10:00:00,10\n" +
	"\"u2\",true,2026-01-05 10:00:00,10\n" +
	"u3,true,2026-01-05 10:00:00,10\n" +
	"\"SECRET-ID,true,2026-01-05 10:00:00,10\n" +
	"SECRET-ID,true,2026-01-05 10:00:00,10\n" +
	"u6,true,2026-01-05 10:00:00,10\n"

// TestUnbalancedQuoteRefusedAlikeOnBothEngines: a CSV value whose quote
// never closes makes both engines refuse the input (exit 4) with the same
// message, naming its line and the kind of problem and quoting nothing.
func TestUnbalancedQuoteRefusedAlikeOnBothEngines(t *testing.T) {
	files := map[string]string{"events.csv": rejectsUnbalancedCSV}
	restore := testfixture.WithNoise(t, testnoise.None{})
	_, embedded := pipeline.Run(context.Background(), setupJob(t, rejectsJob, files, 10), pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: "quote-1"})
	restore()
	_, beam := runBeam(t, setupJob(t, rejectsJob, files, 10), "quote-1", pbeam.TestModeWithContributionBounding)
	const want = "line 5: a quoted value that is never closed"
	for _, run := range []struct {
		name string
		err  error
	}{{"embedded", embedded}, {"beam", beam}} {
		var input *engine.InputError
		if !errors.As(run.err, &input) {
			t.Errorf("%s engine: error %v, want an input error", run.name, run.err)
			continue
		}
		if !strings.Contains(input.Error(), want) || strings.Contains(input.Error(), "SECRET") {
			t.Errorf("%s engine: error %q, want %q and no value", run.name, input.Error(), want)
		}
	}
	if embedded != nil && beam != nil && embedded.Error() != beam.Error() {
		t.Errorf("the engines refuse differently:\nembedded: %v\nbeam:     %v", embedded, beam)
	}
}
