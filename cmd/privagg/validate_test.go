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
			args:       []string{"validate", filepath.Join("..", "..", "configs", "example.yaml")},
			wantCode:   pipeline.ExitOK,
			wantStdout: "ok: campaign_weekly: 3 outputs, 9 metrics\n",
		},
		{
			name:       "all problems at once",
			args:       []string{"validate", filepath.Join(corpus, "bad", "privacy.yaml")},
			wantCode:   pipeline.ExitConfig,
			wantStderr: []string{"privagg: " + filepath.Join(corpus, "bad", "privacy.yaml") + ": 10 problems:", "\n  privacy.k: 0 must be >= 1\n"},
		},
		{
			name:       "consent waiver warns",
			args:       []string{"validate", filepath.Join(corpus, "good", "consent_waived.yaml")},
			wantCode:   pipeline.ExitOK,
			wantStdout: "ok: waived: 1 outputs, 1 metrics\n",
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
			wantStderr: []string{"accepts 1 arg"},
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
