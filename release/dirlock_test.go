package release

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSweepTemps: only atomicDir's own temporary names are removed; other
// files, hidden or not, stay.
func TestSweepTemps(t *testing.T) {
	dir := t.TempDir()
	work := workDir(dir)
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, ".b.csv.tmp-0123456789abcdef"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	temps := []string{".a.parquet.tmp-0123456789abcdef", ".a.manifest.json.old-fedcba9876543210", ".releases.duckdb.tmp-00112233445566ff.wal"}
	keep := []string{"a.parquet", ".keep", ".a.parquet.tmp-xyz", "notes.tmp-0123456789abcdef"}
	for _, n := range append(slices.Clone(temps), keep...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := sweepTemps(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	want := slices.Clone(keep)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after sweep: %v, want %v", got, want)
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("work folder %s still exists after the sweep", work)
	}
}
