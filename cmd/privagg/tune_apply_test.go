package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/privagg/privagg/tune"
)

// TestTuneApplyRawStampsAndRunWarns: raw-mode --apply keeps the job file's
// lines it does not change byte for byte, writes clamp bounds with at most
// 2 significant digits, stamps the copy as tuned non-privately, and `run`
// warns on such a file (issue 21).
func TestTuneApplyRawStampsAndRunWarns(t *testing.T) {
	dir := tuneSetup(t)
	jobFile := filepath.Join(dir, "job.yaml")
	out := filepath.Join(dir, "tuned.yaml")
	if code, stdout, stderr := cli(t, "tune", jobFile, "--apply", out); code != 0 {
		t.Fatalf("tune --apply: exit %d\n%s\n%s", code, stdout, stderr)
	}
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !tune.RawTuned(text) {
		t.Errorf("the copy is not stamped %q:\n%s", tune.RawStamp, text)
	}
	for _, line := range []string{"# the tuning test's job\n", "  - name: by_campaign   # keys from the data\n", "input: {path: events.csv}\n"} {
		if !strings.Contains(string(text), line) {
			t.Errorf("the copy lost the line %q:\n%s", line, text)
		}
	}
	m := regexp.MustCompile(`max: ([0-9.e+]+)`).FindAllStringSubmatch(string(text), -1)
	if len(m) == 0 {
		t.Fatalf("no clamp max in the copy:\n%s", text)
	}
	for _, v := range m {
		if digits := strings.TrimLeft(strings.ReplaceAll(v[1], ".", ""), "0"); len(strings.TrimRight(digits, "0")) > 2 {
			t.Errorf("clamp max %s has more than 2 significant digits", v[1])
		}
	}
	_, _, stderr := cli(t, "run", out, "--dry-run")
	if !strings.Contains(stderr, "NON-PRIVATE") || !strings.Contains(stderr, "warning") {
		t.Errorf("run on a raw-tuned job does not warn:\n%s", stderr)
	}
	if _, _, stderr := cli(t, "run", jobFile, "--dry-run"); strings.Contains(stderr, tune.RawStamp) {
		t.Errorf("run warns on an untuned job:\n%s", stderr)
	}
}
