package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestParseCount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1000", 1000, true}, {"500k", 500_000, true}, {"1M", 1_000_000, true}, {"10m", 10_000_000, true},
		{"100M", 100_000_000, true}, {"1G", 1_000_000_000, true},
		{"", 0, false}, {"0", 0, false}, {"-5", 0, false}, {"1.5M", 0, false}, {"M", 0, false}, {"99999999G", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseCount(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseCount(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestLabel(t *testing.T) {
	for n, want := range map[int64]string{1_000_000: "1M", 100_000_000: "100M", 500_000: "500k", 1234: "1234", 2_000_000_000: "2G"} {
		if got := label(n); got != want {
			t.Errorf("label(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseFlagsErrors(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"--sizes", "1M,abc", "--reps", "0", "--threads", "-1"}, &stderr)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`--sizes: "abc" must be a positive count`, "--reps: 0 must be >= 1", "--threads: -1 must be >= 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func ms(walls ...time.Duration) []measurement {
	out := make([]measurement, len(walls))
	for i, w := range walls {
		out[i] = measurement{wall: w, peakRSS: int64(i+1) << 20}
	}
	return out
}

func TestMedianAndPeak(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []measurement
		want time.Duration
	}{
		{"empty", nil, 0},
		{"odd", ms(3*time.Second, 1*time.Second, 2*time.Second), 2 * time.Second},
		{"even", ms(4*time.Second, 1*time.Second, 2*time.Second, 3*time.Second), 2500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := medianWall(tc.in); got != tc.want {
				t.Errorf("median = %v, want %v", got, tc.want)
			}
			if got, want := peakRSS(tc.in), int64(len(tc.in))<<20; got != want {
				t.Errorf("peak = %d, want %d", got, want)
			}
		})
	}
}

func TestLoadAverage(t *testing.T) {
	if got := loadAverage("testdata/loadavg"); got != "0.52" {
		t.Errorf("loadAverage = %q, want 0.52", got)
	}
	if got := loadAverage("testdata/none"); got != "unknown" {
		t.Errorf("loadAverage of a missing file = %q, want unknown", got)
	}
}

func TestReadMachine(t *testing.T) {
	m := readMachine("testdata/cpuinfo", "testdata/meminfo", "testdata/osrelease")
	if m.cpuModel != "Intel(R) Xeon(R) Test CPU @ 2.00GHz" || m.memory != "23.5 GiB" || m.kernel != "6.1.0-test" {
		t.Errorf("readMachine = %+v", m)
	}
	m = readMachine("testdata/none", "testdata/none", "testdata/none")
	if m.cpuModel != "unknown" || m.memory != "unknown" || m.kernel != "unknown" {
		t.Errorf("readMachine of missing files = %+v, want unknowns", m)
	}
}

func goldenReport() string {
	m := machineInfo{cpus: 2, cpuModel: "Test CPU", memory: "23.5 GiB", kernel: "6.1.0-test", goVer: "go1.26.8",
		duckdb: "v1.5.5", privagg: "privagg dev (go1.26.8, linux/amd64)",
		loadStart: "0.15", loadEnd: "1.90", loadMax: "2.10"}
	c := config{shapes: shapes, sizes: []int64{1_000_000, 10_000_000, 100_000_000}, reps: 3, warmup: 1, seed: 1, eventsPerUser: 10, memoryLimit: "4GB"}
	rs := []sizeResult{
		{shape: "parquet", events: 1_000_000, plain: ms(200*time.Millisecond, 210*time.Millisecond, 190*time.Millisecond)}, // private not measured
		{shape: "parquet", events: 10_000_000, plain: ms(1200*time.Millisecond, 1300*time.Millisecond, 1250*time.Millisecond),
			private: ms(2000*time.Millisecond, 2100*time.Millisecond, 2050*time.Millisecond)},
		// Per event: private 24.6 s / 100M vs 2.05 s / 10M = 1.20x; plain
		// 15 s vs 1.25 s = 1.20x.
		{shape: "parquet", events: 100_000_000, plain: ms(15*time.Second, 14*time.Second, 16*time.Second),
			private: ms(24600*time.Millisecond, 24000*time.Millisecond, 25000*time.Millisecond)},
		// Per repetition 1.50, 1.60 and 2.00: median ratio 1.60, spread
		// 1.50-2.00.
		{shape: "csv", events: 10_000_000, plain: ms(2*time.Second, 3*time.Second, 1*time.Second),
			private: ms(3*time.Second, 4800*time.Millisecond, 2*time.Second)},
	}
	return renderReport(m, c, rs, time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC))
}

func TestRenderReportGolden(t *testing.T) {
	got := goldenReport()
	golden := filepath.Join("testdata", "report.golden.md")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("report differs from %s (-update to accept):\n%s", golden, got)
	}
}

func TestUpdateResults(t *testing.T) {
	report := goldenReport()
	for _, tc := range []struct {
		name, old string
		want      func(string) bool
	}{
		{"new file", "", func(s string) bool {
			return strings.HasPrefix(s, "# Benchmark results\n") && strings.HasSuffix(s, report)
		}},
		{"replaces the marked part, keeps the rest", "# R\n\nintro\n" + beginMarker + "\nold table\n" + endMarker + "\n\n## Notes\nkept\n",
			func(s string) bool { return s == "# R\n\nintro\n"+report+"\n## Notes\nkept\n" }},
		{"appends when there are no markers", "# R\nhand-written\n",
			func(s string) bool { return s == "# R\nhand-written\n\n"+report }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "RESULTS.md")
			if tc.old != "" {
				if err := os.WriteFile(path, []byte(tc.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := updateResults(path, report); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(string(got)) {
				t.Errorf("RESULTS.md =\n%s", got)
			}
			if err := updateResults(path, report); err != nil { // idempotent
				t.Fatal(err)
			}
			again, _ := os.ReadFile(path)
			if string(again) != string(got) {
				t.Errorf("second update changed the file:\n%s", again)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("temporary files left: %v", entries)
			}
		})
	}
}

func TestChildFailureIsClear(t *testing.T) {
	r := &runner{cfg: config{timeout: time.Minute}}
	_, _, err := r.child(t.Context(), "privagg run (1M events, repetition 2)", nil, "/bin/sh", "-c", "echo 'budget refused' >&2; exit 3")
	if err == nil {
		t.Fatal("no error for exit 3")
	}
	for _, want := range []string{"privagg run (1M events, repetition 2) failed", "exit status 3", "| budget refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	m, out, err := r.child(t.Context(), "ok", []string{"BENCH_TEST_X=yes"}, "/bin/sh", "-c", "echo $BENCH_TEST_X")
	if err != nil || strings.TrimSpace(string(out)) != "yes" || m.wall <= 0 || m.peakRSS <= 0 {
		t.Errorf("child = %+v, %q, %v; want output yes, wall and RSS measured", m, out, err)
	}
}

func TestScalingLines(t *testing.T) {
	small := sizeResult{events: 1_000_000, plain: ms(time.Second), private: ms(2 * time.Second)}
	big := sizeResult{events: 100_000_000, plain: ms(100 * time.Second), private: ms(300 * time.Second)}
	if got := scalingLines([]sizeResult{small, big}); got != nil {
		t.Errorf("without a 10M row: %q, want no line", got)
	}
	ref := sizeResult{events: 10_000_000, plain: ms(10 * time.Second), private: ms(20 * time.Second)}
	got := scalingLines([]sizeResult{small, ref, big})
	want := []string{"- Time per event at 100M, relative to 10M: privagg run 1.50x, plain 1.00x (linear scaling is 1.00x)"}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("scalingLines = %q, want %q", got, want)
	}
	// A side that was not measured has no factor.
	big.private = nil
	if got := scalingLines([]sizeResult{ref, big}); len(got) != 1 || !strings.Contains(got[0], "privagg run -,") {
		t.Errorf("scalingLines without the private side = %q", got)
	}
}
