package privacy

import "fmt"

// BudgetError is returned when a release does not fit the dataset's budget, or
// the dataset has no budget. The command exits 3.
type BudgetError struct {
	Dataset string
	Reason  string
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("budget refused for dataset %q: %s", e.Dataset, e.Reason)
}

// LedgerError is returned when the ledger or its journal cannot be opened and
// verified. Nothing is released while it persists (fail closed).
type LedgerError struct {
	Path   string
	Reason string
	Hint   string // how to restore
	Err    error
}

func (e *LedgerError) Error() string {
	msg := fmt.Sprintf("ledger %s: %s", e.Path, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *LedgerError) Unwrap() error { return e.Err }
