package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runJSONSummary is what run --format json prints.
type runJSONSummary struct {
	ReleaseID string `json:"release_id"`
	Status    string `json:"status"`
	Charge    struct{ Epsilon, Delta float64 }
	Outputs   []struct {
		Name, File string
		Rows       int64
	}
	DurationSeconds  float64  `json:"duration_seconds"`
	RowsRead         int64    `json:"rows_read"`
	RowsRejected     int64    `json:"rows_rejected"`
	EpsilonRemaining *float64 `json:"epsilon_remaining"`
	DeltaRemaining   *float64 `json:"delta_remaining"`
	Report           *string  `json:"report"`
	RunReport        *string  `json:"run_report"`
	Error            string   `json:"error"`
	ErrorClass       *string  `json:"error_class"`
	ExitCode         int      `json:"exit_code"`
}

// runJSON runs `privagg run --format json path` and decodes its object,
// which must have every key a scheduler reads, null or not.
func runJSON(t *testing.T, path string, want int) runJSONSummary {
	t.Helper()
	code, stdout, stderr := cli(t, "run", "--format", "json", path)
	var s runJSONSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || code != want || s.ExitCode != want {
		t.Fatalf("run --format json: exit %d (want %d), %v\nstdout %s\nstderr %s", code, want, err, stdout, stderr)
	}
	var keys map[string]any
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"duration_seconds", "rows_read", "rows_rejected", "epsilon_remaining", "delta_remaining",
		"report", "run_report", "error_class", "exit_code", "status", "charge", "outputs"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("run --format json has no key %q:\n%s", k, stdout)
		}
	}
	if s.DurationSeconds <= 0 {
		t.Errorf("duration_seconds %v, want > 0", s.DurationSeconds)
	}
	return s
}

// run --format json prints one object: release id, status, charge, per
// output the file and the rows released, rows read and rejected, the budget
// left, the report paths and an error class; a refusal is an object too.
func TestRunFormatJSON(t *testing.T) {
	path := writeJobDir(t, runJob, goodEvents)
	ledger := filepath.Join(filepath.Dir(path), "ledger.duckdb")
	s := runJSON(t, path, 3)
	if s.Status != "refused" || !strings.Contains(s.Error, "has no budget") || s.ReleaseID == "" || s.Charge.Epsilon != 0 ||
		s.ErrorClass == nil || *s.ErrorClass != "budget_refused" || s.EpsilonRemaining != nil || s.RowsRead != 0 {
		t.Errorf("without a budget: %+v", s)
	}
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "r"); code != 0 {
		t.Fatal(stderr)
	}
	s = runJSON(t, path, 0)
	if s.Status != "published" || s.Charge.Epsilon != 1 || s.Charge.Delta != 0 || // public keys: no selection, no delta spent
		len(s.Outputs) != 1 ||
		s.Outputs[0].Name != "people" || s.Outputs[0].File != "people.csv" || s.Outputs[0].Rows != 2 {
		t.Errorf("published: %+v", s)
	}
	if s.ErrorClass != nil || s.RowsRead != 2 || s.RowsRejected != 0 ||
		s.EpsilonRemaining == nil || *s.EpsilonRemaining != 4 || s.DeltaRemaining == nil || *s.DeltaRemaining != 5e-6 {
		t.Errorf("published: error class, rows or budget left wrong: %+v", s)
	}
	for name, p := range map[string]*string{"report": s.Report, "run_report": s.RunReport} {
		if p == nil {
			t.Errorf("%s: null, want a path", name)
		} else if _, err := os.Stat(*p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if s.Report != nil && filepath.Base(*s.Report) != "REPORT.html" {
		t.Errorf("report %s, want the release's REPORT.html", *s.Report)
	}
	again := runJSON(t, path, 0)
	if again.Status != "re-published" || again.ReleaseID != s.ReleaseID || again.Charge.Epsilon != 0 || len(again.Outputs) != 1 ||
		again.EpsilonRemaining == nil || *again.EpsilonRemaining != 4 || again.Report == nil || again.ErrorClass != nil {
		t.Errorf("re-published: %+v", again)
	}
}

// Each refusal has the error class of its exit code.
func TestRunFormatJSONErrorClass(t *testing.T) {
	for _, tc := range []struct {
		name, job, events string
		code              int
		class             string
	}{
		{"config", strings.Replace(runJob, "epsilon: 1", "epsilon: -1", 1), goodEvents, 2, "config_error"},
		{"input", runJob, "email,user_id,campaign,ok\nx@y.z,,a,true\nw@y.z,,b,true\n", 4, "input_rejected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeJobDir(t, tc.job, tc.events)
			ledger := filepath.Join(filepath.Dir(path), "ledger.duckdb")
			if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "r"); code != 0 {
				t.Fatal(stderr)
			}
			s := runJSON(t, path, tc.code)
			if s.ErrorClass == nil || *s.ErrorClass != tc.class || s.Status != "refused" {
				t.Errorf("%+v, want error_class %s", s, tc.class)
			}
			// A job that does not load names no dataset: its budget is
			// not known. A rejected input charged nothing.
			if tc.class == "config_error" && s.EpsilonRemaining != nil {
				t.Errorf("config error: epsilon_remaining %v, want null", *s.EpsilonRemaining)
			}
			if tc.class == "input_rejected" && (s.RowsRead != 2 || s.RowsRejected != 2 || s.RunReport == nil ||
				s.EpsilonRemaining == nil || *s.EpsilonRemaining != 5) {
				t.Errorf("input rejected: %+v; want 2 rows read, 2 rejected, a run report and epsilon 5 left", s)
			}
		})
	}
}

func TestErrorClass(t *testing.T) {
	for code, want := range map[int]string{1: "runtime_error", 2: "config_error", 3: "budget_refused", 4: "input_rejected",
		130: "interrupted", 143: "interrupted"} {
		if got := errorClass(code); got != want {
			t.Errorf("errorClass(%d) = %q, want %q", code, got, want)
		}
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
