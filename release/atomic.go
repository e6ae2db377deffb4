package release

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/privagg/privagg/internal/atomicfile"
)

// fileInfo describes a file staged by an atomicDir.
type fileInfo struct {
	Bytes  int64
	SHA256 string // lower-case hex
}

// staged is a file written under a temporary name, waiting for commit.
type staged struct {
	tmp      string // absolute temporary path
	name     string // final base name
	manifest bool   // renamed after every data file
	info     fileInfo
}

// committed is a file renamed into place by commit.
type committed struct {
	path   string // final path
	backup string // hard link to the file it replaced; "" when there was none
}

// fsOps holds the file-system calls an atomicDir makes that tests replace to
// inject failures. The zero value is not usable; see defaultFSOps.
type fsOps struct {
	rename func(oldpath, newpath string) error
	// wrap, when set, wraps the writer of each staged file (by final name).
	wrap func(name string, w io.Writer) io.Writer
}

var defaultFSOps = fsOps{rename: os.Rename}

// atomicDir publishes a set of files into one folder all or nothing: every
// file is first written to a temporary name in the same folder
// (".<name>.tmp-<random>") and fsync'd; commit renames the data files, fsyncs
// the folder, then renames the manifests and fsyncs the folder again. Until
// finish, rollback restores the folder to what it held before: temporary files
// are removed, and every file commit put in place is removed or, if it replaced
// an older file, that file is restored.
type atomicDir struct {
	dir       string
	work      string // sibling folder for temporary files: nothing temporary ever appears in dir
	ops       fsOps
	staged    []staged
	extra     []string // other temporary paths to remove on rollback (e.g. DuckDB's .wal)
	committed []committed
	created   bool // dir did not exist before; rollback removes it if empty
}

func newAtomicDir(dir string, ops fsOps) (*atomicDir, error) {
	if dir == "" {
		return nil, errors.New("output folder: must not be empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("output folder %s: %w", dir, err)
	}
	_, err = os.Stat(abs)
	created := errors.Is(err, fs.ErrNotExist)
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	return &atomicDir{dir: abs, work: workDir(abs), ops: ops, created: created}, nil
}

// workDir is the hidden sibling folder where atomicDir stages the files of
// dir: on the same file system, so renames into dir stay atomic, but outside
// dir, so a process killed mid-write leaves nothing in dir itself.
func workDir(dir string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".privagg-tmp")
}

// validFileName reports whether name is a plain file name that stays inside
// its folder and is not one of the hidden temporary names.
func validFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.HasPrefix(name, ".") &&
		!strings.ContainsAny(name, `/\`) && filepath.Base(name) == name
}

// tempPath returns an unused temporary path for final name name.
func (a *atomicDir) tempPath(name, kind string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("temporary name for %s: %w", name, err)
	}
	if err := os.MkdirAll(a.work, 0o755); err != nil {
		return "", fmt.Errorf("temporary folder for %s: %w", name, err)
	}
	return filepath.Join(a.work, "."+name+"."+kind+"-"+hex.EncodeToString(b[:])), nil
}

// removeWork removes the work folder if it is empty (best effort).
func (a *atomicDir) removeWork() { _ = os.Remove(a.work) }

// stage writes a file that will be called name once committed. write gets a
// buffered writer; stage hashes, flushes, fsyncs and closes the file.
func (a *atomicDir) stage(name string, manifest bool, write func(w io.Writer) error) (fileInfo, error) {
	if !validFileName(name) {
		return fileInfo{}, fmt.Errorf("file name %q: must be a plain file name not starting with '.'", name)
	}
	tmp, err := a.tempPath(name, "tmp")
	if err != nil {
		return fileInfo{}, err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fileInfo{}, fmt.Errorf("write %s: %w", name, err)
	}
	a.extra = append(a.extra, tmp) // removed on rollback until staged below
	h := sha256.New()
	cw := &hashCountWriter{w: io.MultiWriter(f, h)}
	var w io.Writer = cw
	if a.ops.wrap != nil {
		w = a.ops.wrap(name, w)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fileInfo{}, fmt.Errorf("write %s: %w", name, err)
	}
	info := fileInfo{Bytes: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))}
	a.extra = a.extra[:len(a.extra)-1]
	a.staged = append(a.staged, staged{tmp: tmp, name: name, manifest: manifest, info: info})
	return info, nil
}

// stageExternal stages a file that fill creates itself at the temporary path
// it is given (DuckDB writes its own database file). Files fill may leave
// beside it, such as path+".wal", are removed on rollback and after commit.
func (a *atomicDir) stageExternal(name string, fill func(tmp string) error) (fileInfo, error) {
	if !validFileName(name) {
		return fileInfo{}, fmt.Errorf("file name %q: must be a plain file name not starting with '.'", name)
	}
	tmp, err := a.tempPath(name, "tmp")
	if err != nil {
		return fileInfo{}, err
	}
	a.extra = append(a.extra, tmp, tmp+".wal")
	if err := fill(tmp); err != nil {
		return fileInfo{}, fmt.Errorf("write %s: %w", name, err)
	}
	if err := removeIfExists(tmp + ".wal"); err != nil {
		return fileInfo{}, fmt.Errorf("write %s: %w", name, err)
	}
	info, err := hashAndSync(tmp)
	if err != nil {
		return fileInfo{}, fmt.Errorf("write %s: %w", name, err)
	}
	a.extra = a.extra[:len(a.extra)-2]
	a.staged = append(a.staged, staged{tmp: tmp, name: name, info: info})
	return info, nil
}

// hashAndSync fsyncs the file at path and returns its size and sha256.
func hashAndSync(path string) (fileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fileInfo{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fileInfo{}, err
	}
	if err := f.Sync(); err != nil {
		return fileInfo{}, err
	}
	return fileInfo{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, f.Close()
}

// commit renames every staged file into place: data files first, then, after
// the folder is fsync'd, the manifests. On error the caller must rollback.
func (a *atomicDir) commit() error {
	for _, manifests := range []bool{false, true} {
		for _, s := range a.staged {
			if s.manifest != manifests {
				continue
			}
			if err := a.put(s); err != nil {
				return err
			}
		}
		if err := atomicfile.SyncDir(a.dir); err != nil {
			return fmt.Errorf("sync folder: %w", err)
		}
	}
	a.staged = nil
	return nil
}

// put renames one staged file over its final name, keeping a hard link to the
// file it replaces so that rollback can restore it.
func (a *atomicDir) put(s staged) error {
	final := filepath.Join(a.dir, s.name)
	c := committed{path: final}
	if st, err := os.Lstat(final); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("replace %s: existing entry is not a regular file", s.name)
		}
		backup, err := a.tempPath(s.name, "old")
		if err != nil {
			return err
		}
		if err := os.Link(final, backup); err != nil {
			return fmt.Errorf("replace %s: keep previous file: %w", s.name, err)
		}
		c.backup = backup
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", s.name, err)
	}
	if err := a.ops.rename(s.tmp, final); err != nil {
		if c.backup != "" {
			_ = os.Remove(c.backup)
		}
		return fmt.Errorf("rename %s into place: %w", s.name, err)
	}
	a.committed = append(a.committed, c)
	return nil
}

// finish drops the backups of replaced files once the whole set is in place.
// It is best effort: the new files are already durable, and a backup that
// cannot be removed is only a stray hidden file.
func (a *atomicDir) finish() {
	for _, c := range a.committed {
		if c.backup != "" {
			_ = os.Remove(c.backup)
		}
	}
	a.committed = nil
	a.removeWork()
	_ = atomicfile.SyncDir(a.dir)
}

// rollback removes every temporary file and undoes every commit of this set,
// newest first. It returns the problems it met; the caller reports them along
// with the error that caused the rollback.
func (a *atomicDir) rollback() error {
	var errs []error
	for i := len(a.committed) - 1; i >= 0; i-- {
		c := a.committed[i]
		var err error
		if c.backup != "" {
			err = os.Rename(c.backup, c.path)
		} else {
			err = removeIfExists(c.path)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range a.staged {
		if err := removeIfExists(s.tmp); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range a.extra {
		if err := removeIfExists(p); err != nil {
			errs = append(errs, err)
		}
	}
	a.committed, a.staged, a.extra = nil, nil, nil
	a.removeWork()
	if a.created && len(errs) == 0 {
		_ = os.Remove(a.dir) // fails, harmlessly, if someone else put a file there meanwhile
	} else if err := atomicfile.SyncDir(a.dir); err != nil && len(errs) == 0 {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("roll back %s: %w", a.dir, errors.Join(errs...))
	}
	return nil
}

// run stages files with stage, then commits them; on any error it rolls back,
// so that the folder holds either every new file or none of them.
func (a *atomicDir) run(stage func() error) (err error) {
	defer func() {
		if err != nil {
			if rerr := a.rollback(); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
	}()
	if err := stage(); err != nil {
		return err
	}
	if err := a.commit(); err != nil {
		return err
	}
	a.finish()
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

type hashCountWriter struct {
	w io.Writer
	n int64
}

func (c *hashCountWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
