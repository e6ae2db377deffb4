package job

import (
	"strings"
	"testing"

	"github.com/privagg/privagg/privacy"
)

// TestLoadJobEnums: each choice of the job file accepts exactly the values
// of its type, and a refusal lists them.
func TestLoadJobEnums(t *testing.T) {
	clearEnv(t)
	load := func(from, to string) error {
		t.Helper()
		src := strings.Replace(minimalJob, from, to, 1)
		if src == minimalJob {
			t.Fatalf("%q is not in the job", from)
		}
		_, err := LoadJob(writeJob(t, src))
		return err
	}
	for _, f := range InputFormats {
		if err := load("input: {path: events.csv}", "input: {path: events.csv, format: "+string(f)+"}"); err != nil {
			t.Errorf("input.format %s: %v", f, err)
		}
	}
	for _, f := range OutputFormats {
		if err := load("output: {dir: out}", "output: {dir: out, format: "+string(f)+"}"); err != nil {
			t.Errorf("output.format %s: %v", f, err)
		}
	}
	for _, k := range []privacy.NoiseKind{privacy.Laplace, privacy.Gaussian} {
		if err := load("delta: 1e-6}", "delta: 1e-6, noise: "+string(k)+"}"); err != nil {
			t.Errorf("privacy.noise %s: %v", k, err)
		}
	}
	for _, tc := range []struct{ from, to, want string }{
		{"input: {path: events.csv}", "input: {path: events.csv, format: xlsx}", "input.format: xlsx must be one of csv, parquet, json"},
		{"input: {path: events.csv}", "input: {path: events.csv, format: CSV}", "input.format: CSV must be one of"},
		{"output: {dir: out}", "output: {dir: out, format: xlsx}", "output.format: xlsx must be one of parquet, csv, duckdb"},
		{"delta: 1e-6}", "delta: 1e-6, noise: uniform}", "privacy.noise: uniform must be laplace or gaussian"},
	} {
		err := load(tc.from, tc.to)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.to, err, tc.want)
		}
	}
	for path := range map[string]bool{"e.csv": true, "e.parquet": true, "e.ndjson.gz": true} {
		if f := formatFromExtension(path); !f.Valid() {
			t.Errorf("formatFromExtension(%q) = %q, not a valid input format", path, f)
		}
	}
}
