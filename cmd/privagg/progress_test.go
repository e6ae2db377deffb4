package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/privagg/privagg/internal/progress"
)

// onTerminal runs privagg with stdout and stderr on a pseudo-terminal and
// returns its exit code and everything the terminal received.
func onTerminal(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(cliBinary(t), args...)
	cmd.Env = append(os.Environ(), cliChildEnv+"=1")
	cmd.Stdout, cmd.Stderr = tty, tty
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatal(err)
	}
	tty.Close()
	var out bytes.Buffer
	io.Copy(&out, ptmx) // ends with EIO once the child has closed the terminal
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, out.String()
}

// progressLineRE matches a progress line as drawn on the terminal.
var progressLineRE = regexp.MustCompile(`\r\x1b\[Kprivagg: (starting|reading input|bounding|releasing|noising|storing|publishing|generating)(, [^\r\n]*)?, \d+s`)

// On a terminal, run shows a progress line redrawn in place and erased
// before the result is printed; -q silences it.
func TestRunProgressOnTerminal(t *testing.T) {
	dir := setupRun(t)
	code, out := onTerminal(t, "--progress-interval", "1ms", "run", filepath.Join(dir, "job.yaml"))
	if code != 0 {
		t.Fatalf("exit %d: %q", code, out)
	}
	if !progressLineRE.MatchString(out) {
		t.Fatalf("no progress line on the terminal: %q", out)
	}
	last, result := strings.LastIndex(out, "privagg: "), strings.LastIndex(out, " published: ")
	if result < last || !strings.Contains(out[last:result], eraseLine) {
		t.Errorf("the progress line is not erased before the result: %q", out)
	}

	dir = setupRun(t)
	code, out = onTerminal(t, "-q", "--progress-interval", "1ms", "run", filepath.Join(dir, "job.yaml"))
	if code != 0 || strings.Contains(out, "privagg: ") || strings.Contains(out, eraseLine) || !strings.Contains(out, "published") {
		t.Errorf("-q: exit %d, %q; want the result and no progress line", code, out)
	}
}

// gen shows its phase and the rows it writes on a terminal.
func TestGenProgressOnTerminal(t *testing.T) {
	out := filepath.Join(t.TempDir(), "events.csv")
	code, term := onTerminal(t, "--progress-interval", "1ms", "gen", "--events", "200000", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %q", code, term)
	}
	if !strings.Contains(term, "privagg: generating, 200000 rows to write, ") {
		t.Errorf("no generating line: %q", term)
	}
}

// With --log-format json, run writes "progress" events with the
// documented keys, one every --progress-interval; not on a terminal and
// without json, nothing is added to stderr.
func TestRunProgressEventsJSON(t *testing.T) {
	dir := setupRun(t)
	code, _, stderr := cli(t, "--log-format", "json", "--progress-interval", "20ms", "run", filepath.Join(dir, "job.yaml"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	keys := []string{"phase", "elapsed_seconds", "unit", "done", "total", "rows", "rows_total", "seconds_left"}
	events := 0
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if rec["msg"] != "progress" {
			continue
		}
		events++
		if _, ok := rec["phase"].(string); !ok {
			t.Errorf("progress event without a phase: %v", rec)
		}
		if _, ok := rec["elapsed_seconds"].(float64); !ok {
			t.Errorf("progress event without elapsed_seconds: %v", rec)
		}
		for k := range rec {
			if k != "time" && k != "level" && k != "msg" && !strings.Contains(strings.Join(keys, " "), k) {
				t.Errorf("progress event key %q is not documented", k)
			}
		}
	}
	if events == 0 {
		t.Errorf("no progress event: %s", stderr)
	}

	dir = setupRun(t)
	code, _, stderr = cli(t, "--progress-interval", "1ms", "run", filepath.Join(dir, "job.yaml"))
	if code != 0 || stderr != "" {
		t.Errorf("not a terminal, text logs: exit %d, stderr %q; want nothing", code, stderr)
	}
	dir = setupRun(t)
	code, _, stderr = cli(t, "-q", "--log-format", "json", "--progress-interval", "1ms", "run", filepath.Join(dir, "job.yaml"))
	if code != 0 || strings.Contains(stderr, `"progress"`) {
		t.Errorf("-q with json: exit %d, stderr %q; want no progress event", code, stderr)
	}
}

func TestProgressIntervalMustBePositive(t *testing.T) {
	code, _, stderr := cli(t, "--progress-interval", "0s", "version")
	if code != 2 || !strings.Contains(stderr, "--progress-interval") {
		t.Errorf("exit %d, %q; want 2 naming the flag", code, stderr)
	}
}

func TestProgressLineAndAttrs(t *testing.T) {
	for _, tc := range []struct {
		name string
		snap progress.Snapshot
		line string
	}{
		{"nothing yet", progress.Snapshot{Elapsed: 300 * time.Millisecond}, "privagg: starting, 0s"},
		{"rows read", progress.Snapshot{Phase: "reading input", Rows: progress.RowCount{Done: 1200}, Elapsed: 65 * time.Second},
			"privagg: reading input, 1200 rows, 1m05s"},
		{"outputs with an estimate", progress.Snapshot{Phase: "noising", Unit: "outputs", Done: 2, Total: 5, Rows: progress.RowCount{Done: 10_000_000},
			Elapsed: 2*time.Hour + 3*time.Minute, Left: 40 * time.Second, HasLeft: true},
			"privagg: noising, outputs 2/5, 10000000 rows, 2h03m, about 40s left"},
		{"rows to write", progress.Snapshot{Phase: "generating", Rows: progress.RowCount{Total: 5000}, Elapsed: 3 * time.Second},
			"privagg: generating, 5000 rows to write, 3s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := progressLine(tc.snap); got != tc.line {
				t.Errorf("line = %q, want %q", got, tc.line)
			}
		})
	}
	attrs := progressAttrs(progress.Snapshot{Phase: "noising", Unit: "outputs", Done: 2, Total: 5, Rows: progress.RowCount{Done: 7},
		Elapsed: 1500 * time.Millisecond, Left: 3 * time.Second, HasLeft: true})
	want := []any{"phase", "noising", "elapsed_seconds", 1.5, "unit", "outputs", "done", 2, "total", 5, "rows", int64(7), "seconds_left", 3.0}
	if len(attrs) != len(want) {
		t.Fatalf("attrs = %v, want %v", attrs, want)
	}
	for i := range want {
		if attrs[i] != want[i] {
			t.Errorf("attrs[%d] = %v, want %v", i, attrs[i], want[i])
		}
	}
}

// A log record written while the progress line shows erases it first and
// draws it again after.
func TestTermLineKeepsLogsOffTheProgressLine(t *testing.T) {
	var b bytes.Buffer
	term := &termLine{w: &b}
	term.Write([]byte("before\n"))
	term.show("privagg: bounding, 1s")
	term.Write([]byte("level=WARN msg=x\n"))
	term.clear()
	want := "before\n" + eraseLine + "privagg: bounding, 1s" + eraseLine + "level=WARN msg=x\n" + "privagg: bounding, 1s" + eraseLine
	if b.String() != want {
		t.Errorf("terminal got %q, want %q", b.String(), want)
	}
}
