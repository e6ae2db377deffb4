// Package hint formats the privagg commands that messages suggest, so that
// each runs as printed: every argument is quoted for a POSIX shell when it
// needs it, and the values only the reader can choose are the upper-case
// placeholders below (the hint test in cmd/privagg fills them in and runs
// every hint).
package hint

import "strings"

// Placeholders for what the reader of a hint chooses.
const (
	Epsilon = "EPSILON" // a budget's epsilon
	Delta   = "DELTA"   // a budget's delta
	Reason  = "REASON"  // why a budget changes
	Dataset = "DATASET" // a dataset name
)

// Command returns `privagg ARGS...` in backquotes, each argument quoted for
// a POSIX shell when it holds anything but letters, digits and -_./:=@+,%.
func Command(args ...string) string {
	var b strings.Builder
	b.WriteString("`privagg")
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(Quote(a))
	}
	b.WriteByte('`')
	return b.String()
}

// Quote returns s as one POSIX shell word: as it is when it is safe, else in
// single quotes, with each single quote inside written as a closing quote,
// a backslash-escaped quote and an opening quote.
func Quote(s string) string {
	if s != "" && strings.Trim(s, safeChars) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

const safeChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,%"

// SetBudget is the command that sets dataset's budget in the ledger at
// ledgerPath (an absolute path, so the hint works from any folder).
func SetBudget(ledgerPath, dataset string) string {
	return Command("budget", "set", dataset, "--ledger", ledgerPath, "--epsilon", Epsilon, "--delta", Delta, "--reason", Reason)
}

// Verify is the command that verifies the ledger at ledgerPath.
func Verify(ledgerPath string) string {
	return Command("budget", "verify", "--ledger", ledgerPath)
}
