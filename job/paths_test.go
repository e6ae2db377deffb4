package job

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadJobNameMakesAReleaseID: the job name begins the default release id
// (Fingerprint), so a name the ledger's release id rule would refuse after
// the input is scanned is refused when the job loads.
func TestLoadJobNameMakesAReleaseID(t *testing.T) {
	clearEnv(t)
	for _, name := range []string{"_minimal", strings.Repeat("n", 120)} {
		_, err := LoadJob(writeJob(t, strings.Replace(minimalJob, "name: minimal", "name: "+name, 1)))
		ce := configError(t, err)
		if want := "begins the default release id"; !strings.Contains(ce.Error(), want) {
			t.Errorf("name %s: error %q lacks %q", name, ce.Error(), want)
		}
	}
	j, err := LoadJob(writeJob(t, minimalJob))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Fingerprint(j); err != nil {
		t.Fatal(err)
	}
}

// TestLoadJobInputsOutsideOutputDir: output.dir is the publication folder;
// no input of the job may be inside it, whether named directly or matched by
// a pattern.
func TestLoadJobInputsOutsideOutputDir(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct{ name, from, to, key string }{
		{"input.path", "input: {path: events.csv}", "input: {path: out/events.csv}", "input.path"},
		{"input.path pattern", "input: {path: events.csv}", "input: {path: \"*/events.csv\"}", "input.path"},
		{"consent table", "consent: {column: consent_marketing}",
			"consent: {table: {path: out/consent.csv, unit: u, purpose: p, granted: g, at: t}}", "consent.table.path"},
		{"map file", "output: {dir: out}",
			"columns: {region: {from: country, map: {file: out/regions.csv}}}\noutput: {dir: out}", "columns.region.map.file"},
		{"public partitions file", "group_by: [country]",
			"group_by: [country]\n    public_partitions: {country: {file: out/countries.csv}}", "outputs[0].public_partitions.country.file"},
		{"output.dir is the job folder", "output: {dir: out}", "output: {dir: .}", "input.path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(minimalJob, tc.from, tc.to, 1)
			if src == minimalJob {
				t.Fatalf("%q is not in the job", tc.from)
			}
			path := writeJob(t, src)
			out := filepath.Join(filepath.Dir(path), "out")
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, "events.csv"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadJob(path)
			ce := configError(t, err)
			if want := tc.key + ": "; !strings.Contains(ce.Error(), want) || !strings.Contains(ce.Error(), "inside output.dir") {
				t.Errorf("error %q lacks %q and inside output.dir", ce.Error(), want)
			}
		})
	}
}

// TestCheckFlagPath: the flags that override a path of the job follow the
// job file's rule, relative to the working directory.
func TestCheckFlagPath(t *testing.T) {
	clearEnv(t)
	path := writeJob(t, minimalJob)
	j, err := LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Dir(path))
	for _, tc := range []struct {
		flag  string
		kind  PathKind
		value string
		ok    bool
	}{
		{"--ledger", PathLedger, "out/ledger.duckdb", false},
		{"--ledger", PathLedger, "ledger.duckdb", true},
		{"--ledger", PathLedger, "", true},
		{"--temp-dir", PathTempDir, "out/spill", false},
		{"--temp-dir", PathTempDir, "./out", false},
		{"--temp-dir", PathTempDir, "outside", true},
	} {
		err := j.CheckFlagPath(tc.flag, tc.kind, tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("%s %q: err = %v, want ok %v", tc.flag, tc.value, err, tc.ok)
			continue
		}
		if err != nil {
			ce := configError(t, err)
			if want := tc.flag + ": " + tc.value + " must not be inside output.dir"; !strings.Contains(ce.Error(), want) {
				t.Errorf("error %q lacks %q", ce.Error(), want)
			}
		}
	}
}

// TestCheckPathFollowsSymlinks: a path that reaches output.dir through a
// symbolic link (of the path, or of output.dir itself) is inside it, whether
// the file exists yet (a ledger) or not.
func TestCheckPathFollowsSymlinks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "events.csv"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"out", "to-out"}, {".", "here"}} {
		if err := os.Symlink(l[0], filepath.Join(root, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		dir, path string
		kind      PathKind
		inside    bool
	}{
		{"out", "to-out/events.csv", PathInput, true},
		{"to-out", "out/events.csv", PathInput, true},
		{"here/out", "out/events.csv", PathInput, true},
		{"out", "to-out/new/ledger.duckdb", PathLedger, true},
		{"out", "to-out/spill", PathTempDir, true},
		{"out", "here/events.csv", PathInput, false},
		{"to-out", "here/ledger.duckdb", PathLedger, false},
	} {
		j := &Job{Output: OutputSink{Dir: filepath.Join(root, tc.dir)}}
		err := j.CheckPath(tc.kind, filepath.Join(root, tc.path))
		if inside := err != nil; inside != tc.inside {
			t.Errorf("output.dir %s, path %s: err = %v, want inside %v", tc.dir, tc.path, err, tc.inside)
		} else if err != nil && !strings.Contains(err.Error(), "output.dir") {
			t.Errorf("output.dir %s, path %s: err = %v, want it to name output.dir", tc.dir, tc.path, err)
		}
	}
}
