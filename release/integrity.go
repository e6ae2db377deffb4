package release

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/privagg/privagg/privacy"
)

// IntegrityError says that a file of a release store, or of its copy in
// output.dir, is not what the ledger recorded: its SHA-256 differs, it is
// missing, or it (or a folder on its way) is a symlink. Nothing is published
// or read from such a release. The message names the file, never its
// content; privagg exits with code 1.
type IntegrityError struct {
	Path   string // the file or folder
	Reason string
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("release store integrity: %s: %s; nothing was published or read from this release: "+
		"restore the release store from backup and find out who changed it", e.Path, e.Reason)
}

// checkStoreDir refuses a release store folder that is not a real folder:
// the folder itself and privagg-releases above it must not be symlinks.
func checkStoreDir(dir string) error {
	for _, d := range []string{filepath.Dir(dir), dir} {
		st, err := os.Lstat(d)
		if err != nil {
			return &IntegrityError{Path: d, Reason: "cannot be read: " + errReason(err)}
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return &IntegrityError{Path: d, Reason: "is a symlink; a release store is read only from its own folder"}
		}
		if !st.IsDir() {
			return &IntegrityError{Path: d, Reason: "is not a folder"}
		}
	}
	return nil
}

// VerifyStore checks the release store folder dir against what the ledger
// recorded when the release was stored: dir is a real folder and every
// recorded file is a regular file (no symlink on its way) with the
// recorded SHA-256. It returns an *IntegrityError naming the first file
// that differs.
func VerifyStore(dir string, files *privacy.StoredFiles) error {
	if err := checkStoreDir(dir); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(files.SHA256)) {
		if err := verifyStoredFile(dir, name, files.SHA256[name]); err != nil {
			return err
		}
	}
	return nil
}

// verifyStoredFile checks one file of dir, named by a slash-separated
// relative path, against its recorded SHA-256.
func verifyStoredFile(dir, name, want string) error {
	path := filepath.Join(dir, filepath.FromSlash(name))
	for sub := filepath.Dir(path); sub != dir && strings.HasPrefix(sub, dir); sub = filepath.Dir(sub) {
		if st, err := os.Lstat(sub); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return &IntegrityError{Path: sub, Reason: "is a symlink; a release store is read only from its own folder"}
		}
	}
	got, err := hashFile(path)
	if err != nil {
		return err
	}
	if got != want {
		return &IntegrityError{Path: path, Reason: fmt.Sprintf("has sha256 %s, the ledger recorded %s when the release was stored", got, want)}
	}
	return nil
}

// hashFile returns the SHA-256 of the regular file at path, refusing a
// symlink: an *IntegrityError unless the file is missing.
func hashFile(path string) (string, error) {
	f, err := openRegular(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", &IntegrityError{Path: path, Reason: "cannot be read: " + errReason(err)}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// openRegular opens path for reading if it is a regular file and not a
// symlink; otherwise it returns an *IntegrityError, or an error wrapping
// fs.ErrNotExist if there is no file.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &IntegrityError{Path: path, Reason: "is a symlink; privagg reads only regular files of a release"}
	}
	if errors.Is(err, fs.ErrNotExist) {
		// Missing, not changed: the store cannot be read (a plain error).
		return nil, fmt.Errorf("release store file %s: %w", path, err)
	}
	if err != nil {
		return nil, &IntegrityError{Path: path, Reason: "cannot be opened: " + errReason(err)}
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, &IntegrityError{Path: path, Reason: "is not a regular file"}
	}
	return f, nil
}

// errReason is err's cause without the path, which the caller names.
func errReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// hashStore returns the SHA-256 of every regular file under dir, by
// slash-separated relative path.
func hashStore(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return &IntegrityError{Path: path, Reason: "is not a regular file"}
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		sum, err := hashFile(path)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = sum
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash release store %s: %w", dir, err)
	}
	return out, nil
}
