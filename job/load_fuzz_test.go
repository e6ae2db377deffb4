package job

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadJobBytes checks that no job file makes the loader panic, that it
// fails only with a *ConfigError whose problems all name a key, and that a
// job it accepts keeps the invariants the rest of privagg relies on.
// The seeds are the config corpus and configs/example.yaml.
//
//	go test ./pipeline -run '^$' -fuzz FuzzLoadJobBytes -fuzztime 60s
func FuzzLoadJobBytes(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "configs", "*", "*.yaml"))
	seeds = append(seeds, filepath.Join("..", "configs", "example.yaml"))
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimalJob))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("privacy: 5\noutputs: {a: 1}\ncolumns: [1]\n"))
	for _, k := range EnvKeys {
		f.Setenv(EnvVar(k), "")
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		job, err := LoadJobBytes(data, dir)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %v (%T) is not a *ConfigError with problems", err, err)
			}
			for _, p := range ce.Problems {
				if p.Key == "" || p.Rule == "" {
					t.Fatalf("problem without key or rule: %#v", p)
				}
			}
			return
		}
		p := job.Privacy
		if !(p.Epsilon > 0) || math.IsInf(p.Epsilon, 0) || !(p.Delta >= 0 && p.Delta < 1) || p.K < 1 {
			t.Fatalf("accepted privacy parameters %+v", p)
		}
		if len(job.Outputs) == 0 {
			t.Fatal("accepted a job without outputs")
		}
		for _, o := range job.Outputs {
			if o.MaxPartitionsPerUnit < 1 || len(o.Metrics) == 0 || len(o.GroupBy) == 0 {
				t.Fatalf("accepted output %+v", o)
			}
			if !o.PublicKeysOnly() && p.Delta == 0 {
				t.Fatalf("accepted DP partition selection for %s with delta 0", o.Name)
			}
		}
		ids := newNameSet(job.Identifiers)
		for _, c := range job.InputColumns() {
			if ids.has(c) {
				t.Fatalf("InputColumns has identifier %q", c)
			}
		}
	})
}
