package privacy

import (
	"context"
	"errors"
	"fmt"
)

// The journal's hash chain has no key: whoever may write the ledger and its
// journal (the pipeline account) can rewrite both consistently, every hash
// recomputed, and the ledger still verifies. A key does not help where the
// pipeline account appends most entries (every run reserves, stores and
// publishes), since it would have to hold the key. The anchor is therefore
// outside the ledger: the head (the SHA-256 of the journal's last line,
// which fixes every line before it through the prev chain) is printed by
// `budget set` and `budget verify`; a privacy officer keeps a copy where the
// pipeline account cannot write, and VerifyHead checks later that the
// journal still passes through it. See docs/ledger.md, "The threat model".

// ErrHeadNotFound: the journal does not pass through a head recorded
// earlier, so the history up to that head was rewritten (or the head is of
// another ledger).
var ErrHeadNotFound = errors.New("the journal does not contain the recorded head")

// HeadCheck is what VerifyHead found about a recorded head.
type HeadCheck struct {
	Head string // the head checked
	Seq  int64  // the journal entry whose line it is the hash of
	// Entries is the number of journal entries now; Entries - Seq were
	// appended after the head was recorded.
	Entries int64
	// BudgetChanges are the budget changes appended after the head, oldest
	// first: they are what an officer did not anchor yet.
	BudgetChanges []BudgetChange
}

// ValidateHead checks that head is a journal head as printed: 64 lower-case
// hex digits.
func ValidateHead(head string) error {
	if !sha256HexRE.MatchString(head) {
		return fmt.Errorf("head %q: must be the 64 lower-case hex digits of a journal head, as budget verify prints it", head)
	}
	return nil
}

// VerifyHead verifies the ledger like Verify and then checks that head, a
// journal head recorded earlier, is the hash of one of the journal's lines:
// every entry up to it is unchanged since it was recorded. If not, it
// returns a *LedgerError wrapping ErrHeadNotFound.
func (l *Ledger) VerifyHead(ctx context.Context, head string) (HeadCheck, error) {
	if err := ValidateHead(head); err != nil {
		return HeadCheck{}, err
	}
	hc := HeadCheck{Head: head}
	err := l.withSession(ctx, false, func(s *session) error {
		hc.Entries = int64(len(s.j.entries))
		for i, h := range s.j.lineHashes {
			if h == head {
				hc.Seq = int64(i) + 1
				break
			}
		}
		if hc.Seq == 0 {
			return &LedgerError{Path: l.path, Err: ErrHeadNotFound,
				Reason: fmt.Sprintf("none of the journal's %d lines has the head %s recorded earlier: the journal and the ledger "+
					"were rewritten after it was recorded, or it is the head of another ledger", hc.Entries, head),
				Hint: restoreHint(l.path)}
		}
		var err error
		hc.BudgetChanges, err = s.budgetChangesAfter(hc.Seq, "")
		return err
	})
	return hc, err
}

// budgetChangesAfter returns the budget changes in the journal's applied
// entries after entry seq (0: all), of dataset ("": every dataset).
func (s *session) budgetChangesAfter(seq int64, dataset string) ([]BudgetChange, error) {
	var out []BudgetChange
	for _, e := range s.j.entries[:s.st.head] {
		if e.Seq <= seq || e.Op != opBudgetSet || (dataset != "" && e.Fields["dataset"] != dataset) {
			continue
		}
		c, err := budgetChangeOf(e)
		if err != nil {
			return nil, s.damaged("the journal", fmt.Errorf("entry %d: %w", e.Seq, err))
		}
		out = append(out, c)
	}
	return out, nil
}
