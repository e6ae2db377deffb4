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

// PermissionError is returned when this user may not read (or write) a file
// a command needs: the ledger, its journal, their folder, or a published
// folder. Nothing is wrong with the files; the command exits 1.
type PermissionError struct {
	Path string // the first file or folder this user cannot use
	Need string // "read" or "write"
	What string // everything the command needs that access to
	Err  error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("permission denied on %s: this command needs %s access to %s", e.Path, e.Need, e.What)
}

func (e *PermissionError) Unwrap() error { return e.Err }
