package duckdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
)

// scanCSV names the first line a strict CSV reader refuses and the kind of
// problem, and never a value of the file: each file below holds the secret
// "s3cr3t" on its bad line, which the message must not carry.
func TestScanCSV(t *testing.T) {
	for _, tc := range []struct {
		name, data, delim string
		header            bool
		want              string // "" for no problem
	}{
		{"clean LF", "a,b,c\n1,2,s3cr3t\n", ",", true, ""},
		{"clean CRLF", "a,b,c\r\n1,2,s3cr3t\r\n", ",", true, ""},
		{"clean CR", "a,b,c\r1,2,s3cr3t\r", ",", true, ""},
		{"no final line break", "a,b,c\n1,2,s3cr3t", ",", true, ""},
		{"blank lines skipped", "a,b,c\n\n1,2,s3cr3t\n\n", ",", true, ""},
		{"quoted line breaks and delimiters", "a,b,c\n1,\"x,\ny\"\"z\",s3cr3t\n2,3,4\n", ",", true, ""},
		{"multi-byte delimiter", "a§b§c\n1§2§s3cr3t\n", "§", true, ""},
		{"one extra field", "a,b,c\n1,2,3\n1,2,s3cr3t,4\n", ",", true, "line 3: 4 fields, the header has 3"},
		{"one field short", "a;b;c\n1;s3cr3t\n", ";", true, "line 2: 2 fields, the header has 3"},
		{"no header", "1,2,3\n1,s3cr3t\n", ",", false, "line 2: 2 fields, line 1 has 3"},
		{"count after a quoted line break", "a,b\n\"x\ny\",1\n1,2,s3cr3t\n", ",", true, "line 4: 3 fields, the header has 2"},
		{"several lines", "a,b\n1\n2\n3,4\n5,s3cr3t,6\n", ",", true, "line 2: 1 fields, the header has 2 (the first of 3 lines with a problem)"},
		{"CRLF line in an LF file", "a,b,c\n1,2,3\r\n4,5,s3cr3t\n", ",", true, "line 2: ends in CR LF, where the file's first line ends in LF (mixed line breaks"},
		{"LF line in a CRLF file", "a,b,c\r\n1,2,3\n4,5,s3cr3t\r\n", ",", true, "line 2: ends in LF, where the file's first line ends in CR LF"},
		// awk appending a field to the lines of a CRLF file: a CR in the
		// middle of each line (before the ragged count).
		{"CR inside a line", "a,b,c\r,d\n1,2,s3cr3t\r,x\n", ",", true, "line 1: a carriage return (CR) inside the line, where lines end in LF"},
		{"unclosed quote", "a,b\n1,2\n3,\"s3cr3t\n4,5\n", ",", true, "line 3: a quoted value that is never closed"},
		{"text after a quote", "a,b\n1,\"s3cr3t\"x\n", ",", true, "line 2: text after the closing quote of a value"},
		{"invalid UTF-8", "a,b\n1,s3cr3t\xff\n", ",", true, "line 2: not valid UTF-8"},
		{"structure before count", "a,b\n1,2,3\n4,s3cr3t\r\n", ",", true, "line 3: ends in CR LF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scanCSV(strings.NewReader(tc.data), tc.delim, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && got != nil:
				t.Errorf("problem %q, want none", got)
			case tc.want != "" && got == nil:
				t.Errorf("no problem, want %q", tc.want)
			case got != nil && !strings.HasPrefix(got.Error(), tc.want):
				t.Errorf("problem %q, want %q", got, tc.want)
			}
			if got != nil && strings.Contains(got.Error(), "s3cr3t") {
				t.Errorf("the message quotes a value: %q", got)
			}
		})
	}
}

func TestScanCSVLongLine(t *testing.T) {
	data := "a,b\n1," + strings.Repeat("x", csvMaxLineSize) + "\n"
	got, err := scanCSV(strings.NewReader(data), ",", true)
	if err != nil || got == nil || !strings.HasPrefix(got.Error(), "line 2: longer than 2000000 bytes") {
		t.Errorf("got %v, %v", got, err)
	}
}

// A CSV input that DuckDB cannot read (a CR LF line in an LF file, beyond
// the sniffer's sample, so describe passes and the read fails) is reported
// by validate's and a run's path with its line and kind: describeInput on
// a sniff failure, LocateReadError on a failed read. With several files the
// file is named.
func TestCSVReadErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user_id,g,v,ok\n")
	for i := range 30_000 {
		b.WriteString("u1,g1,1,true")
		if i == 25_000 {
			b.WriteString("\r")
		}
		b.WriteString("\n")
	}
	late := filepath.Join(dir, "late.csv")
	if err := os.WriteFile(late, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	early := filepath.Join(dir, "early.csv")
	if err := os.WriteFile(early, []byte("user_id,g,v,ok\nu1,g1,1,true\r\nu2,g2,2,false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	csvJob := func(path string) *job.Job {
		return &job.Job{Input: job.Input{Path: path, Format: job.InputCSV}}
	}

	// describe fails on the early file: the error names line 2.
	j := loadBoundingJob(t, dir, 1, 1, 0, 1)
	j.Input.Path = early
	_, err := CheckInput(ctx, j)
	if err == nil || !strings.Contains(err.Error(), "line 2: ends in CR LF") {
		t.Errorf("CheckInput: %v", err)
	}

	// A read that failed is located.
	failed := &engine.InputError{Reason: "cannot read the input", Err: scrub(errInvalid)}
	err = LocateReadError(ctx, csvJob(late), failed)
	if err == nil || err.Error() != "input rejected: cannot read the input: line 25002: ends in CR LF, where the file's first line ends in LF (mixed line breaks: convert the file to one kind, e.g. with dos2unix)" {
		t.Errorf("LocateReadError: %v", err)
	}
	err = LocateReadError(ctx, csvJob(filepath.Join(dir, "*.csv")), failed)
	if err == nil || !strings.Contains(err.Error(), early+" line 2: ends in CR LF") {
		t.Errorf("LocateReadError over two files: %v", err)
	}
	// A consent table's error is located in the consent table, never in
	// the input.
	consentJob := csvJob(late)
	consentJob.Consent.Table = &job.ConsentTable{Path: early}
	err = LocateReadError(ctx, consentJob, &engine.InputError{Reason: "cannot read consent.table", Err: scrub(errInvalid)})
	if err == nil || !strings.Contains(err.Error(), "cannot read consent.table: "+early+" line 2: ends in CR LF") {
		t.Errorf("LocateReadError of a consent table: %v", err)
	}
	// Nothing found, another kind of error, or an interrupted run: unchanged.
	clean := filepath.Join(dir, "clean.csv")
	if err := os.WriteFile(clean, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := LocateReadError(ctx, csvJob(clean), failed); !errors.Is(got, failed) {
		t.Errorf("clean file: %v", got)
	}
	if got := LocateReadError(ctx, csvJob(late), errInvalid); !errors.Is(got, errInvalid) {
		t.Errorf("not an input error: %v", got)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if got := LocateReadError(canceled, csvJob(late), failed); !errors.Is(got, failed) {
		t.Errorf("interrupted: %v", got)
	}
}

var errInvalid = &testError{"Invalid Input Error: line u1,DE,true"}

type testError struct{ s string }

func (e *testError) Error() string { return e.s }
