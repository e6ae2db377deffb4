package beamengine

import (
	"context"
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
	type numbered struct {
		line           string
		inFile, record int64
	}
	var want []numbered
	record := int64(0)
	for i, l := range strings.Split(content, "\n") {
		if l == "" || l == "\r" {
			continue
		}
		record++
		want = append(want, numbered{l, int64(i + 1), record})
	}
	if len(want) > engine.MaxRejectedRows {
		t.Fatalf("%d lines: more than are listed", len(want))
	}
	file := fileio.ReadableFile{Metadata: fileio.FileMetadata{Path: path, Size: int64(len(content))}}
	for size := int64(1); size <= int64(len(content)); size++ {
		r := &lineRanges{SplitBytes: size, Format: job.InputCSV}
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
				t.Fatalf("size %d: %v", size, err)
			}
			ranges = append(ranges, counts)
		}
		if len(entries) != 2*len(want) {
			t.Fatalf("size %d: %d lines read, want %d", size, len(entries)/2, len(want))
		}
		got := map[[2]string]int64{}
		for _, r := range locateRejects(entries, ranges, false) {
			got[[2]string{r.Column, r.Rule}] = r.Line
		}
		for _, w := range want {
			if rec, in := got[[2]string{w.line, "record"}], got[[2]string{w.line, "in file"}]; rec != w.record || in != w.inFile {
				t.Fatalf("size %d: line %q numbered %d (record) and %d (in file), want %d and %d", size, w.line, rec, in, w.record, w.inFile)
			}
		}
	}
}
