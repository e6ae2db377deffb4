package privacy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/privagg/privagg/internal/hint"
)

// The ledger records, per dataset, a privacy budget and every release charged
// against it. It is a DuckDB file L mirrored to an append-only, hash-chained
// journal L.journal.jsonl (see journal.go). Every operation opens the file,
// takes DuckDB's exclusive file lock (one read-write process at a time),
// checks that the journal's chain is intact and that replaying it gives
// exactly the ledger's rows, acts, and closes the file again. If the check
// fails the operation returns a *LedgerError and nothing is charged or
// released (fail closed).
//
// A write is durable once its journal entry is on disk: the entry is appended
// and synced inside the DuckDB transaction, just before the commit. A crash
// between the two leaves the journal one entry ahead of the ledger; the next
// operation applies that entry to the ledger (and nothing else is repaired
// automatically). A crash in the middle of the append leaves an incomplete
// last line, which the next operation removes, since its transaction never
// committed.

// LedgerSchemaVersion is the version of the ledger's tables this package
// reads and writes.
const LedgerSchemaVersion = 1

// DefaultLockTimeout is how long an operation waits for another process to
// release the ledger.
const DefaultLockTimeout = 30 * time.Second

// ReleaseState is where a release is in the release protocol.
type ReleaseState string

// Release states, in order. There are no refunds: a release's charge counts
// in every state.
const (
	// StateReserved: the budget is charged and noise may have been drawn,
	// but the release store is not complete; nothing has left the process.
	StateReserved ReleaseState = "reserved"
	// StateStored: every file of the release is in the release store.
	StateStored ReleaseState = "stored"
	// StatePublished: the stored files were copied to the output directory.
	StatePublished ReleaseState = "published"
)

// Errors a caller of the release protocol can detect with errors.Is.
var (
	// ErrAlreadyStored: Reserve was called for a release id whose tables are
	// already in the release store (state stored or published). Nothing is
	// charged; the caller publishes the stored files again instead of
	// drawing new noise.
	ErrAlreadyStored = errors.New("release already stored")
	// ErrUnknownRelease: no release has this id.
	ErrUnknownRelease = errors.New("unknown release")
	// ErrReleaseConflict: the release id exists with a different dataset,
	// epsilon or delta, or the requested state change is not allowed.
	ErrReleaseConflict = errors.New("release conflict")
)

// restoreHint says how to restore the ledger at path.
func restoreHint(path string) string {
	return "restore the ledger file and its journal together from your latest backup " +
		"(the journal is the audit record of every budget and release), then run " + hint.Verify(path) + "; " +
		"nothing is released until ledger and journal agree"
}

// Ledger is a handle on a ledger file. It holds no open file or lock between
// calls, so several processes can share one ledger; each call waits for the
// others (up to the lock timeout). Its methods are safe for concurrent use.
type Ledger struct {
	path        string // absolute
	journalPath string
	lockTimeout time.Duration
	now         func() time.Time
	readOnly    bool // WithReadOnly

	mu            sync.Mutex
	openRecovered string // what OpenLedger's check recovered, until Inspect reports it
	verifyOnUse   bool   // VerifyOnFirstUse: OpenLedger does not verify
}

// LedgerOption configures OpenLedger.
type LedgerOption func(*Ledger) error

// VerifyOnFirstUse makes OpenLedger skip its own verification session.
// Every operation verifies the ledger against its journal anyway, so a
// caller whose first operation follows at once (a run's Preflight) saves
// one opening of the ledger file; a damaged ledger is then refused by that
// first operation, with the same error.
func VerifyOnFirstUse() LedgerOption {
	return func(l *Ledger) error {
		l.verifyOnUse = true
		return nil
	}
}

// WithLockTimeout sets how long each operation waits for the ledger while
// another process holds it (default DefaultLockTimeout). d must be > 0.
func WithLockTimeout(d time.Duration) LedgerOption {
	return func(l *Ledger) error {
		if d <= 0 {
			return fmt.Errorf("lock timeout %v: must be > 0", d)
		}
		l.lockTimeout = d
		return nil
	}
}

// WithClock sets the clock used for timestamps and budget periods (default
// time.Now). Tests use it to move through periods.
func WithClock(now func() time.Time) LedgerOption {
	return func(l *Ledger) error {
		if now == nil {
			return errors.New("clock: must not be nil")
		}
		l.now = now
		return nil
	}
}

// OpenLedger returns a handle on the ledger at path after checking that it
// verifies (see Verify). A missing ledger file together with a missing journal
// is a new, empty ledger; its files are created by the first write. It does
// not keep the ledger open or locked.
func OpenLedger(path string, opts ...LedgerOption) (*Ledger, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errors.New("open ledger: path must not be empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	l := &Ledger{path: abs, journalPath: abs + JournalSuffix, lockTimeout: DefaultLockTimeout, now: time.Now}
	for _, o := range opts {
		if err := o(l); err != nil {
			return nil, fmt.Errorf("open ledger %s: %w", path, err)
		}
	}
	if l.verifyOnUse {
		return l, nil
	}
	sum, err := l.Inspect(context.Background())
	if err != nil {
		return nil, err
	}
	l.openRecovered = sum.Recovered
	return l, nil
}

// Path is the ledger file's absolute path.
func (l *Ledger) Path() string { return l.path }

// JournalPath is the journal's absolute path: Path() + JournalSuffix.
func (l *Ledger) JournalPath() string { return l.journalPath }

// StoreDir is the release store folder of a release:
// <dir of the ledger>/privagg-releases/<releaseID>. Pass only ids that
// ValidateReleaseID accepts (every id Reserve accepted does).
func (l *Ledger) StoreDir(releaseID string) string {
	return filepath.Join(filepath.Dir(l.path), "privagg-releases", releaseID)
}

// Verify checks the journal's hash chain and that the ledger and the journal
// hold the same entries. It returns a *LedgerError saying what is wrong and
// how to restore.
func (l *Ledger) Verify(ctx context.Context) error {
	_, err := l.Inspect(ctx)
	return err
}

// LedgerSummary describes a verified ledger.
type LedgerSummary struct {
	Path        string
	JournalPath string
	Exists      bool   // false for a new ledger whose files are not created yet
	Entries     int64  // journal entries, all applied to the ledger
	Head        string // SHA-256 of the journal's last line
	Budgets     int
	Releases    map[ReleaseState]int
	// Recovered says what an interrupted write left behind and this check
	// (or, the first time, OpenLedger's check) completed or removed; empty if
	// nothing.
	Recovered string
}

// Inspect verifies the ledger like Verify and summarizes it.
func (l *Ledger) Inspect(ctx context.Context) (LedgerSummary, error) {
	var sum LedgerSummary
	err := l.withSession(ctx, false, func(s *session) error {
		sum = LedgerSummary{
			Path:        l.path,
			JournalPath: l.journalPath,
			Exists:      s.db != nil || s.j.exists,
			Entries:     int64(len(s.j.entries)),
			Head:        s.j.lastLineHash(),
			Budgets:     len(s.st.budgets),
			Releases:    map[ReleaseState]int{},
			Recovered:   s.recovered,
		}
		l.mu.Lock()
		if sum.Recovered == "" {
			sum.Recovered = l.openRecovered
		}
		l.openRecovered = ""
		l.mu.Unlock()
		for _, r := range s.st.releases {
			sum.Releases[ReleaseState(r.State)]++
		}
		return nil
	})
	return sum, err
}

// SetBudget sets (or replaces) the budget of dataset: at most epsilon and
// delta may be spent per period. period is "none" (the budget is for all
// time), "month" (calendar months, UTC) or "<N>d" (a rolling window: spends
// reserved in the last N days count). Spends already made keep counting.
// The journal records OSUser as who set it, and no reason; ChangeBudget
// records both.
func (l *Ledger) SetBudget(ctx context.Context, dataset string, epsilon, delta float64, period string) error {
	return l.ChangeBudget(ctx, BudgetRequest{Dataset: dataset, Epsilon: epsilon, Delta: delta, Period: period})
}
