package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// LoadPublished reads the releases published into the output folders dirs,
// for analysts who may read those folders and nothing else: every
// <output>.manifest.json in each folder, grouped by release id. It reads
// neither the ledger nor the release store. A symlink (the folder itself, a
// manifest or a data file) is refused, and OpenDB checks each data file's
// sha256 against its manifest before loading it. Missing permissions are a
// *privacy.PermissionError.
//
// Each folder holds the latest publication of each of its outputs at its
// top and every release published into it in history/<release_id>/; the
// tables are named as for a ledger's catalog (Catalog.QueryTables), the
// release published last being the latest (history.go says how that is
// known). A release a folder has at its top and in its history is read
// from the top.
func LoadPublished(dirs []string) (*Catalog, error) {
	c := &Catalog{Releases: []Release{}}
	for _, d := range dirs {
		dir, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("published folder %s: %w", d, err)
		}
		c.Published = append(c.Published, dir)
	}
	unlock, err := lockShared(c.Published)
	if err != nil {
		return nil, err
	}
	defer unlock()
	for _, dir := range c.Published {
		rels, err := readFolder(dir)
		if err != nil {
			return nil, err
		}
		c.Releases = append(c.Releases, rels...)
	}
	slices.SortStableFunc(c.Releases, func(a, b Release) int {
		if n := a.PublishedAt.Compare(*b.PublishedAt); n != 0 {
			return n
		}
		return strings.Compare(a.ReleaseID, b.ReleaseID)
	})
	c.nameTables()
	return c, nil
}

// readPublished reads the manifests of one published folder.
func readPublished(dir string) ([]Release, error) {
	if err := checkNotSymlink(dir, "published folder"); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, publishedError(dir, err)
	}
	var rels []Release
	byID := map[string]int{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, release.ManifestSuffix) || strings.HasPrefix(name, ".") {
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("manifest %s: is a symlink; privagg query --from reads only regular files", filepath.Join(dir, name))
		}
		t, m, err := readTable(dir, name)
		if err != nil {
			return nil, publishedError(dir, err)
		}
		if err := checkNotSymlink(t.Path, "data file"); err != nil {
			return nil, err
		}
		i, ok := byID[m.ReleaseID]
		if !ok {
			created := m.Created.UTC()
			rec := privacy.ReleaseRecord{ReleaseID: m.ReleaseID, Dataset: m.Dataset, Job: m.Job, Purpose: m.Purpose,
				State: privacy.StatePublished, ReservedAt: created, PublishedAt: &created, OutputDir: dir, Outputs: []string{}}
			if rec.Epsilon, err = privacy.AmountFromFloat(m.Epsilon); err == nil {
				rec.Delta, err = privacy.AmountFromFloat(m.Delta)
			}
			if err != nil {
				return nil, fmt.Errorf("manifest %s: %w", t.ManifestPath, err)
			}
			rels = append(rels, Release{ReleaseRecord: rec, StoreDir: dir, K: m.K, Noise: m.Noise, Tables: []Table{}})
			i = len(rels) - 1
			byID[m.ReleaseID] = i
		}
		r := &rels[i]
		r.K = max(r.K, m.K)
		r.Outputs = append(r.Outputs, t.Output)
		r.Tables = append(r.Tables, t)
	}
	return rels, nil
}

// readFolder reads a published folder: the releases at its top and those
// its history keeps (history.go).
func readFolder(dir string) ([]Release, error) {
	rels, err := readPublished(dir)
	if err != nil {
		return nil, err
	}
	byID := map[string]int{}
	for i, r := range rels {
		byID[r.ReleaseID] = i
	}
	return readHistory(dir, rels, byID)
}

// checkNotSymlink refuses a symlink at path: a published folder is read as
// it is, never through a link to somewhere else.
func checkNotSymlink(path, what string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return publishedError(filepath.Dir(path), err)
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s %s: is a symlink; privagg query --from reads only regular files and folders", what, path)
	}
	return nil
}

// publishedError turns a permission error under the published folder dir
// into a *privacy.PermissionError.
func publishedError(dir string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	path := privacy.FirstDenied(dir, 4|1) // read and search
	var pe *fs.PathError
	if path == "" && errors.As(err, &pe) {
		path = pe.Path
	}
	if path == "" {
		path = dir
	}
	return &privacy.PermissionError{Path: path, Need: "read", What: "the published folder " + dir + " and its files", Err: err}
}

// openNoFollow opens path for reading, refusing a symlink.
func openNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s: is a symlink; privagg reads only regular files", path)
	}
	return f, err
}

// lockShared takes a shared lock on each folder of dirs (flock on the folder
// itself), so that a publication into it, which holds the exclusive lock,
// does not change its files while they are read.
func lockShared(dirs []string) (unlock func(), err error) {
	var held []*os.File
	unlock = func() {
		for _, f := range held {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
		}
	}
	for _, d := range dirs {
		if err := checkNotSymlink(d, "published folder"); err != nil {
			unlock()
			return nil, err
		}
		f, err := openNoFollow(d)
		if err == nil {
			if err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
				f.Close()
			}
		}
		if err != nil {
			unlock()
			return nil, publishedError(d, err)
		}
		held = append(held, f)
	}
	return unlock, nil
}
