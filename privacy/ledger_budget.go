package privacy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// BudgetRequest is a change of a dataset's budget (see SetBudget), with who
// made it and why, both recorded in the journal.
type BudgetRequest struct {
	Dataset        string
	Epsilon, Delta float64
	Period         string
	// SetBy is who changes the budget; "" records OSUser.
	SetBy string
	// Reason says why; may be empty (the privagg command requires one).
	Reason string
	// BelowSpent allows a budget below what the dataset has already spent
	// in its current period (under the new period); without it such a
	// change is refused with ErrBelowSpent.
	BelowSpent bool
}

// ErrBelowSpent: a budget change would set a total below what the dataset
// has already spent in the current period. Spends are never refunded, so
// such a budget leaves nothing to spend; ChangeBudget refuses it unless
// BudgetRequest.BelowSpent is set.
var ErrBelowSpent = errors.New("budget below what is already spent")

// maxReasonLen bounds a budget change's reason (bytes).
const maxReasonLen = 1000

// ChangeBudget sets (or replaces) a budget like SetBudget and records
// req.SetBy and req.Reason with the change.
func (l *Ledger) ChangeBudget(ctx context.Context, req BudgetRequest) error {
	dataset := req.Dataset
	if err := validateDataset(dataset); err != nil {
		return fmt.Errorf("set budget: %w", err)
	}
	eps, err := budgetEpsilon(req.Epsilon)
	if err != nil {
		return fmt.Errorf("set budget of dataset %q: epsilon: %w", dataset, err)
	}
	del, err := budgetDelta(req.Delta)
	if err != nil {
		return fmt.Errorf("set budget of dataset %q: delta: %w", dataset, err)
	}
	p, err := ParsePeriod(req.Period)
	if err != nil {
		return fmt.Errorf("set budget of dataset %q: %w", dataset, err)
	}
	setBy := req.SetBy
	if setBy == "" {
		setBy = OSUser()
	}
	for _, f := range []struct{ name, v string }{{"who", setBy}, {"reason", req.Reason}} {
		if err := validateNote(f.v); err != nil {
			return fmt.Errorf("set budget of dataset %q: %s: %w", dataset, f.name, err)
		}
	}
	return l.withSession(ctx, true, func(s *session) error {
		if !req.BelowSpent {
			if err := s.checkNotBelowSpent(dataset, eps, del, p); err != nil {
				return err
			}
		}
		return s.apply(ctx, opBudgetSet, map[string]string{
			"dataset": dataset,
			"epsilon": eps.String(),
			"delta":   del.String(),
			"period":  p.String(),
			"created": formatTime(s.now),
			"set_by":  setBy,
			"reason":  req.Reason,
		})
	})
}

// checkNotBelowSpent returns an error wrapping ErrBelowSpent if a budget of
// eps and del per period p would be below what dataset has spent in p's
// current period.
func (s *session) checkNotBelowSpent(dataset string, eps, del Amount, p Period) error {
	spentEps, spentDel, err := s.spent(dataset, p)
	if err != nil {
		return err
	}
	var below []string
	if eps.Cmp(spentEps) < 0 {
		below = append(below, fmt.Sprintf("epsilon %s is below the epsilon %s", eps, spentEps))
	}
	if del.Cmp(spentDel) < 0 {
		below = append(below, fmt.Sprintf("delta %s is below the delta %s", del, spentDel))
	}
	if len(below) == 0 {
		return nil
	}
	return fmt.Errorf("set budget of dataset %q: %s already spent in the current period (spends are never refunded, "+
		"so no job could run): %w", dataset, strings.Join(below, " and "), ErrBelowSpent)
}

// validateNote checks a who or reason text: printable, at most maxReasonLen
// bytes.
func validateNote(s string) error {
	if len(s) > maxReasonLen {
		return fmt.Errorf("%d bytes: at most %d", len(s), maxReasonLen)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%q: must not contain control characters", s)
		}
	}
	return nil
}

// budgetSetFields are a budget_set entry's fields: the first five in every
// entry, set_by and reason in those written since privagg records who and
// why (older entries keep their five fields and their hashes).
var budgetSetFields = []string{"dataset", "epsilon", "delta", "period", "created", "set_by", "reason"}

// budgetSetValues returns a budget_set entry's values in budgetSetFields
// order, with "" for set_by and reason in an older entry.
func budgetSetValues(fields map[string]string) ([]string, error) {
	if len(fields) == len(budgetSetFields) {
		return fieldsOf(fields, budgetSetFields...)
	}
	v, err := fieldsOf(fields, budgetSetFields[:5]...)
	if err != nil {
		return nil, err
	}
	return append(v, "", ""), nil
}

// BudgetChange is one change of a dataset's budget, from the journal.
type BudgetChange struct {
	Seq     int64     `json:"seq"` // the journal entry
	Time    time.Time `json:"time"`
	Dataset string    `json:"dataset"`
	Epsilon Amount    `json:"epsilon"`
	Delta   Amount    `json:"delta"`
	Period  string    `json:"period"`
	// SetBy is the operating-system account that made the change, and Reason
	// why; both empty for changes recorded before privagg kept them.
	SetBy  string `json:"set_by"`
	Reason string `json:"reason"`
}

// BudgetChanges returns every change of dataset's budget, oldest first.
func (l *Ledger) BudgetChanges(ctx context.Context, dataset string) ([]BudgetChange, error) {
	var out []BudgetChange
	err := l.withSession(ctx, false, func(s *session) error {
		var err error
		out, err = s.budgetChangesAfter(0, dataset)
		return err
	})
	return out, err
}

// budgetChangeOf decodes a budget_set entry.
func budgetChangeOf(e journalEntry) (BudgetChange, error) {
	v, err := budgetSetValues(e.Fields)
	if err != nil {
		return BudgetChange{}, err
	}
	c := BudgetChange{Seq: e.Seq, Dataset: v[0], Period: v[3], SetBy: v[5], Reason: v[6]}
	if c.Epsilon, err = ParseAmount(v[1]); err == nil {
		c.Delta, err = ParseAmount(v[2])
	}
	if err == nil {
		c.Time, err = parseTime(v[4])
	}
	return c, err
}

// readOnlyError is what a change of a ledger opened WithReadOnly returns.
func (l *Ledger) readOnlyError() error {
	return fmt.Errorf("ledger %s: opened read-only: it cannot be changed", l.path)
}
