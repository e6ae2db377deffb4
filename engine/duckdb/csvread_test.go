package duckdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCSVLinesAcrossReaderBuffers: the CSV reader's buffer (csvBufferSize)
// is smaller than DuckDB's default, so a file of several buffers has many
// lines that start in one buffer and end in the next. Every line must still
// be read whole: quoted values holding line breaks, delimiters and quotes,
// and a line of 1.5 MB (below DuckDB's max_line_size), placed at and around
// the buffer boundaries.
func TestCSVLinesAcrossReaderBuffers(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user_id,g,v,ok,note\n")
	const filler = "a note about the event that takes room in the file and nothing more"
	rows, sum := 0, 0
	long := strings.Repeat("x", 1500_000)
	for b.Len() < 3*csvBufferSize {
		note := filler
		switch {
		case rows%997 == 0:
			note = "\"two lines,\nwith a \"\"quote\"\" and, commas\""
		case b.Len() > csvBufferSize-200 && b.Len() < csvBufferSize+200:
			note = "\"line\nbreaks\n\nacross the buffer\""
		case rows == 20_000:
			note = long
		}
		fmt.Fprintf(&b, "u%d,g%d,%d,true,%s\n", rows%500, rows%7, rows%5, note)
		sum += rows % 5
		rows++
	}
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, _ := openPlan(t, loadBoundingJob(t, dir, 5, 10, 0, 10), 1)
	got, err := eng.QueryRows(context.Background(), "SELECT count(*)::BIGINT, sum(__v0)::BIGINT, count(DISTINCT __unit)::BIGINT FROM "+viewClean)
	if err != nil {
		t.Fatal(err)
	}
	if n, s, u := toInt64(got[0][0]), toInt64(got[0][1]), toInt64(got[0][2]); n != int64(rows) || s != int64(sum) || u != 500 {
		t.Errorf("read %d rows summing to %d from %d people, want %d rows summing to %d from 500", n, s, u, rows, sum)
	}
	rej, err := eng.QueryRows(context.Background(), "SELECT count(*)::BIGINT FROM "+tabRejects)
	if err != nil {
		t.Fatal(err)
	}
	if n := toInt64(rej[0][0]); n != 0 {
		t.Errorf("%d lines rejected, want 0", n)
	}
}

// TestUnbalancedQuoteRefusedWithItsLine (audit 2, L7): one value whose
// opening quote never closes made DuckDB's sniffer read the whole file
// without quoting, so the quote stayed in that person's id (one person,
// two ids) and every quoted value of the file kept its quotes. The reader
// quotes with " (RFC 4180, as the Beam engine's reader does), so the input
// is refused, naming the line and the kind of problem, on both validate's
// and a run's path.
func TestUnbalancedQuoteRefusedWithItsLine(t *testing.T) {
	dir := t.TempDir()
	data := "user_id,g,v,ok\nu1,g1,1,true\n\"u2\",g1,1,true\nu3,g1,1,true\n\"s3cr3t,g1,1,true\ns3cr3t,g2,1,true\nu6,g1,1,true\n"
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	j := loadBoundingJob(t, dir, 1, 1, 0, 1)
	_, err := CheckInput(context.Background(), j)
	const want = "line 5: a quoted value that is never closed"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("CheckInput: %v, want an error naming %q and no value", err, want)
	}
}
