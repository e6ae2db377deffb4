package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// schedulerDir is the folder of the scheduler examples.
var schedulerDir = filepath.Join("..", "..", "examples", "scheduler")

// runJobScript runs examples/scheduler/run-job.sh on job with this test
// binary as privagg on PATH, and returns its exit code, stderr and the
// JSON result it saved.
func runJobScript(t *testing.T, dir, job string, env ...string) (int, string, map[string]any) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join(schedulerDir, "run-job.sh"))
	if err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(dir, "result.json")
	os.Remove(result)
	cmd := exec.Command("sh", script, job, result)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cliChildEnv+"=1", "PATH="+filepath.Dir(cliBinary(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("run-job.sh: %v", err)
		}
		code = exit.ExitCode()
	}
	var res map[string]any
	if data, err := os.ReadFile(result); err == nil {
		if err := json.Unmarshal(data, &res); err != nil {
			t.Fatalf("result.json: %v\n%s", err, data)
		}
	}
	return code, stderr.String(), res
}

// TestSchedulerShellExample runs the scheduler wrapper end to end on
// privagg gen data: a publication, a re-publication, a refusal for budget,
// a config error and a run that finds the lock held, each with its exit
// code and JSON result.
func TestSchedulerShellExample(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock (util-linux) is not installed; run-job.sh needs it")
	}
	dir := t.TempDir()
	job, err := os.ReadFile(filepath.Join(schedulerDir, "weekly.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "weekly.yaml"), string(job))
	if code, _, stderr := cli(t, "gen", "--out", filepath.Join(dir, "events.parquet"), "--events", "20000", "--users", "2000"); code != 0 {
		t.Fatalf("gen: %s", stderr)
	}
	if code, _, stderr := cli(t, "budget", "set", "web_events", "--ledger", filepath.Join(dir, "ledger.duckdb"),
		"--epsilon", "2", "--delta", "1e-6", "--reason", "weekly reports"); code != 0 {
		t.Fatalf("budget set: %s", stderr)
	}

	for _, step := range []struct {
		name   string
		job    string
		env    []string
		code   int
		status string
		class  any // nil for JSON null
	}{
		{"publish", "weekly.yaml", nil, 0, "published", nil},
		{"re-publish", "weekly.yaml", nil, 0, "re-published", nil},
		{"budget refused", "weekly.yaml", []string{"PRIVAGG_PRIVACY_EPSILON=5"}, 3, "refused", "budget_refused"},
		{"config error", "missing.yaml", nil, 2, "refused", "config_error"},
	} {
		t.Run(step.name, func(t *testing.T) {
			code, stderr, res := runJobScript(t, dir, step.job, step.env...)
			if code != step.code {
				t.Fatalf("exit %d, want %d: %s", code, step.code, stderr)
			}
			if res["status"] != step.status || res["error_class"] != step.class || res["exit_code"] != float64(step.code) {
				t.Errorf("status %v, error_class %v, exit_code %v; want %s, %v, %d",
					res["status"], res["error_class"], res["exit_code"], step.status, step.class, step.code)
			}
			// The publication reads the input and charges epsilon 1 of 2; the
			// re-publication reads nothing and charges nothing.
			if step.code == 0 && res["epsilon_remaining"] != float64(1) {
				t.Errorf("epsilon_remaining %v, want 1", res["epsilon_remaining"])
			}
			if step.status == "published" && res["rows_read"] != float64(20000) {
				t.Errorf("rows_read %v, want 20000", res["rows_read"])
			}
			if step.class == "budget_refused" && !strings.Contains(stderr, "ask the privacy officer") {
				t.Errorf("stderr does not say who decides: %s", stderr)
			}
		})
	}

	t.Run("lock held", func(t *testing.T) {
		f, err := os.OpenFile(filepath.Join(dir, "result.json.lock"), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		if code, stderr, _ := runJobScript(t, dir, "weekly.yaml"); code != 75 || !strings.Contains(stderr, "still holds") {
			t.Errorf("exit %d, want 75: %s", code, stderr)
		}
	})
}

// TestSchedulerPythonExamplesCompile checks that the Airflow DAG and the
// Dagster asset are valid Python (neither library is needed for that).
func TestSchedulerPythonExamplesCompile(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	for _, f := range []string{"airflow_dag.py", "dagster_asset.py"} {
		src := filepath.Join(schedulerDir, f)
		code := "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])"
		if out, err := exec.Command(python, "-c", code, src).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
}
