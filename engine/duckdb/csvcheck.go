package duckdb

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
)

// Where a CSV file breaks the reader, in words that quote no value. DuckDB's
// own messages for a file it cannot read quote the offending line, so they
// are withheld (scrub) and leave a user with "Invalid Input Error". When a
// read fails, the file is scanned here, outside DuckDB, for the first line a
// strict reader refuses, and that line's number and the kind of problem are
// reported instead: "line 3: 4 fields, the header has 3". The scan runs only
// after a failure (or, in DescribeFile, after a sniff that found one column
// where the header has several), so a clean input pays nothing.

// CSVLineError locates a problem of a CSV file by line and kind. It never
// carries a value of the file.
type CSVLineError struct {
	// File names the file when the input has several; "" otherwise.
	File string
	// Line is the 1-based line of the file (as an editor counts: a quoted
	// value holding line breaks spans several) where the problem starts.
	Line int64
	// Kind says what is wrong, e.g. "4 fields, the header has 3".
	Kind string
	// Lines is the number of lines with a problem of any kind in the file.
	Lines int64
}

func (e *CSVLineError) Error() string {
	msg := fmt.Sprintf("line %d: %s", e.Line, e.Kind)
	if e.File != "" {
		msg = e.File + " " + msg
	}
	if e.Lines > 1 {
		msg += fmt.Sprintf(" (the first of %d lines with a problem)", e.Lines)
	}
	return msg
}

// csvDelimiters are the delimiters guessed from a header line, in the order
// DuckDB's sniffer tries them.
var csvDelimiters = []byte{',', '|', ';', '\t'}

// lineEnding is how a CSV line ends.
type lineEnding int

const (
	endNone lineEnding = iota // the last line, without a line break
	endLF
	endCRLF
	endCR
)

func (e lineEnding) String() string {
	return [...]string{"no line break", "LF", "CR LF", "CR"}[e]
}

// csvScan is the state of a scan of one CSV file (scanCSV).
type csvScan struct {
	delim  []byte
	header bool
	ending lineEnding // the file's line break, from its first one

	line, start int64 // the current line; the line the current record starts on
	fields      int   // delimiters seen in the current record
	width       int   // the first record's fields; 0 until it is read
	bytes       int   // bytes of the current line
	empty       bool  // the current record has no byte yet
	rec         []byte

	structural, count *CSVLineError // the first problem of each class
	lines             int64         // lines with a problem
	flagged           int64         // the last line counted in lines
}

// scanCSV reads a CSV file with delimiter delim and the quote and escape
// character " (RFC 4180, as the run's reader reads it) and returns its first
// problem, or nil. Problems of the file's structure (line endings, quotes,
// encoding, line length) come before a wrong number of fields: a strict
// reader stops at the former, and a wrong count after one of them may only
// be its consequence. The file's line break is its first one (LF, CR LF or
// CR); blank lines are skipped, as DuckDB skips them.
func scanCSV(r io.Reader, delim string, header bool) (*CSVLineError, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	s := &csvScan{delim: []byte(delim), header: header, line: 1, start: 1, empty: true}
	s.ending = firstLineEnding(br)
	inQuotes, afterQuote, fieldStart := false, false, true
	for {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if c == '\n' || c == '\r' {
			end := endLF
			if c == '\r' {
				end = endCR
				if next, err := br.Peek(1); err == nil && next[0] == '\n' {
					_, _ = br.ReadByte()
					end = endCRLF
				}
			}
			switch {
			case inQuotes:
				if end != endCR || s.ending == endCR {
					s.line++ // a line break inside a quoted value
					s.bytes = 0
				}
			case end == endCR && s.ending != endCR:
				s.problem(true, s.line, "a carriage return (CR) inside the line, where lines end in "+s.ending.String()+
					" (edited on another system? convert the file to one kind of line break, e.g. with dos2unix)")
				s.empty = false
				s.bytes++
			default:
				afterQuote, fieldStart = false, true
				s.endRecord(end)
			}
			continue
		}
		if !inQuotes && c == s.delim[0] && s.isDelim(br) {
			s.fields++
			s.bytes += len(s.delim)
			s.empty, afterQuote, fieldStart = false, false, true
			continue
		}
		s.bytes++
		if s.bytes == csvMaxLineSize+1 {
			s.problem(true, s.line, fmt.Sprintf("longer than %d bytes, the reader's line limit", csvMaxLineSize))
		}
		if len(s.rec) < csvMaxLineSize {
			s.rec = append(s.rec, c)
		}
		s.empty = false
		switch {
		case inQuotes && c == '"':
			inQuotes, afterQuote = false, true
		case inQuotes:
		case afterQuote && c == '"':
			inQuotes, afterQuote = true, false // "" inside a quoted value
		case afterQuote:
			s.problem(true, s.line, "text after the closing quote of a value")
			afterQuote = false
		case fieldStart && c == '"':
			inQuotes = true
		}
		fieldStart = false
	}
	if inQuotes {
		s.problem(true, s.start, "a quoted value that is never closed")
	} else if !s.empty {
		s.endRecord(endNone)
	}
	first := s.structural
	if first == nil {
		first = s.count
	}
	if first != nil {
		first.Lines = s.lines
	}
	return first, nil
}

// firstLineEnding is the first line break of the buffered start of a file
// (64 KiB): CR LF or LF at its first LF, else CR when it has a CR, else
// endNone.
func firstLineEnding(br *bufio.Reader) lineEnding {
	head, _ := br.Peek(br.Size())
	switch i := bytes.IndexByte(head, '\n'); {
	case i > 0 && head[i-1] == '\r':
		return endCRLF
	case i >= 0:
		return endLF
	case bytes.IndexByte(head, '\r') >= 0:
		return endCR
	}
	return endNone
}

// isDelim reports whether the delimiter's first byte, just read, starts the
// whole delimiter (a multi-byte character), and reads the rest of it.
func (s *csvScan) isDelim(br *bufio.Reader) bool {
	if len(s.delim) == 1 {
		return true
	}
	rest, err := br.Peek(len(s.delim) - 1)
	if err != nil || !bytes.Equal(rest, s.delim[1:]) {
		return false
	}
	_, _ = br.Discard(len(rest))
	return true
}

// endRecord ends the current record at a line break end (endNone at the end
// of the file): it checks the line break against the file's, the encoding
// and the number of fields.
func (s *csvScan) endRecord(end lineEnding) {
	if !s.empty {
		if end != endNone && end != s.ending {
			s.problem(true, s.line, fmt.Sprintf("ends in %s, where the file's first line ends in %s (mixed line breaks: convert the file to one kind, e.g. with dos2unix)",
				end, s.ending))
		}
		if !utf8.Valid(s.rec) {
			s.problem(true, s.line, "not valid UTF-8 (the reader reads UTF-8: convert the file, e.g. with iconv)")
		}
		fields := s.fields + 1
		switch {
		case s.width == 0:
			s.width = fields
		case fields != s.width:
			ref := "the header has"
			if !s.header {
				ref = "line 1 has"
			}
			s.problem(false, s.start, fmt.Sprintf("%d fields, %s %d", fields, ref, s.width))
		}
	}
	s.line++
	s.start, s.fields, s.bytes, s.empty, s.rec = s.line, 0, 0, true, s.rec[:0]
}

// problem records a problem at line: the first of its class (structural
// or a field count) is kept, and every line with a problem is counted once.
func (s *csvScan) problem(structural bool, line int64, kind string) {
	e := &CSVLineError{Line: line, Kind: kind}
	if structural && s.structural == nil {
		s.structural = e
	}
	if !structural && s.count == nil {
		s.count = e
	}
	if s.flagged != line {
		s.lines++
		s.flagged = line
	}
}

// guessDelimiter returns the candidate delimiter (csvDelimiters) that
// occurs most often in the file's first line, or "" when none does.
func guessDelimiter(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if i := bytes.IndexAny(head, "\r\n"); i >= 0 {
		head = head[:i]
	}
	best, most := "", 0
	for _, d := range csvDelimiters {
		if n := bytes.Count(head, []byte{d}); n > most {
			best, most = string(d), n
		}
	}
	return best
}

// locateCSVProblem scans the CSV files paths (in order) for the first
// problem (scanCSV) and returns it, naming the file when there are several;
// nil when there is none. An error is a file it cannot read (or ctx done):
// the callers then keep the error they had.
func locateCSVProblem(ctx context.Context, paths []string, delim string, header bool) (*CSVLineError, error) {
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		e, err := scanCSV(f, delim, header)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", p, err)
		}
		if e != nil {
			if len(paths) > 1 {
				e.File = p
			}
			return e, nil
		}
	}
	return nil, nil
}

// inputCSVProblem is locateCSVProblem over the job's CSV input files, or,
// when consent is set, over its CSV consent table (nil for another format).
func inputCSVProblem(ctx context.Context, j *job.Job, consent bool) (*CSVLineError, error) {
	if consent {
		t := j.Consent.Table
		if t == nil || job.ConsentFormat(t.Path) != job.InputCSV {
			return nil, nil
		}
		// The consent table's reader sniffs its delimiter.
		return locateCSVProblem(ctx, []string{t.Path}, cmp.Or(guessDelimiter(t.Path), ","), true)
	}
	if j.Input.Format != job.InputCSV {
		return nil, nil
	}
	paths, err := filepath.Glob(j.Input.Path)
	if err != nil {
		return nil, fmt.Errorf("input.path %s: %w", j.Input.Path, err)
	}
	return locateCSVProblem(ctx, paths, cmp.Or(j.Input.CSV.Delimiter, ","), j.Input.CSV.Header == nil || *j.Input.CSV.Header)
}

// LocateReadError turns an *engine.InputError that hides DuckDB's reason
// for not reading j's CSV input or consent table (which would quote the
// file) into one that names the first line a strict reader refuses and the
// kind of problem, by scanning that file. Any other error, or one whose
// cause the scan does not find, is returned as it is. An interrupted run
// (ctx done) is not scanned.
func LocateReadError(ctx context.Context, j *job.Job, err error) error {
	var ie *engine.InputError
	if !errors.As(err, &ie) || ie.Err == nil || ie.Rejected > 0 || ctx.Err() != nil {
		return err
	}
	var located *CSVLineError
	if errors.As(ie.Err, &located) {
		return err
	}
	consent := strings.Contains(ie.Reason, "consent.table")
	if p, perr := inputCSVProblem(ctx, j, consent); perr == nil && p != nil {
		if consent {
			p.File = j.Consent.Table.Path
		}
		out := *ie
		out.Err = p
		return &out
	}
	return err
}
