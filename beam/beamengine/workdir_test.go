package beamengine

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine"

	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// modeSpy is the Beam engine, recording the modes of everything in the
// results folder when Prepare returns (pass 1's files are written, pass 2's
// not yet).
type modeSpy struct {
	*Engine
	dir         string
	modes       map[string]fs.FileMode // path relative to dir -> permission bits
	failRelease bool                   // make pass 2 fail to write its results
}

func (s *modeSpy) Release(ctx context.Context, plan *privacy.Plan, res *privacy.Reservation) (*privacy.Release, map[string]privacy.OutputStats, error) {
	if s.failRelease {
		// A folder where pass 2 writes its results: the pipeline fails.
		path := s.work.file(resultsFile)
		if err := os.Remove(path); err != nil {
			return nil, nil, err
		}
		if err := os.Mkdir(path, 0o700); err != nil {
			return nil, nil, err
		}
	}
	return s.Engine.Release(ctx, plan, res)
}

func (s *modeSpy) Prepare(ctx context.Context) (engine.InputCounts, error) {
	c, err := s.Engine.Prepare(ctx)
	s.modes = map[string]fs.FileMode{}
	_ = filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, werr error) error {
		if werr != nil || path == s.dir {
			return werr
		}
		info, ierr := d.Info()
		if ierr != nil {
			return ierr
		}
		rel, _ := filepath.Rel(s.dir, path)
		s.modes[rel] = info.Mode().Perm()
		return nil
	})
	return c, err
}

// TestResultsDirPrivateAndRemoved (audit 2, L3): --results_dir held exact
// row counts, reject locations and noised results in files 0644 that
// outlived the run. The run folder is 0700 and its files 0600 while it
// exists, and it is gone after a published run, a failed pass 2 and a
// rejected input alike (Release removes it; Close again).
func TestResultsDirPrivateAndRemoved(t *testing.T) {
	equivJob, eventsCSV := fixture(t, "equiv_job.yaml"), fixture(t, "events.csv")
	strict := strings.Replace(equivJob, "max_reject_fraction: 0.2", "max_reject_fraction: 0", 1)
	for _, tc := range []struct {
		name        string
		job         string
		failRelease bool
		wantErr     bool
	}{
		{"published", equivJob, false, false},
		{"pass 2 failed", equivJob, true, true},
		{"input rejected", strict, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := setupJob(t, tc.job, map[string]string{"events.csv": eventsCSV}, 10)
			results := filepath.Join(t.TempDir(), "results")
			eng, err := New(job, Options{Runner: testRunner(), ResultsDir: results})
			if err != nil {
				t.Fatal(err)
			}
			spy := &modeSpy{Engine: eng, dir: results, failRelease: tc.failRelease}
			_, err = pipeline.Run(context.Background(), job, pipeline.RunOptions{Engine: spy, ReleaseID: "workdir-1"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("run: %v, want error %v", err, tc.wantErr)
			}
			if !strings.Contains(tc.name, "rejected") {
				assertEmptyDir(t, results, "after Release returned (before Close)")
			}
			if err := eng.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			assertEmptyDir(t, results, "after Close")

			if len(spy.modes) == 0 {
				t.Fatal("no run folder in --results_dir after Prepare")
			}
			files := 0
			for rel, mode := range spy.modes {
				want := fs.FileMode(0o600)
				if !strings.Contains(rel, string(filepath.Separator)) {
					want = 0o700 // the run folder itself
				} else {
					files++
				}
				if mode != want {
					t.Errorf("%s: mode %o, want %o", rel, mode, want)
				}
			}
			if files < 2 {
				t.Errorf("run folder had %d files after pass 1, want the counts and the listing: %v", files, spy.modes)
			}
		})
	}
}

func assertEmptyDir(t *testing.T, dir, when string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	for _, e := range entries {
		t.Errorf("%s: %s is left in --results_dir", when, e.Name())
	}
}
