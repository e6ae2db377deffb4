package privacy

// The limits of strong privacy. A job or a budget beyond them is weak
// privacy: epsilon above WeakEpsilonAbove lets one person change a released
// table's probabilities by a factor over e^10 (about 22,000), and delta at or
// above WeakDeltaFrom is no longer small against one in the number of people
// of a typical dataset. Commands accept such values only when told to
// (job.CheckStrength and the budget command say how).
const (
	WeakEpsilonAbove = 10.0
	WeakDeltaFrom    = 1e-5
)

// WeakParam is one privacy parameter beyond the limits of strong privacy.
type WeakParam struct {
	Name  string  // "epsilon" or "delta"
	Value float64 // the value given
	Rule  string  // the limit it breaks
}

// WeakParams returns the parameters of epsilon and delta that are weak
// privacy: epsilon above WeakEpsilonAbove, delta at or above WeakDeltaFrom.
// It is the one rule that job files (run, plan, validate) and budget set
// share; nil means both are within the limits.
func WeakParams(epsilon, delta float64) []WeakParam {
	var weak []WeakParam
	if epsilon > WeakEpsilonAbove {
		weak = append(weak, WeakParam{Name: "epsilon", Value: epsilon,
			Rule: "is above " + FormatNumber(WeakEpsilonAbove) + ": weak privacy"})
	}
	if delta >= WeakDeltaFrom {
		weak = append(weak, WeakParam{Name: "delta", Value: delta,
			Rule: "is at or above " + FormatNumber(WeakDeltaFrom) + ": weak privacy"})
	}
	return weak
}
