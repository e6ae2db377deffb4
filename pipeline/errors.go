package pipeline

import (
	"fmt"
	"strings"
)

// Exit codes of the privagg command, documented in README.
const (
	ExitOK      = 0
	ExitRuntime = 1 // runtime failure
	ExitConfig  = 2 // config or usage error
	ExitBudget  = 3 // budget refused (privacy.BudgetError)
	ExitInput   = 4 // input rejected
)

// Problem is one rule a job file breaks.
type Problem struct {
	Key   string // config path, e.g. "privacy.epsilon" or "outputs[0].metrics[1].max"
	Value any    // the offending value (never raw event data)
	Rule  string // e.g. "must be > 0"
}

func (p Problem) String() string {
	if p.Value == nil {
		return fmt.Sprintf("%s: %s", p.Key, p.Rule)
	}
	return fmt.Sprintf("%s: %v %s", p.Key, p.Value, p.Rule)
}

// ConfigError reports every problem of a job file at once.
type ConfigError struct {
	File     string
	Problems []Problem
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s: ", e.File)
	}
	if len(e.Problems) == 1 {
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// InputError is returned when the input cannot be used: missing or unreadable
// files, or more malformed rows than max_reject_fraction allows. It never
// carries raw values.
type InputError struct {
	Reason   string
	Read     int64 // rows read
	Rejected int64 // rows rejected
	Err      error
}

func (e *InputError) Error() string {
	msg := "input rejected: " + e.Reason
	if e.Read > 0 || e.Rejected > 0 {
		msg += fmt.Sprintf(" (%d of %d rows rejected)", e.Rejected, e.Read)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *InputError) Unwrap() error { return e.Err }
