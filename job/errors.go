package job

import (
	"fmt"
	"strings"
)

// Problem is one rule a job file breaks.
type Problem struct {
	Key   string // config path, e.g. "privacy.epsilon" or "outputs[0].metrics[1].max"
	Value any    // the offending value (never raw event data)
	Rule  string // e.g. "must be > 0"
	Err   error  // the cause, when a check function stated the rule; optional
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

// Unwrap returns the causes of the problems that have one.
func (e *ConfigError) Unwrap() []error {
	var errs []error
	for _, p := range e.Problems {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// FlagError is the *ConfigError of a command-line flag (or another setting
// outside the job file) that breaks a rule: name is the flag, e.g.
// "--memory-limit", and err, whose text is the rule, is wrapped.
func FlagError(name string, value any, err error) *ConfigError {
	return &ConfigError{Problems: []Problem{{Key: name, Value: value, Rule: err.Error(), Err: err}}}
}
