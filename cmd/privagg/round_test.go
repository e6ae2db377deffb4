package main

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// roundJob releases a count, a sum and a mean per campaign into CSV.
const roundJob = `version: 1
name: cli_round
dataset: cli_round
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: ok}
privacy: {epsilon: 1, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: campaigns
    group_by: [campaign]
    public_partitions: {campaign: [a, b, c]}
    metrics:
      - {name: events, type: count}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 1000}
      - {name: basket, type: mean, column: revenue, min: 0, max: 1000}
output: {dir: out, format: csv}
ledger: ledger.duckdb
`

// roundEvents has 300 people over three campaigns with revenues that have
// many digits.
func roundEvents() string {
	var b strings.Builder
	b.WriteString("user_id,campaign,revenue,ok\n")
	for i := range 300 {
		b.WriteString("u" + strconv.Itoa(i) + "," + string(rune('a'+i%3)) + "," +
			strconv.FormatFloat(float64(i*37%997)+0.123456789, 'f', -1, 64) + ",true\n")
	}
	return b.String()
}

// significantDigits counts the significant digits of a CSV number field.
func significantDigits(t *testing.T, field string) int {
	t.Helper()
	v, err := strconv.ParseFloat(field, 64)
	if err != nil {
		t.Fatalf("field %q is not a number", field)
	}
	if v == 0 {
		return 1
	}
	s := strconv.FormatFloat(math.Abs(v), 'e', -1, 64)
	mant := strings.Replace(s[:strings.IndexByte(s, 'e')], ".", "", 1)
	return len(strings.TrimRight(mant, "0"))
}

// runRound runs job on roundEvents through the binary and returns the
// released CSV's header and rows.
func runRound(t *testing.T, job string) ([]string, [][]string) {
	t.Helper()
	path := writeJobDir(t, job, roundEvents())
	dir := filepath.Dir(path)
	if code, _, stderr := cli(t, "--ledger", filepath.Join(dir, "ledger.duckdb"), "budget", "set", "cli_round", "--epsilon", "5", "--reason", "test"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := cli(t, "run", path); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	f, err := os.Open(filepath.Join(dir, "out", "campaigns.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("campaigns.csv: %d rows, %v", len(rows), err)
	}
	return rows[0], rows[1:]
}

// Released CSV values carry the precision their interval supports: at most 6
// significant digits, half-widths 2, counts integers. output.round: none
// keeps every digit.
func TestRunRoundsReleasedValues(t *testing.T) {
	header, rows := runRound(t, roundJob)
	for _, row := range rows {
		for j, field := range row[1:] {
			col := header[j+1]
			n := significantDigits(t, field)
			switch {
			case n > 6:
				t.Errorf("%s = %s has %d significant digits, want at most 6", col, field, n)
			case strings.HasSuffix(col, "_ci95") && n > 2:
				t.Errorf("%s = %s has %d significant digits, want at most 2", col, field, n)
			case col == "events" && strings.ContainsAny(field, ".e"):
				t.Errorf("count %s = %s is not an integer", col, field)
			}
		}
	}

	header, rows = runRound(t, strings.Replace(roundJob, "format: csv}", "format: csv, round: none}", 1))
	long := 0
	for _, row := range rows {
		for j, field := range row[1:] {
			if header[j+1] == "basket" && significantDigits(t, field) > 6 {
				long++
			}
		}
	}
	if long == 0 {
		t.Errorf("output.round: none: no mean has more than 6 significant digits: %v", rows)
	}
}

// output.round takes interval or none.
func TestValidateOutputRound(t *testing.T) {
	path := writeJobDir(t, strings.Replace(roundJob, "format: csv}", "format: csv, round: ci}", 1), roundEvents())
	code, _, stderr := cli(t, "validate", path)
	if code != 2 || !strings.Contains(stderr, "output.round: ci must be one of interval, none") {
		t.Errorf("validate: exit %d, stderr %s; want exit 2 naming output.round and its values", code, stderr)
	}
}
