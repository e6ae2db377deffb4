package pipeline

import (
	"errors"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// Exit codes of the privagg command, documented in README.
const (
	ExitOK      = 0
	ExitRuntime = 1 // runtime failure
	ExitConfig  = 2 // config or usage error
	ExitBudget  = 3 // budget refused (privacy.BudgetError)
	ExitInput   = 4 // input rejected
)

// ExitCode maps an error of LoadJob or Run to the documented exit code:
// 128 + the signal's number for an *Interrupted (130 SIGINT, 143 SIGTERM),
// ExitConfig for a *ConfigError, ExitBudget for a *privacy.BudgetError,
// ExitInput for an *InputError, ExitRuntime for any other error, ExitOK for
// nil. Commands add their own usage errors on top.
func ExitCode(err error) int {
	var (
		intr   *Interrupted
		cfg    *job.ConfigError
		input  *engine.InputError
		budget *privacy.BudgetError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &intr):
		return intr.ExitCode()
	case errors.As(err, &cfg):
		return ExitConfig
	case errors.As(err, &budget):
		return ExitBudget
	case errors.As(err, &input):
		return ExitInput
	}
	return ExitRuntime
}
