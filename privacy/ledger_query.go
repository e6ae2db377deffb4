package privacy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/privagg/privagg/internal/hint"
)

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
		st, err = s.check(dataset, eps, del)
		return err
	})
	return st, err
}

// check is Check within session s.
func (s *session) check(dataset string, eps, del Amount) (BudgetStatus, error) {
	st, err := s.status(dataset)
	if err != nil {
		return st, err
	}
	return st, fits(st, eps, del)
}

// Preflight answers in one read session what a run asks of the ledger
// before it reads any data: the release releaseID (nil if the ledger has
// none) and whether epsilon and delta would fit dataset's budget now, as
// Check decides it. fit is Check's error (nil if they fit, a *BudgetError if
// not); err is the ledger's own (damaged, busy, unreadable). Each session
// opens the ledger file and verifies it against the journal, so asking
// once instead of twice saves a run one such verification.
func (l *Ledger) Preflight(ctx context.Context, releaseID, dataset string, epsilon, delta float64) (rec *ReleaseRecord, fit, err error) {
	eps, del, err := requestAmounts(epsilon, delta)
	if err != nil {
		return nil, nil, fmt.Errorf("check budget of dataset %q: %w", dataset, err)
	}
	err = l.withSession(ctx, false, func(s *session) error {
		if rec, err = s.lookup(releaseID); err != nil {
			return err
		}
		_, fit = s.check(dataset, eps, del)
		var de *LedgerError
		if errors.As(fit, &de) {
			return fit // a damaged budget is the ledger's error, not a refusal
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return rec, fit, nil
}

// LookupStatus returns, in one read session, the release releaseID and the
// budget status of its dataset (with the release charged): what the release
// report shows. A release the ledger does not have is ErrUnknownRelease.
func (l *Ledger) LookupStatus(ctx context.Context, releaseID string) (*ReleaseRecord, BudgetStatus, error) {
	var (
		rec *ReleaseRecord
		st  BudgetStatus
	)
	err := l.withSession(ctx, false, func(s *session) error {
		var err error
		if rec, err = s.lookup(releaseID); err != nil {
			return err
		}
		if rec == nil {
			return fmt.Errorf("release %s: %w", releaseID, ErrUnknownRelease)
		}
		st, err = s.status(rec.Dataset)
		return err
	})
	if err != nil {
		return nil, BudgetStatus{}, err
	}
	return rec, st, nil
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
	// ConsentWaiver is the job's consent.waived reason, from the journal;
	// empty when the job applied consent.
	ConsentWaiver string `json:"consent_waiver,omitempty"`
	// JobDigest is the digest of the job that reserved the release (see
	// CheckJob); empty for releases reserved before privagg recorded it.
	JobDigest string `json:"job_digest,omitempty"`
	// WritingAt is when noised values of the release may first have
	// reached disk (MarkWriting); nil before, and for releases stored
	// before privagg recorded it.
	WritingAt *time.Time `json:"writing_at,omitempty"`
	// RepublishedAt is when the published release was last published
	// again (MarkRepublished); nil if it never was.
	RepublishedAt *time.Time `json:"republished_at,omitempty"`
	// Files are the release store's files with their SHA-256 and which of
	// them are published, recorded by MarkStored; nil before the release
	// is stored, and for releases stored before privagg recorded them.
	Files *StoredFiles `json:"files,omitempty"`
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
	var rec *ReleaseRecord
	err := l.withSession(ctx, false, func(s *session) error {
		var err error
		rec, err = s.lookup(releaseID)
		return err
	})
	return rec, err
}

// lookup is Lookup within session s.
func (s *session) lookup(releaseID string) (*ReleaseRecord, error) {
	for _, r := range s.st.releases {
		if r.ReleaseID != releaseID {
			continue
		}
		rec, err := r.record()
		if err != nil {
			return nil, s.damaged("release "+r.ReleaseID, err)
		}
		return &rec, nil
	}
	return nil, nil
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

// status computes dataset's budget status at the session's time.
func (s *session) status(dataset string) (BudgetStatus, error) {
	b, ok := s.st.budgets[dataset]
	if !ok {
		return BudgetStatus{}, noBudget(s.l.path, dataset)
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
	if start, end, windowed := p.window(s.now); windowed {
		st.PeriodStart, st.PeriodEnd = &start, &end
	}
	if st.EpsilonSpent, st.DeltaSpent, err = s.spent(dataset, p); err != nil {
		return BudgetStatus{}, err
	}
	st.EpsilonRemaining = st.EpsilonTotal.saturatingSub(st.EpsilonSpent)
	st.DeltaRemaining = st.DeltaTotal.saturatingSub(st.DeltaSpent)
	return st, nil
}

// spent adds up the charges of dataset's releases that count in the current
// period p. Every state counts: there are no refunds once noise may be drawn.
func (s *session) spent(dataset string, p Period) (eps, del Amount, err error) {
	start, _, windowed := p.window(s.now)
	for _, r := range s.st.releases {
		if r.Dataset != dataset {
			continue
		}
		rec, err := r.record()
		if err != nil {
			return eps, del, s.damaged("release "+strconv.Quote(r.ReleaseID), err)
		}
		if windowed && rec.ReservedAt.Before(start) {
			continue
		}
		eps, del = eps.Add(rec.Epsilon), del.Add(rec.Delta)
	}
	return eps, del, nil
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
	var short []string
	if eps.Cmp(st.EpsilonRemaining) > 0 {
		short = append(short, "epsilon")
	}
	if del.Cmp(st.DeltaRemaining) > 0 {
		short = append(short, "delta")
	}
	// Amounts print as every command prints them (FormatNumber), unless
	// rounding would make a request look equal to what remains: then exact.
	show := Amount.Format
	if eps.Format() == st.EpsilonRemaining.Format() && eps.Cmp(st.EpsilonRemaining) != 0 ||
		del.Format() == st.DeltaRemaining.Format() && del.Cmp(st.DeltaRemaining) != 0 {
		show = Amount.String
	}
	return &BudgetError{Dataset: st.Dataset, Reason: fmt.Sprintf(
		"not enough %s: requested epsilon %s, delta %s; spent epsilon %s of %s, delta %s of %s %s; remaining epsilon %s, delta %s",
		strings.Join(short, " and "), show(eps), show(del), show(st.EpsilonSpent), show(st.EpsilonTotal), show(st.DeltaSpent),
		show(st.DeltaTotal), in, show(st.EpsilonRemaining), show(st.DeltaRemaining))}
}

// noBudget is the refusal of a dataset without a budget in the ledger at
// ledgerPath, with the command that sets one.
func noBudget(ledgerPath, dataset string) error {
	return &BudgetError{Dataset: dataset, Reason: fmt.Sprintf(
		"dataset %q has no budget; set one with %s", dataset, hint.SetBudget(ledgerPath, dataset))}
}
