package beamengine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
)

// TestLineRangesNumberEveryLineOnce: however a file is cut into ranges
// (every range size from 1 byte to the whole file), scanning the ranges
// reads every line exactly once, and the driver's numbering from the
// ranges' line counts (locateRejects) gives each line its line in the file
// (ByLine) and its number among the lines that are not blank (what the
// listing uses for a row: blank lines are skipped without a number).
func TestLineRangesNumberEveryLineOnce(t *testing.T) {
	const content = "a,b\nx1,1\n\nx2,2\r\n\r\nx3,3\n   \nx4,4\n\n\nx5,5"
	path := filepath.Join(t.TempDir(), "f.csv")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	file := fileio.ReadableFile{Metadata: fileio.FileMetadata{Path: path, Size: int64(len(content))}}
	for _, format := range []job.InputFormat{job.InputCSV, job.InputJSON} {
		blank := func(l string) bool { return l == "" || l == "\r" }
		if format == job.InputJSON {
			blank = func(l string) bool { return strings.TrimSpace(l) == "" }
		}
		var want []numbered
		record := int64(0)
		for i, l := range strings.Split(content, "\n") {
			if blank(l) {
				continue
			}
			record++
			want = append(want, numbered{l, int64(i + 1), record})
		}
		if len(want) > engine.MaxRejectedRows {
			t.Fatalf("%d lines: more than are listed", len(want))
		}
		for size := int64(1); size <= int64(len(content)); size++ {
			checkNumbering(t, fmt.Sprintf("%s, ranges of %d bytes", format, size), &lineRanges{SplitBytes: size, Format: format}, file, want)
		}
	}
}

type numbered struct {
	line           string
	inFile, record int64
}

// checkNumbering scans file in r's ranges and checks that every line of
// want is read once, numbered in the file and among the records as want
// says.
func checkNumbering(t *testing.T, name string, r *lineRanges, file fileio.ReadableFile, want []numbered) {
	t.Helper()
	var entries []rejectAt
	var ranges []rangeLines
	for _, rest := range r.SplitRestriction(file, r.CreateInitialRestriction(file)) {
		counts, err := r.scan(context.Background(), sdf.NewLockRTracker(offsetrange.NewTracker(rest)), file, tableInput,
			func(line string, pos linePos) error {
				entries = append(entries, lineReject(tableInput, pos, false, 0, ruleRef{Column: line, Rule: "record"}))
				entries = append(entries, lineReject(tableInput, pos, true, 1, ruleRef{Column: line, Rule: "in file"}))
				return nil
			})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ranges = append(ranges, counts)
	}
	if len(entries) != 2*len(want) {
		t.Fatalf("%s: %d lines read, want %d", name, len(entries)/2, len(want))
	}
	got := map[[2]string]int64{}
	for _, r := range locateRejects(entries, ranges, false) {
		got[[2]string{r.Column, r.Rule}] = r.Line
	}
	for _, w := range want {
		if rec, in := got[[2]string{w.line, "record"}], got[[2]string{w.line, "in file"}]; rec != w.record || in != w.inFile {
			t.Fatalf("%s: line %q numbered %d (record) and %d (in file), want %d and %d", name, w.line, rec, in, w.record, w.inFile)
		}
	}
}

// TestCSVRecordsSpanLines: a CSV record whose quoted value holds line
// breaks is read as one record with one number, as DuckDB's reader reads
// it: the lines after it keep the numbers DuckDB gives them, a doubled quote
// or a quote inside an unquoted value opens nothing, and a CSV file is one
// range, since a range that began inside such a value could not tell.
func TestCSVRecordsSpanLines(t *testing.T) {
	records := []string{
		"id;note",
		"1;\"two\nlines\"",
		"2;plain",
		"3;\"a \"\"quoted\"\"; word\n\nand \"\"more\"\"\r\nlines\"",
		"4;5\" tall",
		"5;last",
	}
	content := strings.Join(records, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "f.csv")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	var want []numbered
	for i, r := range records {
		want = append(want, numbered{r, int64(i + 1), int64(i + 1)})
	}
	file := fileio.ReadableFile{Metadata: fileio.FileMetadata{Path: path, Size: int64(len(content))}}
	r := &lineRanges{SplitBytes: 8, Format: job.InputCSV, Delim: ";"}
	if n := len(r.SplitRestriction(file, r.CreateInitialRestriction(file))); n != 1 {
		t.Errorf("a CSV file is split into %d ranges, want 1", n)
	}
	checkNumbering(t, "csv", r, file, want)
	for _, tc := range []struct {
		text string
		open bool
	}{
		{`a,"b`, true}, {`a,"b""`, true}, {`a,"b"""`, false}, {`a,b"c`, false}, {`"a,b`, true}, {`"a""`, true}, {`a,""`, false},
	} {
		if got := csvRecordOpen(tc.text, ","); got != tc.open {
			t.Errorf("csvRecordOpen(%q) = %v, want %v", tc.text, got, tc.open)
		}
	}
}
