package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// writeStore writes the hand-made release in format into a fresh store
// folder and returns the folder and the written files.
func writeStore(t *testing.T, format string) (string, []WrittenFile) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tables := testTables(t, mem)
	defer freeTables(tables)
	store := filepath.Join(t.TempDir(), "privagg-releases", testMeta.ID)
	files, err := writeRelease(context.Background(), testSink(t, format, mem), tables, testMeta, store, defaultFSOps)
	if err != nil {
		t.Fatal(err)
	}
	return store, files
}

func TestPublish(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			store, files := writeStore(t, format)
			out := filepath.Join(t.TempDir(), "out", "nested")
			names := FileNames(files)
			slices.Reverse(names) // manifests first: Publish must still copy data first
			var renamed []string
			ops := fsOps{rename: func(o, n string) error {
				if filepath.Dir(n) == out { // the top of the folder; history_test.go checks its history
					renamed = append(renamed, filepath.Base(n))
				}
				return os.Rename(o, n)
			}}
			if _, err := publish(context.Background(), store, out, names, nil, ops); err != nil {
				t.Fatal(err)
			}
			storeFiles, outFiles := listDir(t, store), listDir(t, out)
			if fmt.Sprint(storeFiles) != fmt.Sprint(outFiles) {
				t.Errorf("published files differ from the store:\nstore %v\nout   %v", storeFiles, outFiles)
			}
			sawManifest := false
			for _, n := range renamed {
				if strings.HasSuffix(n, ManifestSuffix) {
					sawManifest = true
				} else if sawManifest {
					t.Errorf("data file %s renamed after a manifest (order %v)", n, renamed)
				}
			}

			// Publishing the same release again rewrites identical bytes and
			// leaves no temporary or backup file.
			if _, err := Publish(context.Background(), store, out, names, nil); err != nil {
				t.Fatalf("re-publish: %v", err)
			}
			if again := listDir(t, out); fmt.Sprint(again) != fmt.Sprint(outFiles) {
				t.Errorf("re-publish changed the output folder:\nbefore %v\nafter  %v", outFiles, again)
			}
		})
	}
}

// TestPublishFailureLeavesOutputAsItWas fails the last rename of a publish
// into an empty and into a populated output folder.
func TestPublishFailureLeavesOutputAsItWas(t *testing.T) {
	store, files := writeStore(t, FormatCSV)
	failLast := fsOps{rename: func(o, n string) error {
		if filepath.Base(n) == "by_channel.manifest.json" {
			return errInjected
		}
		return os.Rename(o, n)
	}}
	t.Run("new folder", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		_, err := publish(context.Background(), store, out, FileNames(files), nil, failLast)
		if !errors.Is(err, errInjected) {
			t.Fatalf("error = %v, want the injected failure", err)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("output folder left behind: %v", listDir(t, out))
		}
	})
	t.Run("previous release", func(t *testing.T) {
		out := t.TempDir()
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(out, f.Name), []byte("previous "+f.Name), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		before := listDir(t, out)
		_, err := publish(context.Background(), store, out, FileNames(files), nil, failLast)
		if !errors.Is(err, errInjected) {
			t.Fatalf("error = %v, want the injected failure", err)
		}
		if after := listDir(t, out); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("output folder changed:\nbefore %v\nafter  %v", before, after)
		}
	})
}

// TestPublishDamagedStore: a data file changed after it was stored is
// refused, against its manifest and against the hashes the ledger recorded
// (which also catch a manifest edited to match).
func TestPublishDamagedStore(t *testing.T) {
	store, files := writeStore(t, FormatCSV)
	recorded, err := hashStore(store)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(store, "by_channel.csv")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte("101"), []byte("102"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sums := range []map[string]string{nil, recorded} {
		out := filepath.Join(t.TempDir(), "out")
		_, err = Publish(context.Background(), store, out, FileNames(files), sums)
		var ie *IntegrityError
		if !errors.As(err, &ie) || ie.Path != path {
			t.Fatalf("error = %v, want an *IntegrityError naming %s", err, path)
		}
		if got := listDir(t, out); len(got) != 0 {
			t.Errorf("output folder holds %v", got)
		}
	}
}

func TestPublishRejects(t *testing.T) {
	store, files := writeStore(t, FormatCSV)
	tests := []struct {
		name  string
		out   string
		files []string
		want  string
	}{
		{"no files", "out", nil, "no files to publish"},
		{"parent path", "out", []string{"../secret.csv"}, `file "../secret.csv" must be a plain file name`},
		{"sub folder", "out", []string{"internal/run-report.json"}, "must be a plain file name"},
		{"hidden", "out", []string{".by_channel.csv.tmp-1"}, "must be a plain file name"},
		{"twice", "out", []string{"by_channel.csv", "by_channel.csv"}, "listed twice"},
		{"missing", "out", []string{"nope.csv", "by_channel.manifest.json"}, "nope.csv"},
		{"store itself", "", FileNames(files), "is the release store itself"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := store
			if tc.out != "" {
				out = filepath.Join(t.TempDir(), tc.out)
			}
			before := listDir(t, store)
			_, err := Publish(context.Background(), store, out, tc.files, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if tc.out != "" {
				if got := listDir(t, out); len(got) != 0 {
					t.Errorf("output folder holds %v", got)
				}
			}
			if after := listDir(t, store); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("store changed")
			}
		})
	}
}
