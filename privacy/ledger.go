package privacy

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"
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

const restoreHint = "restore the ledger file and its journal together from your latest backup " +
	"(the journal is the audit record of every budget and release), then run `privagg budget verify`; " +
	"nothing is released until ledger and journal agree"

// Ledger is a handle on a ledger file. It holds no open file or lock between
// calls, so several processes can share one ledger; each call waits for the
// others (up to the lock timeout). Its methods are safe for concurrent use.
type Ledger struct {
	path        string // absolute
	journalPath string
	lockTimeout time.Duration
	now         func() time.Time

	mu            sync.Mutex
	openRecovered string // what OpenLedger's check recovered, until Inspect reports it
}

// LedgerOption configures OpenLedger.
type LedgerOption func(*Ledger) error

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
func (l *Ledger) SetBudget(ctx context.Context, dataset string, epsilon, delta float64, period string) error {
	if err := validateDataset(dataset); err != nil {
		return fmt.Errorf("set budget: %w", err)
	}
	eps, err := budgetEpsilon(epsilon)
	if err != nil {
		return fmt.Errorf("set budget of dataset %q: epsilon: %w", dataset, err)
	}
	del, err := budgetDelta(delta)
	if err != nil {
		return fmt.Errorf("set budget of dataset %q: delta: %w", dataset, err)
	}
	p, err := ParsePeriod(period)
	if err != nil {
		return fmt.Errorf("set budget of dataset %q: %w", dataset, err)
	}
	return l.withSession(ctx, true, func(s *session) error {
		return s.apply(ctx, opBudgetSet, map[string]string{
			"dataset": dataset,
			"epsilon": eps.String(),
			"delta":   del.String(),
			"period":  p.String(),
			"created": formatTime(s.now),
		})
	})
}

// BudgetStatus is a dataset's budget and what was spent of it in the current
// period. Remaining is never negative (a budget lowered below what was spent
// has 0 remaining).
type BudgetStatus struct {
	Dataset          string `json:"dataset"`
	EpsilonTotal     Amount `json:"epsilon_total"`
	DeltaTotal       Amount `json:"delta_total"`
	EpsilonSpent     Amount `json:"epsilon_spent"`
	DeltaSpent       Amount `json:"delta_spent"`
	EpsilonRemaining Amount `json:"epsilon_remaining"`
	DeltaRemaining   Amount `json:"delta_remaining"`
	Period           string `json:"period"`
	// PeriodStart and PeriodEnd bound the current period: a calendar month
	// for "month", [now - N days, now] for "Nd", nil for "none".
	PeriodStart *time.Time `json:"period_start"`
	PeriodEnd   *time.Time `json:"period_end"`
}

// Status returns the budget status of dataset, or a *BudgetError if it has no
// budget.
func (l *Ledger) Status(ctx context.Context, dataset string) (BudgetStatus, error) {
	var st BudgetStatus
	err := l.withSession(ctx, false, func(s *session) error {
		var err error
		st, err = s.status(dataset)
		return err
	})
	return st, err
}

// Statuses returns the budget status of every dataset with a budget, sorted
// by dataset.
func (l *Ledger) Statuses(ctx context.Context) ([]BudgetStatus, error) {
	var out []BudgetStatus
	err := l.withSession(ctx, false, func(s *session) error {
		for _, d := range slices.Sorted(maps.Keys(s.st.budgets)) {
			st, err := s.status(d)
			if err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// Check reports whether a release of epsilon and delta on dataset would fit
// its budget now, without charging anything: it returns the current status
// and a *BudgetError if it would not fit (or there is no budget).
func (l *Ledger) Check(ctx context.Context, dataset string, epsilon, delta float64) (BudgetStatus, error) {
	eps, del, err := requestAmounts(epsilon, delta)
	if err != nil {
		return BudgetStatus{}, fmt.Errorf("check budget of dataset %q: %w", dataset, err)
	}
	var st BudgetStatus
	err = l.withSession(ctx, false, func(s *session) error {
		var err error
		st, err = s.status(dataset)
		if err != nil {
			return err
		}
		return fits(st, eps, del)
	})
	return st, err
}

// ReleaseRecord is one release in the ledger.
type ReleaseRecord struct {
	ReleaseID   string       `json:"release_id"`
	Dataset     string       `json:"dataset"`
	Job         string       `json:"job"`
	Purpose     string       `json:"purpose"`
	Epsilon     Amount       `json:"epsilon"`
	Delta       Amount       `json:"delta"`
	State       ReleaseState `json:"state"`
	ReservedAt  time.Time    `json:"reserved_at"`
	StoredAt    *time.Time   `json:"stored_at"`
	PublishedAt *time.Time   `json:"published_at"`
	Outputs     []string     `json:"outputs"`
	OutputDir   string       `json:"output_dir"`
	JobSHA256   string       `json:"job_sha256"`
	// PeriodStart is the start of the budget period the release was charged
	// in; nil for a budget without periods.
	PeriodStart *time.Time `json:"period_start"`
}

// History returns the releases of dataset, oldest first.
func (l *Ledger) History(ctx context.Context, dataset string) ([]ReleaseRecord, error) {
	return l.records(ctx, func(r *releaseRow) bool { return r.Dataset == dataset })
}

// Releases returns every release, oldest first.
func (l *Ledger) Releases(ctx context.Context) ([]ReleaseRecord, error) {
	return l.records(ctx, func(*releaseRow) bool { return true })
}

// Lookup returns the release with id releaseID, or nil and no error if there
// is none.
func (l *Ledger) Lookup(ctx context.Context, releaseID string) (*ReleaseRecord, error) {
	recs, err := l.records(ctx, func(r *releaseRow) bool { return r.ReleaseID == releaseID })
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return &recs[0], nil
}

func (l *Ledger) records(ctx context.Context, keep func(*releaseRow) bool) ([]ReleaseRecord, error) {
	var out []ReleaseRecord
	err := l.withSession(ctx, false, func(s *session) error {
		for _, r := range s.st.releases {
			if !keep(&r) {
				continue
			}
			rec, err := r.record()
			if err != nil {
				return s.damaged("release "+r.ReleaseID, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b ReleaseRecord) int {
		if c := a.ReservedAt.Compare(b.ReservedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ReleaseID, b.ReleaseID)
	})
	return out, err
}

// ReserveRequest asks to charge a release to a dataset's budget.
type ReserveRequest struct {
	ReleaseID string   // required; see ValidateReleaseID
	Dataset   string   // required: the budget to charge
	Job       string   // required: the job's name
	Purpose   string   // the job's consent purpose
	Epsilon   float64  // required, > 0
	Delta     float64  // >= 0 and < 1
	Outputs   []string // the job's output names
	OutputDir string   // where the release will be published
	JobSHA256 string   // hex SHA-256 of the job file (64 lower-case hex digits), or empty
}

// Reserve charges req's epsilon and delta to the dataset's budget, as one
// atomic check-and-charge under the ledger's exclusive lock, and records the
// release in state reserved. It returns a *BudgetError if the dataset has no
// budget or the charge does not fit what remains of the current period.
//
// If the release id already exists:
//   - in state reserved (an earlier run stopped before its tables were
//     stored, so nothing was released), Reserve charges nothing and returns
//     the earlier reservation; the release may be
//     recomputed under it (call Lookup first to tell this case apart). Dataset, epsilon and delta must equal the earlier
//     request's, otherwise the error wraps ErrReleaseConflict.
//   - in state stored or published, Reserve charges nothing and returns an
//     error wrapping ErrAlreadyStored: publish the stored files again.
func (l *Ledger) Reserve(ctx context.Context, req ReserveRequest) (*Reservation, error) {
	eps, del, err := l.validateReserve(req)
	if err != nil {
		return nil, err
	}
	outputs, err := json.Marshal(nonNil(req.Outputs))
	if err != nil {
		return nil, fmt.Errorf("reserve release %q: outputs: %w", req.ReleaseID, err)
	}
	var res *Reservation
	err = l.withSession(ctx, true, func(s *session) error {
		if old, ok := s.st.releases[req.ReleaseID]; ok {
			var err error
			res, err = resume(&old, req.Dataset, eps, del)
			return err
		}
		st, err := s.status(req.Dataset)
		if err != nil {
			return err
		}
		if err := fits(st, eps, del); err != nil {
			return err
		}
		periodStart := ""
		if st.PeriodStart != nil {
			periodStart = formatTime(*st.PeriodStart)
		}
		at := formatTime(s.now)
		if err := s.apply(ctx, opReserved, map[string]string{
			"release_id":   req.ReleaseID,
			"dataset":      req.Dataset,
			"job":          req.Job,
			"purpose":      req.Purpose,
			"epsilon":      eps.String(),
			"delta":        del.String(),
			"reserved_at":  at,
			"outputs":      string(outputs),
			"output_dir":   req.OutputDir,
			"job_sha256":   req.JobSHA256,
			"period_start": periodStart,
		}); err != nil {
			return err
		}
		res = newReservation(req.ReleaseID, req.Dataset, eps.Float64(), del.Float64())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (l *Ledger) validateReserve(req ReserveRequest) (eps, del Amount, err error) {
	if err := ValidateReleaseID(req.ReleaseID); err != nil {
		return eps, del, fmt.Errorf("reserve: %w", err)
	}
	if err := validateDataset(req.Dataset); err != nil {
		return eps, del, fmt.Errorf("reserve release %q: %w", req.ReleaseID, err)
	}
	if strings.TrimSpace(req.Job) == "" {
		return eps, del, fmt.Errorf("reserve release %q: job name must not be empty", req.ReleaseID)
	}
	if req.JobSHA256 != "" && !sha256HexRE.MatchString(req.JobSHA256) {
		return eps, del, fmt.Errorf("reserve release %q: job sha256 %q: must be 64 lower-case hex digits", req.ReleaseID, req.JobSHA256)
	}
	eps, del, err = requestAmounts(req.Epsilon, req.Delta)
	if err != nil {
		return eps, del, fmt.Errorf("reserve release %q: %w", req.ReleaseID, err)
	}
	return eps, del, nil
}

func resume(old *releaseRow, dataset string, eps, del Amount) (*Reservation, error) {
	if old.State != string(StateReserved) {
		return nil, fmt.Errorf("reserve release %q: it is %s, nothing charged: %w", old.ReleaseID, old.State, ErrAlreadyStored)
	}
	rec, err := old.record()
	if err != nil {
		return nil, err
	}
	if rec.Dataset != dataset || rec.Epsilon.Cmp(eps) != 0 || rec.Delta.Cmp(del) != 0 {
		return nil, fmt.Errorf("reserve release %q: it is reserved for dataset %q with epsilon %s, delta %s, not dataset %q with epsilon %s, delta %s; use a new release id: %w",
			old.ReleaseID, rec.Dataset, rec.Epsilon, rec.Delta, dataset, eps, del, ErrReleaseConflict)
	}
	return newReservation(rec.ReleaseID, rec.Dataset, rec.Epsilon.Float64(), rec.Delta.Float64()), nil
}

// MarkStored records that every file of the release is in the release store
// (reserved -> stored). It does nothing if the release is already stored or
// published.
func (l *Ledger) MarkStored(ctx context.Context, releaseID string) error {
	return l.transition(ctx, releaseID, StateStored, opStored, "stored_at")
}

// MarkPublished records that the stored files were published (stored ->
// published). It does nothing if the release is already published; a release
// still reserved cannot be published (ErrReleaseConflict).
func (l *Ledger) MarkPublished(ctx context.Context, releaseID string) error {
	return l.transition(ctx, releaseID, StatePublished, opPublished, "published_at")
}

func (l *Ledger) transition(ctx context.Context, releaseID string, to ReleaseState, op, timeField string) error {
	return l.withSession(ctx, true, func(s *session) error {
		r, ok := s.st.releases[releaseID]
		if !ok {
			return fmt.Errorf("mark release %q %s: %w", releaseID, to, ErrUnknownRelease)
		}
		from := ReleaseState(r.State)
		if from == to || (to == StateStored && from == StatePublished) {
			return nil
		}
		if to == StatePublished && from != StateStored {
			return fmt.Errorf("mark release %q published: it is %s, not stored: %w", releaseID, from, ErrReleaseConflict)
		}
		return s.apply(ctx, op, map[string]string{"release_id": releaseID, timeField: formatTime(s.now)})
	})
}

// fits returns a *BudgetError unless eps and del fit what remains of st.
func fits(st BudgetStatus, eps, del Amount) error {
	if eps.Cmp(st.EpsilonRemaining) <= 0 && del.Cmp(st.DeltaRemaining) <= 0 {
		return nil
	}
	in := "in total"
	if st.PeriodStart != nil {
		in = "in the period from " + st.PeriodStart.Format(time.RFC3339) + " to " + st.PeriodEnd.Format(time.RFC3339)
	}
	return &BudgetError{Dataset: st.Dataset, Reason: fmt.Sprintf(
		"not enough budget: requested epsilon %s, delta %s; spent epsilon %s of %s, delta %s of %s %s; remaining epsilon %s, delta %s",
		eps, del, st.EpsilonSpent, st.EpsilonTotal, st.DeltaSpent, st.DeltaTotal, in, st.EpsilonRemaining, st.DeltaRemaining)}
}

func noBudget(dataset string) error {
	return &BudgetError{Dataset: dataset, Reason: fmt.Sprintf(
		"dataset %q has no budget; set one with privagg budget set %s --epsilon E --delta D", dataset, dataset)}
}

// ---- validation ----

var (
	releaseIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidateReleaseID checks that id can name a release (and its release store
// folder): 1 to 128 characters from A-Z a-z 0-9 . _ -, starting with a letter
// or digit.
func ValidateReleaseID(id string) error {
	if !releaseIDRE.MatchString(id) {
		return fmt.Errorf("release id %q: must be 1-128 characters from A-Z a-z 0-9 . _ - starting with a letter or digit", id)
	}
	return nil
}

func validateDataset(d string) error {
	if d == "" || len(d) > 200 || strings.TrimSpace(d) != d {
		return fmt.Errorf("dataset %q: must be 1-200 characters without leading or trailing space", d)
	}
	for _, r := range d {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("dataset %q: must not contain control characters", d)
		}
	}
	return nil
}

func budgetEpsilon(x float64) (Amount, error) {
	a, err := AmountFromFloat(x)
	if err != nil {
		return a, err
	}
	if a.IsZero() {
		return a, fmt.Errorf("%v: must be > 0", x)
	}
	return a, nil
}

func budgetDelta(x float64) (Amount, error) {
	a, err := AmountFromFloat(x)
	if err != nil {
		return a, err
	}
	if x >= 1 {
		return a, fmt.Errorf("%v: must be < 1", x)
	}
	return a, nil
}

func requestAmounts(epsilon, delta float64) (eps, del Amount, err error) {
	if eps, err = budgetEpsilon(epsilon); err != nil {
		return eps, del, fmt.Errorf("epsilon: %w", err)
	}
	if del, err = budgetDelta(delta); err != nil {
		return eps, del, fmt.Errorf("delta: %w", err)
	}
	return eps, del, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ---- periods ----

// Period is how a budget renews: never, every calendar month (UTC), or as a
// rolling window of N days.
type Period struct {
	kind string
	days int
}

const (
	periodNone    = "none"
	periodMonth   = "month"
	periodRolling = "rolling"
)

// ParsePeriod parses "none", "month" or "<N>d" (N from 1 to 3660).
func ParsePeriod(s string) (Period, error) {
	switch s {
	case "none":
		return Period{kind: periodNone}, nil
	case "month":
		return Period{kind: periodMonth}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 1 && days <= 3660 && strconv.Itoa(days) == n {
			return Period{kind: periodRolling, days: days}, nil
		}
	}
	return Period{}, fmt.Errorf("period %q: must be none, month or a number of days from 1 to 3660 such as 30d", s)
}

// String returns the period as ParsePeriod reads it.
func (p Period) String() string {
	switch p.kind {
	case periodMonth:
		return "month"
	case periodRolling:
		return strconv.Itoa(p.days) + "d"
	default:
		return "none"
	}
}

// window returns the current period at now; ok is false for "none".
func (p Period) window(now time.Time) (start, end time.Time, ok bool) {
	now = now.UTC()
	switch p.kind {
	case periodMonth:
		start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0), true
	case periodRolling:
		now = now.Truncate(time.Microsecond)
		return now.Add(-time.Duration(p.days) * 24 * time.Hour), now, true
	default:
		return time.Time{}, time.Time{}, false
	}
}

// ---- times ----

func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// parseTime parses a time written by formatTime, and only that form.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || formatTime(t) != s {
		return time.Time{}, fmt.Errorf("time %q: must be RFC 3339 UTC with at most microseconds", s)
	}
	return t.UTC(), nil
}

// ---- in-memory state: what replaying the journal gives, and what the ledger holds ----

// budgetRow and releaseRow hold a row as canonical text (amounts as exact
// decimals, times as formatTime, absent as ""), so that the journal's replay
// and the ledger's rows compare exactly.
type budgetRow struct {
	Dataset, Epsilon, Delta, Period, Created string
}

type releaseRow struct {
	ReleaseID, Dataset, Job, Purpose, Epsilon, Delta, State string
	ReservedAt, StoredAt, PublishedAt                       string
	Outputs, OutputDir, JobSHA256, PeriodStart              string
}

type ledgerState struct {
	ledgerID string
	schema   string
	head     int64 // journal entries applied
	headHash string
	budgets  map[string]budgetRow
	releases map[string]releaseRow
}

func newState() *ledgerState {
	return &ledgerState{budgets: map[string]budgetRow{}, releases: map[string]releaseRow{}}
}

func (st *ledgerState) clone() *ledgerState {
	c := *st
	c.budgets = maps.Clone(st.budgets)
	c.releases = maps.Clone(st.releases)
	return &c
}

// fieldsOf checks that fields has exactly keys and returns their values.
func fieldsOf(fields map[string]string, keys ...string) ([]string, error) {
	if len(fields) != len(keys) {
		return nil, fmt.Errorf("has fields %v, want %v", slices.Sorted(maps.Keys(fields)), keys)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		v, ok := fields[k]
		if !ok {
			return nil, fmt.Errorf("has fields %v, want %v", slices.Sorted(maps.Keys(fields)), keys)
		}
		out[i] = v
	}
	return out, nil
}

func canonicalAmount(s string) error {
	a, err := ParseAmount(s)
	if err != nil {
		return err
	}
	if a.String() != s {
		return fmt.Errorf("amount %q: not in canonical form %q", s, a.String())
	}
	return nil
}

// apply checks that e is a valid next entry and applies it to st.
func (st *ledgerState) apply(e journalEntry) error {
	if e.Seq != st.head+1 {
		return fmt.Errorf("entry %d: expected entry %d", e.Seq, st.head+1)
	}
	if (e.Seq == 1) != (e.Op == opLedgerCreated) {
		return fmt.Errorf("entry %d: the first entry, and only it, must be %s", e.Seq, opLedgerCreated)
	}
	if _, err := parseTime(e.Time); err != nil {
		return fmt.Errorf("entry %d: %w", e.Seq, err)
	}
	if err := st.applyOp(e); err != nil {
		return fmt.Errorf("entry %d (%s): %w", e.Seq, e.Op, err)
	}
	st.head = e.Seq
	return nil
}

func (st *ledgerState) applyOp(e journalEntry) error {
	switch e.Op {
	case opLedgerCreated:
		v, err := fieldsOf(e.Fields, "ledger_id", "schema_version")
		if err != nil {
			return err
		}
		if v[0] == "" {
			return errors.New("empty ledger_id")
		}
		if v[1] != strconv.Itoa(LedgerSchemaVersion) {
			return fmt.Errorf("schema version %q: this privagg reads version %d", v[1], LedgerSchemaVersion)
		}
		st.ledgerID, st.schema = v[0], v[1]
	case opBudgetSet:
		v, err := fieldsOf(e.Fields, "dataset", "epsilon", "delta", "period", "created")
		if err != nil {
			return err
		}
		b := budgetRow{Dataset: v[0], Epsilon: v[1], Delta: v[2], Period: v[3], Created: v[4]}
		if err := b.validate(); err != nil {
			return err
		}
		st.budgets[b.Dataset] = b
	case opReserved:
		v, err := fieldsOf(e.Fields, "release_id", "dataset", "job", "purpose", "epsilon", "delta",
			"reserved_at", "outputs", "output_dir", "job_sha256", "period_start")
		if err != nil {
			return err
		}
		r := releaseRow{ReleaseID: v[0], Dataset: v[1], Job: v[2], Purpose: v[3], Epsilon: v[4], Delta: v[5],
			State: string(StateReserved), ReservedAt: v[6], Outputs: v[7], OutputDir: v[8], JobSHA256: v[9], PeriodStart: v[10]}
		if _, ok := st.releases[r.ReleaseID]; ok {
			return fmt.Errorf("release %q reserved twice", r.ReleaseID)
		}
		if _, err := r.record(); err != nil {
			return err
		}
		st.releases[r.ReleaseID] = r
	case opStored, opPublished:
		timeField, from, to := "stored_at", StateReserved, StateStored
		if e.Op == opPublished {
			timeField, from, to = "published_at", StateStored, StatePublished
		}
		v, err := fieldsOf(e.Fields, "release_id", timeField)
		if err != nil {
			return err
		}
		r, ok := st.releases[v[0]]
		if !ok {
			return fmt.Errorf("release %q: %w", v[0], ErrUnknownRelease)
		}
		if r.State != string(from) {
			return fmt.Errorf("release %q is %s, want %s", v[0], r.State, from)
		}
		if _, err := parseTime(v[1]); err != nil {
			return err
		}
		r.State = string(to)
		if to == StateStored {
			r.StoredAt = v[1]
		} else {
			r.PublishedAt = v[1]
		}
		st.releases[r.ReleaseID] = r
	default:
		return fmt.Errorf("unknown operation %q", e.Op)
	}
	return nil
}

func (b *budgetRow) validate() error {
	if err := validateDataset(b.Dataset); err != nil {
		return err
	}
	for _, s := range []string{b.Epsilon, b.Delta} {
		if err := canonicalAmount(s); err != nil {
			return err
		}
	}
	if p, err := ParsePeriod(b.Period); err != nil {
		return err
	} else if p.String() != b.Period {
		return fmt.Errorf("period %q: not in canonical form", b.Period)
	}
	_, err := parseTime(b.Created)
	return err
}

// record converts a row to its public form, checking every field.
func (r *releaseRow) record() (ReleaseRecord, error) {
	rec := ReleaseRecord{ReleaseID: r.ReleaseID, Dataset: r.Dataset, Job: r.Job, Purpose: r.Purpose,
		State: ReleaseState(r.State), OutputDir: r.OutputDir, JobSHA256: r.JobSHA256}
	if err := ValidateReleaseID(r.ReleaseID); err != nil {
		return rec, err
	}
	if err := validateDataset(r.Dataset); err != nil {
		return rec, err
	}
	var err error
	for _, a := range []struct {
		s   string
		dst *Amount
	}{{r.Epsilon, &rec.Epsilon}, {r.Delta, &rec.Delta}} {
		if err := canonicalAmount(a.s); err != nil {
			return rec, err
		}
		*a.dst, _ = ParseAmount(a.s)
	}
	if rec.ReservedAt, err = parseTime(r.ReservedAt); err != nil {
		return rec, err
	}
	for _, t := range []struct {
		s   string
		dst **time.Time
	}{{r.StoredAt, &rec.StoredAt}, {r.PublishedAt, &rec.PublishedAt}, {r.PeriodStart, &rec.PeriodStart}} {
		if t.s == "" {
			continue
		}
		v, err := parseTime(t.s)
		if err != nil {
			return rec, err
		}
		*t.dst = &v
	}
	switch rec.State {
	case StateReserved, StateStored, StatePublished:
	default:
		return rec, fmt.Errorf("state %q: must be reserved, stored or published", r.State)
	}
	if err := json.Unmarshal([]byte(r.Outputs), &rec.Outputs); err != nil || rec.Outputs == nil {
		return rec, fmt.Errorf("outputs %q: must be a JSON array of names", r.Outputs)
	}
	return rec, nil
}

// diff describes the first difference between the journal's replay (want)
// and the ledger's rows (got), or returns "".
func diff(want, got *ledgerState) string {
	if want.ledgerID != got.ledgerID {
		return "the ledger and the journal belong to different ledgers (ledger ids differ)"
	}
	if want.schema != got.schema {
		return fmt.Sprintf("schema version %q in the journal, %q in the ledger", want.schema, got.schema)
	}
	for _, d := range slices.Sorted(maps.Keys(want.budgets)) {
		g, ok := got.budgets[d]
		if !ok {
			return fmt.Sprintf("the budget of dataset %q is in the journal but not in the ledger", d)
		}
		if g != want.budgets[d] {
			return fmt.Sprintf("the budget of dataset %q differs between journal and ledger", d)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(got.budgets)) {
		if _, ok := want.budgets[d]; !ok {
			return fmt.Sprintf("the budget of dataset %q is in the ledger but not in the journal", d)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want.releases)) {
		g, ok := got.releases[id]
		if !ok {
			return fmt.Sprintf("release %q is in the journal but not in the ledger", id)
		}
		if g != want.releases[id] {
			return fmt.Sprintf("release %q differs between journal and ledger", id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(got.releases)) {
		if _, ok := want.releases[id]; !ok {
			return fmt.Sprintf("release %q is in the ledger but not in the journal", id)
		}
	}
	return ""
}

// ---- sessions: open, verify, act, close ----

// processLocks serializes operations on one ledger within this process:
// DuckDB's file lock only excludes other processes (and the driver shares one
// database instance per path within a process).
var processLocks sync.Map // absolute path -> chan struct{} (capacity 1)

func lockProcess(ctx context.Context, path string) (unlock func(), err error) {
	v, _ := processLocks.LoadOrStore(path, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// session is one open-verify-act-close cycle; it holds the ledger's locks.
type session struct {
	l         *Ledger
	db        *sql.DB // nil for a read of a ledger whose file does not exist yet
	j         *journal
	st        *ledgerState // verified: equals both the journal's replay and the ledger's rows
	now       time.Time
	recovered string
}

func (l *Ledger) withSession(ctx context.Context, write bool, fn func(*session) error) error {
	lctx, cancel := context.WithTimeout(ctx, l.lockTimeout)
	defer cancel()
	unlock, err := lockProcess(lctx, l.path)
	if err != nil {
		return l.busy(ctx, err)
	}
	defer unlock()
	if _, err := os.Stat(l.path); errors.Is(err, fs.ErrNotExist) {
		// Check the journal before DuckDB creates the file: a lost ledger
		// file must not be replaced by an empty one.
		s, err := l.journalOnly()
		switch {
		case err == nil && !write:
			return fn(s)
		case err != nil:
			if _, serr := os.Stat(l.path); serr != nil {
				return err
			}
			// The ledger file appeared meanwhile: verify it under its lock.
		}
	}
	db, err := l.openDB(ctx, lctx)
	if err != nil {
		return err
	}
	defer db.Close()
	s := &session{l: l, db: db, now: l.now()}
	if err := s.load(ctx); err != nil {
		return err
	}
	if write && s.st.head == 0 {
		id := make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return fmt.Errorf("create ledger %s: %w", l.path, err)
		}
		if err := s.apply(ctx, opLedgerCreated, map[string]string{
			"ledger_id":      hex.EncodeToString(id),
			"schema_version": strconv.Itoa(LedgerSchemaVersion),
		}); err != nil {
			return err
		}
	}
	if err := fn(s); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close ledger %s: %w", l.path, err)
	}
	return nil
}

// journalOnly serves a read while the ledger file does not exist: the journal
// must be missing, empty, or hold only the ledger's creation (a first write
// that was interrupted before the ledger file was made).
func (l *Ledger) journalOnly() (*session, error) {
	j, err := readJournal(l.journalPath)
	if err != nil {
		return nil, l.ledgerError("the journal is damaged", err)
	}
	st := newState()
	switch {
	case len(j.entries) > 1:
		return nil, l.ledgerError(fmt.Sprintf("the ledger file is missing but its journal has %d entries", len(j.entries)), nil)
	case len(j.entries) == 1:
		if err := st.apply(j.entries[0]); err != nil {
			return nil, l.ledgerError("the journal is damaged", err)
		}
	}
	return &session{l: l, j: j, st: st, now: l.now()}, nil
}

func (l *Ledger) ledgerError(reason string, err error) error {
	return &LedgerError{Path: l.path, Reason: reason, Hint: restoreHint, Err: err}
}

func (s *session) damaged(what string, err error) error {
	return s.l.ledgerError(what+" is damaged", err)
}

func (l *Ledger) busy(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("ledger %s: %w", l.path, ctx.Err())
	}
	return &LedgerError{Path: l.path,
		Reason: fmt.Sprintf("the ledger is held by another process for more than %v", l.lockTimeout),
		Hint:   "wait for the other privagg command to finish and try again", Err: err}
}

// openDB opens the ledger file read-write, which takes DuckDB's exclusive
// file lock, retrying with backoff while another process holds it, until
// lctx ends.
func (l *Ledger) openDB(ctx, lctx context.Context) (*sql.DB, error) {
	delay := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		db, err := sql.Open("duckdb", l.path)
		if err == nil {
			db.SetMaxOpenConns(1)
			if err = db.PingContext(lctx); err == nil {
				return db, nil
			}
			db.Close()
		}
		if !isLockConflict(err) {
			if lctx.Err() != nil {
				return nil, l.busy(ctx, err)
			}
			return nil, l.ledgerError("cannot open the ledger file", err)
		}
		// Jitter from the process id and attempt, so that waiting processes
		// do not retry in lockstep.
		jitter := time.Duration((os.Getpid()*7919+attempt*104729)%1000) * delay / 1000
		t := time.NewTimer(delay + jitter)
		select {
		case <-lctx.Done():
			t.Stop()
			return nil, l.busy(ctx, err)
		case <-t.C:
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

func isLockConflict(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "Could not set lock on file") || strings.Contains(msg, "Conflicting lock")
}

// load reads the ledger's rows and the journal, verifies that they agree, and
// completes or removes what an interrupted write left behind.
func (s *session) load(ctx context.Context) error {
	l := s.l
	dbst, hasSchema, err := loadDBState(ctx, s.db)
	if err != nil {
		return l.ledgerError("cannot read the ledger file", err)
	}
	j, err := readJournal(l.journalPath)
	if err != nil {
		return l.ledgerError("the journal is damaged", err)
	}
	applied, entries := dbst.head, int64(len(j.entries))
	switch {
	case applied > 0 && !j.exists:
		return l.ledgerError(fmt.Sprintf("the journal %s is missing; the ledger has %d entries", l.journalPath, applied), nil)
	case j.partial && entries != applied:
		return l.ledgerError("the journal ends in an incomplete line", nil)
	case entries < applied:
		return l.ledgerError(fmt.Sprintf("the journal has %d entries but the ledger has applied %d: the journal is missing entries", entries, applied), nil)
	case entries > applied+1 && !hasSchema:
		return l.ledgerError(fmt.Sprintf("the ledger file is empty but its journal has %d entries", entries), nil)
	case entries > applied+1:
		return l.ledgerError(fmt.Sprintf("the journal has %d entries but the ledger has applied only %d: the ledger is missing entries", entries, applied), nil)
	}
	replay := newState()
	for _, e := range j.entries[:applied] {
		if err := replay.apply(e); err != nil {
			return l.ledgerError("the journal is damaged", err)
		}
	}
	if applied > 0 {
		replay.headHash = j.lineHashes[applied-1]
		if dbst.headHash != replay.headHash {
			return l.ledgerError(fmt.Sprintf("the ledger's last applied entry %d is not the journal's entry %d (hash differs)", applied, applied), nil)
		}
	}
	if d := diff(replay, dbst); d != "" {
		return l.ledgerError("the ledger and the journal disagree: "+d, nil)
	}
	s.j, s.st = j, dbst
	if j.partial {
		if err := j.dropPartial(l.journalPath); err != nil {
			return l.ledgerError("cannot repair the journal", err)
		}
		s.recovered = "removed an incomplete last journal line left by an interrupted write (it was never committed)"
	}
	if entries == applied+1 {
		e := j.entries[applied]
		next := s.st.clone()
		if err := next.apply(e); err != nil {
			return l.ledgerError("the journal is damaged", err)
		}
		if err := s.commit(ctx, e, j.lineHashes[applied], nil); err != nil {
			return err
		}
		next.headHash = j.lineHashes[applied]
		s.st = next
		s.recovered = fmt.Sprintf("applied journal entry %d (%s), which an interrupted write had not yet committed to the ledger", e.Seq, e.Op)
	}
	return nil
}

// apply makes a new journal entry and commits it to the ledger and the
// journal: the rows change and the entry is appended in one transaction.
func (s *session) apply(ctx context.Context, op string, fields map[string]string) error {
	e, line, err := s.j.newEntry(op, formatTime(s.now), fields)
	if err != nil {
		return err
	}
	next := s.st.clone()
	if err := next.apply(e); err != nil {
		return fmt.Errorf("ledger %s: %w", s.l.path, err)
	}
	lineHash := sha256Hex(line)
	if err := s.commit(ctx, e, lineHash, func() error { return s.j.append(s.l.journalPath, e, line) }); err != nil {
		return err
	}
	next.headHash = lineHash
	s.st = next
	return nil
}

// commit applies e to the ledger's rows in one transaction; beforeCommit (the
// journal append) runs last inside it. If the commit fails after the append,
// the appended entry is removed again.
func (s *session) commit(ctx context.Context, e journalEntry, lineHash string, beforeCommit func() error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger %s: begin: %w", s.l.path, err)
	}
	if err := applyToDB(ctx, tx, e, lineHash); err != nil {
		tx.Rollback()
		return fmt.Errorf("ledger %s: entry %d (%s): %w", s.l.path, e.Seq, e.Op, err)
	}
	if beforeCommit != nil {
		if err := beforeCommit(); err != nil {
			tx.Rollback()
			return fmt.Errorf("ledger %s: %w", s.l.path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("ledger %s: commit entry %d: %w", s.l.path, e.Seq, err)
		if beforeCommit != nil {
			if uerr := s.j.undoLast(s.l.journalPath); uerr != nil {
				return errors.Join(err, uerr)
			}
		}
		return err
	}
	return nil
}

// ---- the ledger's tables ----

var schemaSQL = []string{
	`CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)`,
	`CREATE TABLE ledger_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`,
	`CREATE TABLE budgets (
		dataset VARCHAR PRIMARY KEY,
		epsilon VARCHAR NOT NULL, -- exact decimal text
		delta   VARCHAR NOT NULL, -- exact decimal text
		period  VARCHAR NOT NULL, -- none | month | <N>d
		created TIMESTAMP NOT NULL
	)`,
	`CREATE TABLE releases (
		release_id   VARCHAR PRIMARY KEY,
		dataset      VARCHAR NOT NULL,
		job          VARCHAR NOT NULL,
		purpose      VARCHAR NOT NULL,
		epsilon      VARCHAR NOT NULL, -- exact decimal text
		delta        VARCHAR NOT NULL, -- exact decimal text
		state        VARCHAR NOT NULL CHECK (state IN ('reserved', 'stored', 'published')),
		reserved_at  TIMESTAMP NOT NULL,
		stored_at    TIMESTAMP,
		published_at TIMESTAMP,
		outputs      VARCHAR NOT NULL, -- JSON array of output names
		output_dir   VARCHAR NOT NULL,
		job_sha256   VARCHAR NOT NULL,
		period_start TIMESTAMP
	)`,
}

var ledgerTables = []string{"budgets", "ledger_meta", "releases", "schema_version"}

func nullTime(s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	return parseTime(s)
}

// applyToDB changes the ledger's rows as e says and records e as the last
// applied journal entry. e has been validated by ledgerState.apply.
func applyToDB(ctx context.Context, tx *sql.Tx, e journalEntry, lineHash string) error {
	f := e.Fields
	at, err := parseTime(e.Time)
	if err != nil {
		return err
	}
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
	switch e.Op {
	case opLedgerCreated:
		for _, q := range schemaSQL {
			if err := exec(q); err != nil {
				return err
			}
		}
		if err := exec(`INSERT INTO schema_version VALUES (?, ?)`, LedgerSchemaVersion, at); err != nil {
			return err
		}
		if err := exec(`INSERT INTO ledger_meta VALUES ('ledger_id', ?), ('journal_seq', '0'), ('journal_head', '')`, f["ledger_id"]); err != nil {
			return err
		}
	case opBudgetSet:
		created, err := parseTime(f["created"])
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM budgets WHERE dataset = ?`, f["dataset"]).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			err = exec(`INSERT INTO budgets VALUES (?, ?, ?, ?, ?)`, f["dataset"], f["epsilon"], f["delta"], f["period"], created)
		} else {
			err = exec(`UPDATE budgets SET epsilon = ?, delta = ?, period = ?, created = ? WHERE dataset = ?`,
				f["epsilon"], f["delta"], f["period"], created, f["dataset"])
		}
		if err != nil {
			return err
		}
	case opReserved:
		reservedAt, err := parseTime(f["reserved_at"])
		if err != nil {
			return err
		}
		periodStart, err := nullTime(f["period_start"])
		if err != nil {
			return err
		}
		if err := exec(`INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, 'reserved', ?, NULL, NULL, ?, ?, ?, ?)`,
			f["release_id"], f["dataset"], f["job"], f["purpose"], f["epsilon"], f["delta"], reservedAt,
			f["outputs"], f["output_dir"], f["job_sha256"], periodStart); err != nil {
			return err
		}
	case opStored:
		t, err := parseTime(f["stored_at"])
		if err != nil {
			return err
		}
		if err := exec(`UPDATE releases SET state = 'stored', stored_at = ? WHERE release_id = ?`, t, f["release_id"]); err != nil {
			return err
		}
	case opPublished:
		t, err := parseTime(f["published_at"])
		if err != nil {
			return err
		}
		if err := exec(`UPDATE releases SET state = 'published', published_at = ? WHERE release_id = ?`, t, f["release_id"]); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown operation %q", e.Op)
	}
	if err := exec(`UPDATE ledger_meta SET value = ? WHERE key = 'journal_seq'`, strconv.FormatInt(e.Seq, 10)); err != nil {
		return err
	}
	return exec(`UPDATE ledger_meta SET value = ? WHERE key = 'journal_head'`, lineHash)
}

// loadDBState reads the ledger's rows. A file without the ledger's tables
// (just created, or a first write interrupted) is an empty ledger.
func loadDBState(ctx context.Context, db *sql.DB) (*ledgerState, bool, error) {
	st := newState()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name`)
	if err != nil {
		return nil, false, err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, false, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(tables) == 0 {
		return st, false, nil
	}
	if !slices.Equal(tables, ledgerTables) {
		return nil, true, fmt.Errorf("tables %v, want %v", tables, ledgerTables)
	}
	var version sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&version); err != nil {
		return nil, true, err
	}
	if version.Int64 != LedgerSchemaVersion {
		return nil, true, fmt.Errorf("schema version %d: this privagg reads version %d", version.Int64, LedgerSchemaVersion)
	}
	st.schema = strconv.FormatInt(version.Int64, 10)
	meta := map[string]string{}
	if err := scanRows(ctx, db, `SELECT key, value FROM ledger_meta`, func(r *sql.Rows) error {
		var k, v string
		if err := r.Scan(&k, &v); err != nil {
			return err
		}
		meta[k] = v
		return nil
	}); err != nil {
		return nil, true, err
	}
	st.ledgerID, st.headHash = meta["ledger_id"], meta["journal_head"]
	if st.head, err = strconv.ParseInt(meta["journal_seq"], 10, 64); err != nil || st.head < 1 || len(meta) != 3 {
		return nil, true, fmt.Errorf("ledger_meta: want ledger_id, journal_seq >= 1 and journal_head")
	}
	if err := scanRows(ctx, db, `SELECT dataset, epsilon, delta, period, created FROM budgets`, func(r *sql.Rows) error {
		var b budgetRow
		var created time.Time
		if err := r.Scan(&b.Dataset, &b.Epsilon, &b.Delta, &b.Period, &created); err != nil {
			return err
		}
		b.Created = formatTime(created)
		st.budgets[b.Dataset] = b
		return nil
	}); err != nil {
		return nil, true, err
	}
	if err := scanRows(ctx, db, `SELECT release_id, dataset, job, purpose, epsilon, delta, state, reserved_at,
			stored_at, published_at, outputs, output_dir, job_sha256, period_start FROM releases`, func(r *sql.Rows) error {
		var x releaseRow
		var reserved time.Time
		var stored, published, periodStart sql.NullTime
		if err := r.Scan(&x.ReleaseID, &x.Dataset, &x.Job, &x.Purpose, &x.Epsilon, &x.Delta, &x.State, &reserved,
			&stored, &published, &x.Outputs, &x.OutputDir, &x.JobSHA256, &periodStart); err != nil {
			return err
		}
		x.ReservedAt = formatTime(reserved)
		for _, t := range []struct {
			v   sql.NullTime
			dst *string
		}{{stored, &x.StoredAt}, {published, &x.PublishedAt}, {periodStart, &x.PeriodStart}} {
			if t.v.Valid {
				*t.dst = formatTime(t.v.Time)
			}
		}
		st.releases[x.ReleaseID] = x
		return nil
	}); err != nil {
		return nil, true, err
	}
	return st, true, nil
}

func scanRows(ctx context.Context, db *sql.DB, q string, each func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// status computes dataset's budget status at the session's time.
func (s *session) status(dataset string) (BudgetStatus, error) {
	b, ok := s.st.budgets[dataset]
	if !ok {
		return BudgetStatus{}, noBudget(dataset)
	}
	bad := func(err error) (BudgetStatus, error) {
		return BudgetStatus{}, s.damaged("the budget of dataset "+strconv.Quote(dataset), err)
	}
	st := BudgetStatus{Dataset: dataset, Period: b.Period}
	var err error
	if st.EpsilonTotal, err = ParseAmount(b.Epsilon); err != nil {
		return bad(err)
	}
	if st.DeltaTotal, err = ParseAmount(b.Delta); err != nil {
		return bad(err)
	}
	p, err := ParsePeriod(b.Period)
	if err != nil {
		return bad(err)
	}
	start, end, windowed := p.window(s.now)
	if windowed {
		st.PeriodStart, st.PeriodEnd = &start, &end
	}
	for _, r := range s.st.releases {
		if r.Dataset != dataset {
			continue
		}
		rec, err := r.record()
		if err != nil {
			return BudgetStatus{}, s.damaged("release "+strconv.Quote(r.ReleaseID), err)
		}
		// Every state counts: there are no refunds once noise may be drawn.
		if windowed && rec.ReservedAt.Before(start) {
			continue
		}
		st.EpsilonSpent = st.EpsilonSpent.Add(rec.Epsilon)
		st.DeltaSpent = st.DeltaSpent.Add(rec.Delta)
	}
	st.EpsilonRemaining = st.EpsilonTotal.saturatingSub(st.EpsilonSpent)
	st.DeltaRemaining = st.DeltaTotal.saturatingSub(st.DeltaSpent)
	return st, nil
}
