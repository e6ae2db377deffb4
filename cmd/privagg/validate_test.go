package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/job"

	"github.com/privagg/privagg/pipeline"
)

func TestValidateCommand(t *testing.T) {
	for _, k := range job.EnvKeys {
		t.Setenv(job.EnvVar(k), "")
	}
	corpus := filepath.Join("..", "..", "job", "testdata", "configs")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr []string
	}{
		{
			name:       "example",
			args:       []string{"validate", "--no-input", filepath.Join("..", "..", "configs", "example.yaml")},
			wantCode:   pipeline.ExitOK,
			wantStdout: "ok: campaign_weekly: 3 outputs, 9 metrics; input not checked (--no-input)\n",
		},
		{
			name:       "all problems at once",
			args:       []string{"validate", filepath.Join(corpus, "bad", "privacy.yaml")},
			wantCode:   pipeline.ExitConfig,
			wantStderr: []string{"privagg: " + filepath.Join(corpus, "bad", "privacy.yaml") + ": 10 problems:", "\n  privacy.k: 0 must be >= 1\n"},
		},
		{
			name:       "consent waiver warns",
			args:       []string{"validate", "--no-input", filepath.Join(corpus, "good", "consent_waived.yaml")},
			wantCode:   pipeline.ExitOK,
			wantStdout: "ok: waived: 1 outputs, 1 metrics; input not checked (--no-input)\n",
			wantStderr: []string{"privagg: warning: consent is waived (\"public registry extract, no consent needed (legal ref. 2026-17)\")"},
		},
		{
			name:       "missing file",
			args:       []string{"validate", "no-such-job.yaml"},
			wantCode:   pipeline.ExitConfig,
			wantStderr: []string{"no-such-job.yaml: job file: cannot be read"},
		},
		{
			name:       "no argument",
			args:       []string{"validate"},
			wantCode:   pipeline.ExitConfig,
			wantStderr: []string{"privagg validate: missing JOB.yaml"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if stdout.String() != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tc.wantStdout)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr = %q, want it to contain %q", stderr.String(), w)
				}
			}
		})
	}
}

func TestValidateEnvOverride(t *testing.T) {
	for _, k := range job.EnvKeys {
		t.Setenv(job.EnvVar(k), "")
	}
	t.Setenv("PRIVAGG_PRIVACY_EPSILON", "0")
	var stdout, stderr bytes.Buffer
	code := run([]string{"validate", filepath.Join("..", "..", "configs", "example.yaml")}, &stdout, &stderr)
	if code != pipeline.ExitConfig || !strings.Contains(stderr.String(), "privacy.epsilon: 0 must be > 0") {
		t.Errorf("exit %d, stderr %q; want 2 and the epsilon problem", code, stderr.String())
	}
}

// validate looks at the input without reading its rows: the files exist,
// every column the job uses is there with a usable type, each miss under its
// key path with a suggestion; exit 2. --no-input skips these checks.
func TestValidateChecksTheInput(t *testing.T) {
	const events = "email,user_id,country,ok,day,amount\nx@y.z,u1,de,true,2026-01-05,3.5\nw@y.z,u2,fr,true,2026-01-06,4\n"
	job := strings.NewReplacer("campaign", "country", "{campaign: [a, b]}", "{country: [de, fr]}").Replace(runJob)
	for _, tc := range []struct {
		name    string
		job     string
		noFile  bool
		want    []string
		noInput int // exit code with --no-input
	}{
		{name: "good", job: job, want: []string{"ok: cli_run: 1 outputs, 1 metrics; input columns checked"}},
		{name: "group_by typo", job: strings.Replace(job, "country", "countri", 2), // group_by and public_partitions
			want: []string{`outputs[0].group_by[0]: "countri" is not a column of the input (input.path `, `events.csv); did you mean "country"?`}},
		{name: "consent column missing", job: strings.Replace(job, "{column: ok}", "{column: okay}", 1),
			want: []string{`consent.column: "okay" is not a column of the input`, `did you mean "ok"?`}},
		{name: "two misses at once", job: strings.NewReplacer("{column: ok}", "{column: consent}", "privacy_unit: user_id", "privacy_unit: userid").Replace(job),
			want: []string{"2 problems:", `privacy_unit: "userid" is not a column`, `did you mean "user_id"?`, `consent.column: "consent" is not a column of the input (input.path `, "it has amount, country, day, email, ok, user_id"}},
		{name: "metric on a date", job: strings.Replace(job, "metrics: [{name: people, type: count_units}]", "metrics: [{name: s, type: sum, column: day, min: 0, max: 5}]", 1),
			want: []string{`outputs[0].metrics[0].column: "day" has type DATE in the input: a metric needs numbers`}},
		{name: "no input file", job: job, noFile: true, want: []string{"input.path ", "none.csv matches no file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := tc.job
			if tc.noFile {
				j = strings.Replace(j, "events.csv", "none.csv", 1)
			}
			path := writeJobDir(t, j, events)
			code, stdout, stderr := cli(t, "validate", path)
			wantCode := 2
			if tc.name == "good" {
				wantCode = 0
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, stdout, stderr)
				}
			}
			if code != wantCode {
				t.Errorf("exit %d, want %d: %s", code, wantCode, stderr)
			}
			if code, _, stderr := cli(t, "validate", "--no-input", path); code != 0 {
				t.Errorf("--no-input: exit %d, want 0: %s", code, stderr)
			}
		})
	}
}
