package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Publish copies files, named relative to storeDir (as WrittenFile.Name), from
// the release store into outDir byte for byte, creating outDir, and into
// outDir/history/<release_id>/ with a publication.json (history.go), so
// that the folder keeps every release published into it. Data files are
// copied before manifests whatever the order of files. Before anything is
// renamed into outDir, the sha256 of every data file named by a published
// manifest is checked against the manifest, so a damaged store publishes
// nothing.
//
// When sha256 is not nil (the hashes the ledger recorded for the stored
// files), every copy must have its file's recorded SHA-256, checked on the
// bytes written, so a file changed after it was stored publishes nothing
// (an *IntegrityError). Symlinks in the release store are refused.
//
// Publish is atomic like Sink.Write: each file goes to a temporary name, is
// fsync'd and renamed; on failure outDir is left as it was. Publishing the
// same release again rewrites identical bytes (and the time in its
// publication.json).
//
// It returns the tables that lose more than ShrinkShare of their rows
// against the release they replace at the top of outDir, for the caller to
// warn about.
func Publish(ctx context.Context, storeDir, outDir string, files []string, sha256 map[string]string) ([]Shrink, error) {
	return publish(ctx, storeDir, outDir, files, sha256, defaultFSOps)
}

func publish(ctx context.Context, storeDir, outDir string, files []string, sums map[string]string, ops fsOps) ([]Shrink, error) {
	if len(files) == 0 {
		return nil, errors.New("publish: no files to publish")
	}
	seen := map[string]bool{}
	var data, manifests []string
	for _, f := range files {
		if !validFileName(f) {
			return nil, fmt.Errorf("publish: file %q must be a plain file name inside the release store", f)
		}
		if seen[f] {
			return nil, fmt.Errorf("publish: file %q listed twice", f)
		}
		seen[f] = true
		if strings.HasSuffix(f, ManifestSuffix) {
			manifests = append(manifests, f)
		} else {
			data = append(data, f)
		}
	}
	same, err := sameDir(storeDir, outDir)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if same {
		return nil, fmt.Errorf("publish: output folder %s is the release store itself", outDir)
	}
	id, ms, err := readManifests(storeDir, manifests)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", storeDir, err)
	}
	ad, err := newAtomicDir(outDir, ops)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	// One publisher at a time per output folder; under the lock, temporary
	// files of a publisher that was killed are removed first.
	unlock, err := lockDir(ad.dir)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	defer unlock()
	if err := sweepTemps(ad.dir); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	shrunk := shrinks(ad.dir, ms)
	histDir, err := historyFolder(ad.dir, id)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if err := sweepTemps(histDir); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	hist, err := newAtomicDir(histDir, ops)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	copyAll := func(a *atomicDir) func() error {
		return func() error {
			hashes := map[string]string{}
			for _, group := range [][]string{data, manifests} {
				for _, name := range group {
					if err := ctx.Err(); err != nil {
						return err
					}
					info, err := a.stage(name, strings.HasSuffix(name, ManifestSuffix), func(w io.Writer) error {
						return copyFile(w, filepath.Join(storeDir, name))
					})
					if err != nil {
						return err
					}
					if want, ok := sums[name]; sums != nil && (!ok || info.SHA256 != want) {
						return &IntegrityError{Path: filepath.Join(storeDir, name), Reason: fmt.Sprintf(
							"has sha256 %s, the ledger recorded %q when the release was stored", info.SHA256, want)}
					}
					hashes[name] = info.SHA256
				}
			}
			return checkManifests(storeDir, manifests, hashes)
		}
	}
	// The history first, then the top: a failure of the top removes a
	// history folder this publication created, so outDir is as it was.
	err = hist.run(func() error {
		if err := copyAll(hist)(); err != nil {
			return err
		}
		_, err := hist.stage(PublicationFile, true, encodePublication(id, ms, time.Now()))
		return err
	})
	if err == nil {
		err = ad.run(copyAll(ad))
	}
	if err != nil {
		if hist.created {
			err = errors.Join(err, os.RemoveAll(histDir))
			_ = os.Remove(filepath.Dir(histDir)) // the history folder, if now empty
		}
		if ad.created {
			_ = os.Remove(ad.dir) // if empty
		}
		return nil, fmt.Errorf("publish %s to %s: %w", storeDir, outDir, err)
	}
	return shrunk, nil
}

// copyFile copies the regular file at path, refusing a symlink.
func copyFile(w io.Writer, path string) error {
	f, err := openRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// checkManifests verifies that every published data file a manifest names has
// the sha256 the manifest records.
func checkManifests(storeDir string, manifests []string, hashes map[string]string) error {
	for _, name := range manifests {
		f, err := openRegular(filepath.Join(storeDir, name))
		if err != nil {
			return err
		}
		m, err := ReadManifest(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		got, ok := hashes[m.File]
		if !ok {
			continue // the data file is not part of this publication
		}
		if got != m.SHA256 {
			return &IntegrityError{Path: filepath.Join(storeDir, m.File), Reason: fmt.Sprintf(
				"has sha256 %s, its manifest %s records %s", got, name, m.SHA256)}
		}
	}
	return nil
}

// sameDir reports whether a and b name the same existing folder.
func sameDir(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, fmt.Errorf("release store: %w", err)
	}
	sb, err := os.Stat(b)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("output folder: %w", err)
	}
	return os.SameFile(sa, sb), nil
}
