package release

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
)

// tempNameRE matches the temporary names atomicDir uses in a folder:
// ".<name>.tmp-<16 hex>" (a file being written), ".<name>.old-<16 hex>" (the
// previous version kept until commit finishes), and DuckDB's ".wal" beside
// them.
var tempNameRE = regexp.MustCompile(`^\..+\.(tmp|old)-[0-9a-f]{16}(\.wal)?$`)

// lockDir takes an exclusive advisory lock on folder dir (flock on the folder
// itself, so no lock file appears in it) and returns its release. privagg
// publishes into an output folder only under this lock.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// sweepTemps removes temporary files that a killed process left in dir's
// work folder (and, from older versions, in dir itself). The caller holds
// lockDir(dir), so no other privagg is writing them.
func sweepTemps(dir string) error {
	for _, d := range []string{workDir(dir), dir} {
		entries, err := os.ReadDir(d)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sweep %s: %w", d, err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && tempNameRE.MatchString(e.Name()) {
				if err := os.Remove(filepath.Join(d, e.Name())); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("sweep %s: %w", d, err)
				}
			}
		}
	}
	_ = os.Remove(workDir(dir)) // if empty
	return nil
}
