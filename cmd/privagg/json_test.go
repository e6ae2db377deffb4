package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// run --format json prints one object: release id, status, charge, and per
// output the file and the rows released; a refusal is an object too.
func TestRunFormatJSON(t *testing.T) {
	path := writeJobDir(t, runJob, goodEvents)
	ledger := filepath.Join(filepath.Dir(path), "ledger.duckdb")
	type summary struct {
		ReleaseID string `json:"release_id"`
		Status    string `json:"status"`
		Charge    struct{ Epsilon, Delta float64 }
		Outputs   []struct {
			Name, File string
			Rows       int64
		}
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	runJSON := func(want int) summary {
		t.Helper()
		code, stdout, stderr := cli(t, "run", "--format", "json", path)
		var s summary
		if err := json.Unmarshal([]byte(stdout), &s); err != nil || code != want || s.ExitCode != want {
			t.Fatalf("run --format json: exit %d (want %d), %v\nstdout %s\nstderr %s", code, want, err, stdout, stderr)
		}
		return s
	}
	if s := runJSON(3); s.Status != "refused" || !strings.Contains(s.Error, "has no budget") || s.ReleaseID == "" || s.Charge.Epsilon != 0 {
		t.Errorf("without a budget: %+v", s)
	}
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "r"); code != 0 {
		t.Fatal(stderr)
	}
	s := runJSON(0)
	if s.Status != "published" || s.Charge.Epsilon != 1 || s.Charge.Delta != 0 || // public keys: no selection, no delta spent
		len(s.Outputs) != 1 ||
		s.Outputs[0].Name != "people" || s.Outputs[0].File != "people.csv" || s.Outputs[0].Rows != 2 {
		t.Errorf("published: %+v", s)
	}
	again := runJSON(0)
	if again.Status != "re-published" || again.ReleaseID != s.ReleaseID || again.Charge.Epsilon != 0 || len(again.Outputs) != 1 {
		t.Errorf("re-published: %+v", again)
	}
}

// With --log-format json the final error is a JSON line as well.
func TestLogFormatJSONError(t *testing.T) {
	code, _, stderr := cli(t, "--log-format", "json", "run", "no-such-job.yaml")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var rec struct {
		Level    string `json:"level"`
		Msg      string `json:"msg"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rec); err != nil || code != 2 || rec.Level != "ERROR" || rec.ExitCode != 2 ||
		!strings.Contains(rec.Msg, "no-such-job.yaml: job file: cannot be read") {
		t.Errorf("exit %d, last stderr line %q (%v); want a JSON error line with exit_code 2", code, lines[len(lines)-1], err)
	}
}

// plan --format json uses snake_case keys throughout.
func TestPlanJSONSnakeCase(t *testing.T) {
	path := writeJobDir(t, strings.Replace(runJob, "public_partitions: {campaign: [a, b]}",
		"", 1), goodEvents)
	code, stdout, stderr := cli(t, "plan", "--format", "json", path)
	if code != 3 { // no ledger yet: the plan is printed and the run would be refused
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	var v any
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatal(err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if !snake.MatchString(k) && !strings.HasSuffix(path, ".ci95_by_people") {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		}
	}
	walk("", v)
	if !strings.Contains(stdout, `"spend": {`) || !strings.Contains(stdout, `"epsilon": 1`) {
		t.Errorf("plan json lacks spend.epsilon:\n%s", stdout)
	}
}
