package beamengine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
)

// A run's intermediate files hold exact row counts (pass 1), the locations
// of rejected rows (pass 1), noised statistics that are not a release
// until published (pass 2) and, with a bounds share, the exact histograms
// and sums of the bound estimates (bounds.go). They live in one folder per run, under
// Options.ResultsDir or a temporary folder, and never outlive the run:
//
//   - on local storage the folder is created 0700 and every file 0600
//     before a pipeline writes it (Beam's local filesystem opens an existing
//     file with O_TRUNC, which keeps its mode; it would create a new one
//     0644), and each file is set to 0600 again after its pass;
//   - the folder is removed once its files are read (Release) and again by
//     Close, whatever the outcome; on remote storage (gs://) its files are
//     removed through Beam's filesystem, and access is the bucket's IAM.

// workFiles are the files of a run's folder.
var workFiles = []string{countsFile, listingFile, resultsFile, partitionsEstFile, valuesEstFile, droppedEstFile}

const (
	countsFile  = "counts.jsonl"  // pass 1: exact row counts
	listingFile = "rejects.jsonl" // pass 1: where rejected rows are
	resultsFile = "results.jsonl" // pass 2: noised statistics
	// With a bounds share (bounds.go): the exact histograms and sums that
	// the Releaser noises.
	partitionsEstFile = "estimate-partitions.jsonl"
	valuesEstFile     = "estimate-values.jsonl"
	droppedEstFile    = "estimate-dropped.jsonl"
)

// workDir is a run's folder for intermediate files.
type workDir struct {
	path  string // no trailing slash
	local bool   // on this machine's file system (no URL scheme)
}

// newWorkDir creates the run folder name under parent: on local storage
// 0700 with its files created empty and 0600. A missing local parent is
// created 0700.
func newWorkDir(parent, name string) (workDir, error) {
	w := workDir{path: strings.TrimRight(parent, "/") + "/" + name, local: !strings.Contains(parent, "://")}
	if !w.local {
		return w, nil
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return workDir{}, fmt.Errorf("beam engine: results folder %q: %w", parent, err)
	}
	if err := os.Mkdir(w.path, 0o700); err != nil {
		return workDir{}, fmt.Errorf("beam engine: run folder in %q: %w", parent, err)
	}
	for _, f := range workFiles {
		fd, err := os.OpenFile(w.file(f), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			err = fd.Close()
		}
		if err != nil {
			return workDir{}, errors.Join(fmt.Errorf("beam engine: run folder file: %w", err), w.remove(context.Background()))
		}
	}
	return w, nil
}

// file is the path of the run folder's file name.
func (w workDir) file(name string) string { return w.path + "/" + name }

// private sets the run folder's local files to 0600 again after a pass (a
// runner that replaced a file would have created it 0644).
func (w workDir) private() error {
	if !w.local {
		return nil
	}
	for _, f := range workFiles {
		if err := os.Chmod(w.file(f), 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("beam engine: run folder file: %w", err)
		}
	}
	return nil
}

// remove deletes the run folder and its files. Removing a folder that is
// gone already is not an error.
func (w workDir) remove(ctx context.Context) error {
	if w.path == "" {
		return nil
	}
	if w.local {
		if err := os.RemoveAll(w.path); err != nil {
			return fmt.Errorf("beam engine: remove run folder: %w", err)
		}
		return nil
	}
	fsys, err := filesystem.New(ctx, w.path)
	if err != nil {
		return fmt.Errorf("beam engine: remove run folder: %w", err)
	}
	defer fsys.Close()
	rm, ok := fsys.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("beam engine: remove run folder %s: its file system cannot remove files; delete it by hand", w.path)
	}
	names, err := fsys.List(ctx, w.path+"/*")
	if err != nil {
		return fmt.Errorf("beam engine: remove run folder: %w", err)
	}
	var errs []error
	for _, n := range names {
		if err := rm.Remove(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("beam engine: remove run folder %s: %w", w.path, err)
	}
	return nil
}
