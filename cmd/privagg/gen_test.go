package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenCommand(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring
		files    []string
		notFiles []string
	}{
		{"events and consent table",
			[]string{"gen", "--events", "1000", "--users", "50", "--seed", "4", "--out", filepath.Join(dir, "e.parquet"),
				"--consent-table", filepath.Join(dir, "c.csv")},
			0, "wrote 1000 rows (50 user ids) to " + filepath.Join(dir, "e.parquet") + " (parquet, ", "",
			[]string{"e.parquet", "c.csv"}, nil},
		{"users default to events/10", []string{"gen", "--events", "200", "--out", filepath.Join(dir, "d.jsonl")},
			0, "wrote 200 rows (20 user ids)", "", []string{"d.jsonl"}, nil},
		{"missing out", []string{"gen", "--events", "10"}, 2, "", "out: must be set", nil, nil},
		{"bad values, all named", []string{"gen", "--events", "0", "--consent-rate", "1.5", "--out", filepath.Join(dir, "x.txt")},
			2, "", "events: 0 must be in [1, ", nil, []string{"x.txt"}},
		{"unknown flag", []string{"gen", "--eventz", "10"}, 2, "", "unknown flag", nil, nil},
		{"missing folder is a runtime error", []string{"gen", "--events", "10", "--out", filepath.Join(dir, "no", "e.csv")},
			1, "", "gen: create temporary output", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.stderr)
			}
			for _, f := range tc.files {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
			for _, f := range tc.notFiles {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s was written", f)
				}
			}
		})
	}
	t.Run("bad consent rate message", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		run([]string{"gen", "--events", "10", "--consent-rate", "1.5", "--out", filepath.Join(dir, "y.csv")}, &stdout, &stderr)
		if !strings.Contains(stderr.String(), "consent_rate: 1.5 must be in [0, 1]") {
			t.Errorf("stderr = %q", stderr.String())
		}
	})
}
