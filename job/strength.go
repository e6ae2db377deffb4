package job

import "github.com/privagg/privagg/privacy"

// CheckStrength returns a *ConfigError naming privacy.epsilon or
// privacy.delta, or both, when the job's parameters are weak privacy
// (privacy.WeakParams: epsilon above 10, delta at or above 1e-5). run, plan
// and validate call it unless --allow-weak-privacy is given.
func (j *Job) CheckStrength() error {
	weak := privacy.WeakParams(j.Privacy.Epsilon, j.Privacy.Delta)
	if len(weak) == 0 {
		return nil
	}
	e := &ConfigError{File: j.File}
	for _, w := range weak {
		e.Problems = append(e.Problems, Problem{Key: "privacy." + w.Name, Value: privacy.FormatNumber(w.Value), Rule: w.Rule + AllowWeakAdvice})
	}
	return e
}

// AllowWeakAdvice follows the rule of a weak privacy parameter
// (privacy.WeakParam) in the commands' messages.
const AllowWeakAdvice = "; pass --allow-weak-privacy to accept it"
