package privacy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Who may read and write a ledger is up to the file system (docs/deployment.md,
// "Roles and permissions"): the pipeline account writes the ledger, the journal and the
// release store; privacy officers read them. The ledger and the journal are
// made group-readable (ledgerFileMode) whatever the umask, and commands that
// only read open the ledger with WithReadOnly, which needs no write access to
// the files or their folder.

// ledgerFileMode is the mode of the ledger file and its journal: the owner
// (the pipeline account) writes, the group (privacy officers) reads.
const ledgerFileMode = 0o640

// WithReadOnly opens the ledger for reading only: DuckDB opens the file in
// read_only access mode (a shared lock, no write), and an interrupted write
// is not repaired but read as the next write will complete it (see
// LedgerSummary.Recovered). Methods that change the ledger return an error.
func WithReadOnly() LedgerOption {
	return func(l *Ledger) error {
		l.readOnly = true
		return nil
	}
}

// ReadOnly reports whether the ledger was opened WithReadOnly.
func (l *Ledger) ReadOnly() bool { return l.readOnly }

// isPermission reports whether err comes from missing file permissions (Go's
// own errors, or DuckDB's message for them).
func isPermission(err error) bool {
	return err != nil && (errors.Is(err, fs.ErrPermission) || strings.Contains(err.Error(), "Permission denied"))
}

// accessError returns a *PermissionError for err if err comes from missing
// permissions, naming the first of the ledger's folder (and the folders
// above it), the ledger file and the journal that this user cannot use for
// reading (or writing); otherwise it returns nil.
func (l *Ledger) accessError(err error, write bool) error {
	if !isPermission(err) {
		return nil
	}
	dir := filepath.Dir(l.path)
	pe := &PermissionError{Path: l.path, Need: "read", Err: err,
		What: fmt.Sprintf("the ledger %s and its journal %s", l.path, l.journalPath)}
	fileMode, dirMode := uint32(4), uint32(1) // R_OK; X_OK
	if write {
		pe.Need = "write"
		pe.What = fmt.Sprintf("the ledger %s, its journal and their folder %s", l.path, dir)
		fileMode, dirMode = 4|2, 1|2 // R_OK|W_OK; X_OK|W_OK
	}
	if p := FirstDenied(dir, dirMode); p != "" {
		pe.Path = p
		return pe
	}
	for _, p := range []string{l.path, l.journalPath} {
		if denied(p, fileMode) {
			pe.Path = p
			return pe
		}
	}
	return pe
}

// FirstDenied returns the first folder on the way to dir (from the root) that
// this user cannot search, or dir itself if it lacks mode (an access(2) mode:
// 1 search, 2 write, 4 read); "" if none.
func FirstDenied(dir string, mode uint32) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	var chain []string
	for p := abs; ; p = filepath.Dir(p) {
		chain = append(chain, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	for i := len(chain) - 1; i > 0; i-- {
		if denied(chain[i], 1) {
			return chain[i]
		}
	}
	if denied(abs, mode) {
		return abs
	}
	return ""
}

// denied reports whether access(2) refuses mode on path for lack of
// permission (a missing path is not denied).
func denied(path string, mode uint32) bool {
	err := syscall.Access(path, mode)
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// OSUser names the operating-system account this process runs as, as the
// journal records who changed a budget: its user name ("uid N" where the
// system has no name for it), followed by " (sudo by NAME)" when the command
// was run with sudo by another account.
func OSUser() string {
	uid := os.Getuid()
	name := "uid " + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		name = u.Username
	}
	if s := os.Getenv("SUDO_USER"); s != "" && s != name {
		name += " (sudo by " + s + ")"
	}
	return name
}
