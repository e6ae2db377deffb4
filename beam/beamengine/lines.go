package beamengine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"

	"github.com/privagg/privagg/job"
)

// lineRanges reads the lines of CSV and NDJSON files in byte ranges as
// textio.Read does (a splittable DoFn: the same initial ranges, and a line
// belongs to the range it begins in), so a runner still spreads one large
// NDJSON file over workers; unlike textio it says where each line is: the range's
// first byte and the line's index in the range. Each range also reports how
// many lines it read (rangeLines), from which the driver numbers the lines
// of the few rows the rejects listing names: no second pass over the input
// and no per-row work beyond two counters. A DoFn embeds it and implements
// ProcessElement with scan.
type lineRanges struct {
	// SplitBytes is the size of the initial ranges (lineSplitBytes).
	SplitBytes int64
	// Format says which lines are blank (skipped and not numbered, as
	// DuckDB's readers skip them): CSV, an empty line; NDJSON, a line of
	// white space. A CSV line is a record: a quoted value may hold line
	// breaks (see csvRecordOpen).
	Format job.InputFormat
	// Delim is a CSV file's delimiter ("" is a comma).
	Delim string
}

// lineSplitBytes is the size of the ranges a CSV or NDJSON file is first
// split into: textio's block size. Tests make it small.
var lineSplitBytes int64 = 64 << 20

// CreateInitialRestriction is the whole file.
func (r *lineRanges) CreateInitialRestriction(file fileio.ReadableFile) offsetrange.Restriction {
	return offsetrange.Restriction{Start: 0, End: file.Metadata.Size}
}

// SplitRestriction splits a file into ranges of SplitBytes, merging a last
// range of a quarter of that or less into the one before (as textio does).
// A CSV file is one range: a range that began inside a quoted value with
// line breaks could not tell its records from the value's lines.
func (r *lineRanges) SplitRestriction(_ fileio.ReadableFile, rest offsetrange.Restriction) []offsetrange.Restriction {
	if r.Format == job.InputCSV {
		return []offsetrange.Restriction{rest}
	}
	splits := rest.SizedSplits(r.SplitBytes)
	if n := len(splits); n > 1 && splits[n-1].End-splits[n-1].Start <= r.SplitBytes/4 {
		splits[n-2].End = splits[n-1].End
		splits = splits[:n-1]
	}
	return splits
}

// RestrictionSize is the range's size in bytes.
func (r *lineRanges) RestrictionSize(_ fileio.ReadableFile, rest offsetrange.Restriction) float64 {
	return rest.Size()
}

// CreateTracker tracks a range by byte offset.
func (r *lineRanges) CreateTracker(rest offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(rest))
}

// linePos is where a line is: its file, its range and its index there.
type linePos struct {
	File   string
	Start  int64 // the first byte of the line's range
	Line   int64 // the line's index among the range's lines, from 0
	Record int64 // the line's index among the range's lines that are not blank, from 0
}

// first reports whether the line is its file's first line that is not
// blank.
func (p linePos) first() bool { return p.Start == 0 && p.Record == 0 }

// rangeLines counts the lines one range read: all of them, and those that
// are not blank. Table is tableInput or tableConsent.
type rangeLines struct {
	Table   int
	File    string
	Start   int64
	Lines   int64
	Records int64
}

// blank reports whether line is skipped without a number.
func (r *lineRanges) blank(line string) bool {
	if r.Format == job.InputCSV {
		return line == "" || line == "\r"
	}
	return strings.TrimSpace(line) == ""
}

// scan calls fn with every line that begins in rt's range (newline
// removed) and where it is, skipping blank lines, and returns the range's
// line counts for table. Lines that begin before the range and end in it
// belong to the range before; a line that begins in the range is read
// whole, even past its end.
func (r *lineRanges) scan(ctx context.Context, rt *sdf.LockRTracker, file fileio.ReadableFile, table int, fn func(line string, pos linePos) error) (rangeLines, error) {
	rest := rt.GetRestriction().(offsetrange.Restriction)
	counts := rangeLines{Table: table, File: file.Metadata.Path, Start: rest.Start}
	fd, err := file.Open(ctx)
	if err != nil {
		return counts, fmt.Errorf("open %s: %w", file.Metadata.Path, err)
	}
	defer fd.Close()
	rd := bufio.NewReader(fd)
	at := rest.Start
	if at > 0 {
		// Skip to the first line that begins at or after the range's start:
		// discard up to the byte before it, then the rest of that line.
		if _, err := rd.Discard(int(at - 1)); err != nil {
			return counts, fmt.Errorf("read %s: range starts past the end: %w", file.Metadata.Path, err)
		}
		skipped, err := rd.ReadString('\n')
		if err == io.EOF {
			rt.TryClaim(rest.End) // no line begins in the range
			return counts, nil
		}
		if err != nil {
			return counts, fmt.Errorf("read %s: %w", file.Metadata.Path, err)
		}
		at += int64(len(skipped)) - 1
	}
	for rt.TryClaim(at) {
		line, err := rd.ReadString('\n')
		if err != nil && err != io.EOF {
			return counts, fmt.Errorf("read %s: %w", file.Metadata.Path, err)
		}
		eof := err == io.EOF
		if eof && line == "" {
			rt.TryClaim(rest.End) // finish the range
			break
		}
		at += int64(len(line))
		// A CSV record whose quoted value holds line breaks goes on to the
		// next lines, as DuckDB's reader reads it (one record, one line
		// number).
		for r.Format == job.InputCSV && !eof && csvRecordOpen(line, r.Delim) {
			more, err := rd.ReadString('\n')
			if err != nil && err != io.EOF {
				return counts, fmt.Errorf("read %s: %w", file.Metadata.Path, err)
			}
			eof = err == io.EOF
			at += int64(len(more))
			line += more
		}
		line = strings.TrimSuffix(line, "\n")
		pos := linePos{File: counts.File, Start: counts.Start, Line: counts.Lines, Record: counts.Records}
		counts.Lines++
		if !r.blank(line) {
			counts.Records++
			if err := fn(line, pos); err != nil {
				return counts, err
			}
		}
		if eof {
			rt.TryClaim(rest.End)
			break
		}
	}
	return counts, nil
}

// csvRecordOpen reports whether CSV record text ends inside a quoted
// value, so that the next line belongs to the record too: a value is quoted
// when its first character is a double quote, and ends at the next quote
// that is not doubled; a quote inside an unquoted value is a character like
// any other. The record is scanned from its start each time a line is
// added, which costs only for records that span lines.
func csvRecordOpen(text, delim string) bool {
	if delim == "" {
		delim = ","
	}
	inQuote, start := false, true
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case inQuote && c == '"' && i+1 < len(text) && text[i+1] == '"':
			i++ // an escaped quote
		case inQuote && c == '"':
			inQuote = false
		case inQuote:
		case strings.HasPrefix(text[i:], delim):
			i += len(delim) - 1
			start = true
			continue
		case c == '"' && start:
			inQuote = true
		}
		start = false
	}
	return inQuote
}
