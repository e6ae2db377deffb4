package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// visitsJob releases a restaurant's visits per hour of day from times
// written like "9:30AM", on the public hours "09" .. "20". Its source
// columns have spaces and parentheses in their names.
const visitsJob = `version: 1
name: cli_visits
dataset: cli_visits
purpose: marketing
input: {path: events.csv, max_reject_fraction: 0.05}
privacy_unit: "Guest ID"
consent: {waived: "test data"}
columns:
  hour: {from: "Time entered", part: hour_of_day, format: "%I:%M%p"}
  weekday: {from: "Date (local)", part: day_of_week, format: "%d/%m/%Y"}
privacy: {epsilon: 4, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: visits_by_hour
    group_by: [hour]
    public_partitions: {hour: ["09", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"]}
    metrics: [{name: visits, type: count, max_per_unit: 1}]
  - name: visits_by_weekday
    group_by: [weekday]
    public_partitions: {weekday: [Mon, Tue, Wed, Thu, Fri, Sat, Sun]}
    metrics: [{name: visits, type: count, max_per_unit: 1}]
output: {dir: out, format: csv, round: none}
ledger: ledger.duckdb
`

// visitsEvents has one visit per guest: 100 guests in each hour from 9AM
// to 8PM, on days from Monday 7 to Sunday 13 December 2026, and one visit
// at a time that does not parse, on line badLine.
func visitsEvents() (events string, perHour map[string]int, badLine int) {
	var b strings.Builder
	b.WriteString("Guest ID,Time entered,Date (local),Party (size)\n")
	perHour = map[string]int{}
	line := 1
	for h := 9; h <= 20; h++ {
		for i := range 100 {
			h12, ampm := h%12, "AM"
			if h12 == 0 {
				h12 = 12
			}
			if h >= 12 {
				ampm = "PM"
			}
			guest := h*1000 + i
			fmt.Fprintf(&b, "g%d,%d:%02d%s,%02d/12/2026,%d\n", guest, h12, i%60, ampm, 7+i%7, 1+i%4)
			perHour[fmt.Sprintf("%02d", h)]++
			line++
		}
	}
	b.WriteString("g99999,25:61XM,07/12/2026,2\n")
	return b.String(), perHour, line + 1
}

func TestRunReleasesVisitsPerHourOfDay(t *testing.T) {
	events, perHour, badLine := visitsEvents()
	path := writeJobDir(t, visitsJob, events)
	dir := filepath.Dir(path)
	if code, _, stderr := cli(t, "--ledger", filepath.Join(dir, "ledger.duckdb"), "budget", "set", "cli_visits", "--epsilon", "5", "--reason", "test"); code != 0 {
		t.Fatal(stderr)
	}
	if code, stdout, stderr := cli(t, "validate", path); code != 0 {
		t.Fatalf("validate: exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, stderr := cli(t, "run", path, "--format", "json")
	if code != 0 {
		t.Fatalf("run: exit %d: %s%s", code, stdout, stderr)
	}
	var res struct {
		RowsRead     int64   `json:"rows_read"`
		RowsRejected int64   `json:"rows_rejected"`
		RunReport    *string `json:"run_report"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("run --format json: %v\n%s", err, stdout)
	}
	if res.RowsRejected != 1 || res.RowsRead != int64(badLine-1) {
		t.Errorf("rows read %d, rejected %d; want %d and 1", res.RowsRead, res.RowsRejected, badLine-1)
	}

	rows := readCSV(t, filepath.Join(dir, "out", "visits_by_hour.csv"))
	var hours []string
	for _, r := range rows[1:] {
		hours = append(hours, r[0])
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			t.Fatalf("visits %q: %v", r[1], err)
		}
		// Laplace noise of scale 1/epsilon per output (2 outputs, epsilon 4)
		// stays within 15 of the true 100 with probability 1 - 1e-6.
		if want := float64(perHour[r[0]]); v < want-15 || v > want+15 {
			t.Errorf("hour %s: %v visits, want about %v", r[0], v, want)
		}
	}
	want := []string{"09", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"}
	if !slices.Equal(hours, want) {
		t.Errorf("hours %v, want %v", hours, want)
	}
	var days []string
	for _, r := range readCSV(t, filepath.Join(dir, "out", "visits_by_weekday.csv"))[1:] {
		days = append(days, r[0])
	}
	slices.Sort(days)
	if want := []string{"Fri", "Mon", "Sat", "Sun", "Thu", "Tue", "Wed"}; !slices.Equal(days, want) {
		t.Errorf("weekdays %v, want %v", days, want)
	}

	// The run report locates the visit whose time does not parse, by line
	// and quoted column, never by value.
	if res.RunReport == nil {
		t.Fatal("no run report")
	}
	report, err := os.ReadFile(*res.RunReport)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), fmt.Sprintf(`"line": %d`, badLine)) || !strings.Contains(string(report), "Time entered") {
		t.Errorf("run report does not locate line %d, column Time entered:\n%s", badLine, report)
	}
	if strings.Contains(string(report), "25:61XM") {
		t.Error("run report quotes the malformed value")
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
