package main

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// interruptJob reads what privagg gen writes; its spill folder is in the
// test's folder so the test can see that nothing is left in it.
const interruptJob = `version: 1
name: intr
dataset: gen_events
purpose: marketing
input: {path: events.parquet}
privacy_unit: user_id
identifiers: [email, phone, ip]
consent: {column: consent_marketing}
privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 2, memory_limit: 200MB, temp_dir: spill, threads: 2}
outputs:
  - name: by_campaign
    group_by: [campaign, country]
    metrics: [{name: events, type: count}, {name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger/l.duckdb
`

// TestRunInterrupted is issue 22 item 9 through the binary: SIGINT or
// SIGTERM while a run reads a bigger input exits 130 or 143 (not 4), says
// so, charges nothing, leaves no temporary file (spill folder, output.dir,
// release store) and the job runs afterwards.
func TestRunInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a million events; skipped with -short")
	}
	dir := t.TempDir()
	if code, _, stderr := cli(t, "gen", "--events", "1000000", "--users", "100000", "--seed", "1", "--out", filepath.Join(dir, "events.parquet")); code != 0 {
		t.Fatalf("gen: %s", stderr)
	}
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(interruptJob), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "ledger"), 0o750); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger", "l.duckdb")
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "gen_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatal(stderr)
	}
	before := treeNames(t, dir)
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGINT, "SIGINT", 130},
		{syscall.SIGTERM, "SIGTERM", 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(cliBinary(t), "run", "--verbose", "--release-id", "intr-"+strings.ToLower(tc.name), job)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), cliChildEnv+"=1")
			stderrPipe, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			sc := bufio.NewScanner(stderrPipe)
			for sc.Scan() {
				stderr.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), `msg="reading input"`) {
					time.Sleep(300 * time.Millisecond) // well inside the read of a million rows
					if err := cmd.Process.Signal(tc.sig); err != nil {
						t.Fatal(err)
					}
				}
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
				t.Fatalf("run: %v, want exit %d\n%s", err, tc.code, stderr.String())
			}
			if want := "privagg: interrupted by " + tc.name + " (nothing was charged or written)"; !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
			// Nothing left but the run report: no spill file, no output, no
			// release store, no temporary file.
			var added []string
			for p := range treeNames(t, dir) {
				if !before[p] && !strings.HasPrefix(p, filepath.Join("ledger", "privagg-runs")) {
					added = append(added, p)
				}
			}
			if len(added) > 0 {
				t.Errorf("the interrupted run left %v", added)
			}
			if code, stdout, _ := cli(t, "--ledger", ledger, "budget", "show", "gen_events", "--format", "json"); code != 0 ||
				!strings.Contains(stdout, `"epsilon_spent": 0,`) {
				t.Errorf("budget after the interrupted run: %s", stdout)
			}
		})
	}
	if code, stdout, stderr := cli(t, "run", job); code != 0 || !strings.Contains(stdout, "published") {
		t.Errorf("run after the interruptions: exit %d\n%s%s", code, stdout, stderr)
	}
}

// treeNames returns every path under dir, relative to it, as a set.
func treeNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		names[rel] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}
